# A watcher whose PostgreSQL lock connection is cut (a server restart, a
# network blip) notices it at its next heartbeat or batch and takes the lock
# again, so that a second watcher is still refused; it goes on watching.
export WSP_CATALOG_BACKEND=postgres
source "$(dirname "$0")/watch_lib.sh"

make_project 300
sample --out stock --count 2 --megapixels 0.5
mkdir -p proj/day1
cp stock/IMG_0001.JPG proj/day1/
start_watch w watch proj
wait_for w.jsonl '.event == "publish.completed" and .images == 1'

killed=$(psql "$WSPORTFOLIO_CATALOG_URL" -qAtc "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name LIKE 'wsportfolio pid $watcher %'")
[ "$killed" -ge 1 ] || fail "the watcher's lock connection was not found"
wait_for w.jsonl '.event == "watch.lock_lost"'
wait_for w.jsonl '.event == "watch.lock_retaken"'
set +e
"$WSP_BIN" --no-progress watch proj >second.out 2>second.err
second=$?
set -e
[ "$second" -ne 0 ] || fail "a second watcher started while the first holds the lock again"
grep -q "another watcher is running" second.err || fail "the second watcher does not name the first: $(cat second.err)"

cp stock/IMG_0002.JPG proj/day1/
wait_for w.jsonl '.event == "publish.completed" and .images == 2'
stop_watch
expect_eq "$code" 130 "exit code"
echo ok
