# A `work --forever` whose PostgreSQL connection is cut (a server restart, a
# network blip) says so, connects again and goes on: work queued afterwards is
# still done by it.
export WSP_CATALOG_BACKEND=postgres
source "$(dirname "$0")/work_lib.sh"

sample --out all --count 3 --megapixels 0.5
mkdir shoot
mv all/IMG_0001.JPG all/IMG_0002.JPG shoot/
wsp run shoot 2>first.err || { cat first.err >&2; fail "the first run failed"; }
# The worker's catalog connection is told apart by its application name.
PGAPPNAME=wsp-lost-worker start_worker w work --forever shoot
wait_event w.jsonl '.event == "work.waiting"'

killed=$(psql "$WSPORTFOLIO_CATALOG_URL" -qAtc "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'wsp-lost-worker'")
[ "$killed" -ge 1 ] || fail "the worker's connection was not found"
wait_event w.jsonl '.event == "work.reconnected"' 60
grep -q 'connection' w.err || fail "the lost connection is not reported: $(cat w.err)"
if grep -qi 'password' w.err; then fail "a password in the messages"; fi
kill -0 "$worker" 2>/dev/null || fail "the worker ended with the connection"

mv all/IMG_0003.JPG shoot/
wsp ingest shoot 2>ingest.err || { cat ingest.err >&2; fail "ingest failed"; }
wait_event w.jsonl '.event == "item" and .stage == "render" and (.file | endswith("IMG_0003.JPG"))' 60
stop_worker "$worker"
expect_eq "$code" 130 "exit code after SIGTERM"
# Its end is recorded on the connection made again, not lost with the first.
expect_eq "$(sql shoot "select count(*) from runs where command = 'work' and finished_ms is null")" 0 "work runs left open"
echo ok
