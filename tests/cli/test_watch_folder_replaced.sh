# A folder deleted and copied back while the watcher runs is never read as a
# folder: its files are taken one by one, each once complete, so a copy still
# in progress is not rejected as truncated; what did not come back is missing.
source "$(dirname "$0")/watch_lib.sh"

# The copy in progress is held open, cut short, while the watcher handles the
# deletion, publishes and says so, and this script notices: far longer than
# 300 ms on a loaded machine, after which the stability wait would take it
# half-written. The complete file is taken at its close, whatever stable_ms.
make_project 5000
sample --out stock --count 2 --megapixels 1
mkdir -p proj/day1
cp stock/IMG_0001.JPG stock/IMG_0002.JPG proj/day1/
start_watch w watch proj
wait_for w.jsonl '.event == "publish.completed" and .images == 2'

rm -r proj/day1
mkdir proj/day1
exec 3>proj/day1/IMG_0001.JPG
head -c 30000 stock/IMG_0001.JPG >&3
wait_for w.jsonl '.event == "item" and .stage == "ingest" and .file == "day1/IMG_0002.JPG" and .outcome == "missing"'
tail -c +30001 stock/IMG_0001.JPG >&3
exec 3>&-
wait_for w.jsonl '.event == "item" and .stage == "ingest" and .file == "day1/IMG_0001.JPG" and .outcome != "missing"'
wait_idle w.jsonl 3
expect_eq "$(count w.jsonl '.event == "problem"')" 0 "problems (a partial copy read)"
expect_eq "$(sql proj "select status from images where path='day1/IMG_0001.JPG'")" active "the photo copied back"
expect_eq "$(sql proj "select status from images where path='day1/IMG_0002.JPG'")" missing "the photo not copied back"
stop_watch
expect_eq "$code" 130 "exit code"
echo ok
