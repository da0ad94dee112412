# One watcher per project: a second one exits 2 and names the holder.
source "$(dirname "$0")/watch_lib.sh"

make_project 300
start_watch w watch proj
wait_for w.jsonl '.event == "watch.started"'
wsp_code watch proj 2>second.err
expect_eq "$code" 2 "exit code of the second watcher"
expect_grep "pid $watcher on $(hostname)" second.err "the holder named"
expect_grep "watch.lock" second.err "the lock file named"
kill -0 "$watcher" || fail "the first watcher stopped"
stop_watch
expect_eq "$code" 130 "exit code of the first"
# Once it is gone, a watcher can start again.
wsp_code watch --once proj 2>third.err
expect_eq "$code" 0 "a watcher after the first stopped"
echo ok
