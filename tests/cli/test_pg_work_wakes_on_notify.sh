# An idle `work --forever` on PostgreSQL LISTENs: a photo ingested by another
# process NOTIFYs it in the ingest's commit, and it starts rendering within
# moments, far sooner than its fallback look (30 s).
export WSP_CATALOG_BACKEND=postgres
source "$(dirname "$0")/work_lib.sh"

sample --out all --count 3 --megapixels 0.5
mkdir shoot
mv all/IMG_0001.JPG all/IMG_0002.JPG shoot/
wsp run shoot 2>first.err || { cat first.err >&2; fail "the first run failed"; }
start_worker w work --forever shoot
wait_event w.jsonl '.event == "work.waiting"'
waiting_since=$(date +%s%N)

mv all/IMG_0003.JPG shoot/
wsp ingest shoot 2>ingest.err || { cat ingest.err >&2; fail "ingest failed"; }
queued=$(date +%s%N)
wait_event w.jsonl '.event == "item" and .stage == "render" and (.file | endswith("IMG_0003.JPG"))' 20
picked=$(date +%s%N)
latency_ms=$(((picked - queued) / 1000000))
echo "picked up $latency_ms ms after the ingest, $(((queued - waiting_since) / 1000000)) ms into the wait" >&2
[ "$latency_ms" -lt 5000 ] || fail "the new photo was picked up after $latency_ms ms: not woken by the notice"
expect_eq "$(count_events w.jsonl '.event == "work.woken"')" 1 "woken by the notice once"
stop_worker "$worker"
expect_eq "$code" 130 "exit code after SIGTERM"
echo ok
