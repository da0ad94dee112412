# A watcher started on a project already processed takes only what changed
# while nobody watched: the photos the catalog has as they are make no batch,
# a photo deleted meanwhile leaves the catalog and the gallery, and the next
# photo dropped in is a batch of its own.
source "$(dirname "$0")/watch_lib.sh"

make_project 300
sample --out proj --count 3 --megapixels 1
sample --out stock --count 4 --megapixels 1
wsp run proj >/dev/null 2>run.err || { cat run.err >&2; fail "the first run"; }
rm proj/IMG_0002.JPG

start_watch w watch proj
wait_for w.jsonl '.event == "watch.caught_up"'
expect_eq "$(sql proj "select status from images where path='IMG_0002.JPG'")" missing "the photo deleted meanwhile"
expect_eq "$(events w.jsonl '.event == "publish.completed"' | jq -r '.images')" 2 "photos in the gallery after catching up"
expect_no_grep "IMG_0002" proj/.wsportfolio/public/index.html "the gallery"

cp stock/IMG_0004.JPG proj/IMG_0004.JPG
wait_for w.jsonl '.event == "publish.completed" and .images == 3'
expect_eq "$(events w.jsonl '.event == "watch.batch"' | head -1 | jq -c '.paths | map(split("/") | last)')" \
  '["IMG_0004.JPG"]' "the first batch"
expect_eq "$(events w.jsonl '.event == "item" and .stage == "ingest"' | jq -r '.file' | sort | tr '\n' ' ')" \
  "IMG_0002.JPG IMG_0004.JPG " "files ingested by the watcher"
stop_watch
expect_eq "$code" 130 "exit code"
echo ok
