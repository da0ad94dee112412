# Two hosts share a PostgreSQL catalog; one's clock is ten minutes ahead
# (faketime). Leases are timed by the database's clock, so the host ahead
# never takes the other's live claims for expired ones: together the two
# runs decode and render each image exactly once.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
require jq "read the events"
require faketime "run a worker with its clock ahead"
[ -n "${WSPORTFOLIO_CATALOG_URL:-}" ] || use_postgres

sample --out shoot --count 24 --megapixels 2
wsp ingest shoot 2>/dev/null
images=$(sql shoot "select count(*) from images where status='active'")
expect_eq "$images" 24 "images ingested"

"$WSP_BIN" --no-progress --json -j 1 run shoot >a.jsonl 2>a.err & a=$!
# Only the wall clock is off: the files' times stay as the share has them
# (NO_FAKE_STAT) and timers keep real time (FAKETIME_DONT_FAKE_MONOTONIC).
NO_FAKE_STAT=1 FAKETIME_DONT_FAKE_MONOTONIC=1 faketime -f "+10m" "$WSP_BIN" --no-progress --json -j 1 run shoot >b.jsonl 2>b.err & b=$!
set +e
wait "$a"; code_a=$?
wait "$b"; code_b=$?
set -e
[ "$code_a" -eq 0 ] || { cat a.err >&2; fail "the run on time exited $code_a"; }
[ "$code_b" -eq 0 ] || { cat b.err >&2; fail "the run ahead exited $code_b"; }

field() { jq -r "select(.event == \"render.completed\") | .$2" "$1"; }
echo "rendered: $(field a.jsonl rendered) on time, $(field b.jsonl rendered) ahead" >&2
[ "$(field a.jsonl rendered)" -gt 0 ] && [ "$(field b.jsonl rendered)" -gt 0 ] ||
  echo "note: one run did all the work; the runs hardly overlapped" >&2
expect_eq "$(($(field a.jsonl decodes) + $(field b.jsonl decodes)))" "$images" "decodes of both runs together"
expect_eq "$(sql shoot "select count(*) from events where kind='image.rendered'")" "$images" \
  "one image.rendered event per image"
expect_eq "$(sql shoot "select count(*) from jobs where stage='render' and state='done' and attempts = 1")" "$images" \
  "every render job claimed once"
echo ok
