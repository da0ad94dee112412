# A file deleted before it is processed is dropped without an error, whether
# it was complete or still being written, and the watcher keeps going.
source "$(dirname "$0")/watch_lib.sh"

# A stable_ms far longer than the pause below, so that a slow machine does
# not let the stability wait take the file being written before it is gone.
make_project 3000
sample --out stock --count 3 --megapixels 1
start_watch w watch proj
wait_for w.jsonl '.event == "watch.started"'

# Complete, then gone before the debounce is over. The batch's debounce is
# 20 ms, less than starting `rm` can take on a loaded machine: the watcher is
# held still meanwhile, and finds the close and the deletion queued together.
kill -STOP "$watcher"
cp stock/IMG_0001.JPG proj/IMG_0001.JPG && rm proj/IMG_0001.JPG
kill -CONT "$watcher"
# Being written (the writer keeps it open), then gone.
exec 3>proj/IMG_0002.JPG
head -c 20000 stock/IMG_0002.JPG >&3
sleep 0.3
rm proj/IMG_0002.JPG
exec 3>&-
# Taken only by the stability wait: anything still tracked is processed first.
barrier w.jsonl stock/IMG_0003.JPG IMG_0003.JPG
wait_idle w.jsonl 1
expect_eq "$(batch_names w.jsonl)" '["IMG_0003.JPG"]' "batches"

kill -0 "$watcher" || fail "the watcher stopped"
expect_eq "$(count w.jsonl '.event == "problem" or .event == "warning"')" 0 "problems or warnings"
expect_eq "$(sql proj "select count(*) from images where path in ('IMG_0001.JPG', 'IMG_0002.JPG')")" 0 \
  "deleted files in the catalog"
expect_eq "$(sql proj "select status from images where path='IMG_0003.JPG'")" active "the next file"
expect_no_grep "error" w.err "messages"
stop_watch
expect_eq "$code" 130 "exit code"
echo ok
