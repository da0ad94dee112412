# A folder deleted and made again, whose first batch finds it empty (taken as
# a share that is not mounted: nothing is marked missing), and only then gets
# a file back: the photo that did not come back is still marked missing, and
# the one copied back is taken once complete.
source "$(dirname "$0")/watch_lib.sh"

make_project 300
sample --out stock --count 2 --megapixels 1
mkdir -p proj/day1
cp stock/IMG_0001.JPG stock/IMG_0002.JPG proj/day1/
start_watch w watch proj
wait_for w.jsonl '.event == "publish.completed" and .images == 2'

idle=$(count w.jsonl '.event == "watch.idle"')
rm -r proj/day1
mkdir proj/day1
for _ in $(seq 300); do
  grep -q 'taken as a share that is not mounted' w.err && break
  kill -0 "$watcher" 2>/dev/null || fail "the watcher exited"
  sleep 0.1
done
grep -q 'taken as a share that is not mounted' w.err || fail "the empty folder was not taken as an unmounted share"
wait_idle w.jsonl $((idle + 1))
expect_eq "$(sql proj "select status from images where path='day1/IMG_0002.JPG'")" active "held back while the folder is empty"

cp stock/IMG_0001.JPG proj/day1/
wait_for w.jsonl '.event == "item" and .stage == "ingest" and .file == "day1/IMG_0002.JPG" and .outcome == "missing"'
wait_for w.jsonl '.event == "item" and .stage == "ingest" and .file == "day1/IMG_0001.JPG" and .outcome != "missing"'
expect_eq "$(count w.jsonl '.event == "problem"')" 0 "problems"
expect_eq "$(sql proj "select status from images where path='day1/IMG_0002.JPG'")" missing "the photo not copied back"
stop_watch
expect_eq "$code" 130 "exit code"
echo ok
