# One watcher per project across hosts: two watchers on one PostgreSQL
# catalog, each with its own copy of the project (so no lock file is shared,
# as on two machines); the second exits 2 naming the first.
export WSP_CATALOG_BACKEND=postgres
source "$(dirname "$0")/watch_lib.sh"

make_project 300
cp -a proj other-host
start_watch w watch proj
wait_for w.jsonl '.event == "watch.started"'
# (Bounded: a second watcher that is not refused watches until stopped.)
set +e
timeout 60 "$WSP_BIN" --no-progress watch other-host 2>second.err
code=$?
set -e
expect_eq "$code" 2 "exit code of the second watcher"
expect_grep "another watcher is running: pid $watcher on $(hostname)" second.err "the holder named"
expect_grep "postgresql catalog" second.err "the catalog that holds the lock named"
kill -0 "$watcher" || fail "the first watcher stopped"
stop_watch
expect_eq "$code" 130 "exit code of the first"
# Its connection gone, the lock is free: the other host may watch now.
wsp_code watch --once other-host 2>third.err
expect_eq "$code" 0 "a watcher on the other host after the first stopped"
echo ok
