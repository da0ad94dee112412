# SIGTERM ends a busy `work --forever` cleanly: exit 130, its run recorded as
# interrupted, and the renders it had claimed handed back at once (not left
# to their leases), so another worker finishes them, each photo rendered once.
export WSP_CATALOG_BACKEND=postgres
source "$(dirname "$0")/work_lib.sh"

sample --out shoot --count 30 --megapixels 2
wsp ingest shoot 2>ingest.err || { cat ingest.err >&2; fail "ingest failed"; }
start_worker w -j 1 work --forever shoot
wait_event w.jsonl '.event == "item" and .stage == "render"'
stop_worker "$worker"
expect_eq "$code" 130 "exit code after SIGTERM"
expect_eq "$(sql shoot "select count(*) from jobs where state='running'")" 0 "claims handed back"
expect_eq "$(sql shoot "select exit_code from runs where command='work --forever'")" 130 "the run recorded as interrupted"
rendered=$(sql shoot "select count(*) from events where kind='image.rendered'")
[ "$rendered" -lt 30 ] || fail "the worker rendered everything before SIGTERM"

wsp_code work shoot 2>rest.err
[ "$code" -eq 0 ] || { cat rest.err >&2; fail "the second worker exited $code"; }
expect_eq "$(sql shoot "select count(*) from events where kind='image.rendered'")" 30 "one render per photo"
expect_eq "$(sql shoot "select count(distinct image_id) from events where kind='image.rendered'")" 30 \
  "every photo rendered"
echo ok
