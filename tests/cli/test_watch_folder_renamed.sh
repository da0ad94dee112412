# A folder renamed inside a source is one batch: its photos are moved, keep
# their identity, and never leave the gallery in between.
source "$(dirname "$0")/watch_lib.sh"

make_project 300
sample --out stock --count 2 --megapixels 1
mkdir -p proj/ceremony
cp stock/IMG_0001.JPG stock/IMG_0002.JPG proj/ceremony/
start_watch w watch proj
wait_for w.jsonl '.event == "publish.completed" and .images == 2'
id=$(sql proj "select id from images where path='ceremony/IMG_0001.JPG'")

mv proj/ceremony proj/ceremony-kiss
wait_for w.jsonl '.event == "item" and .stage == "ingest" and .file == "ceremony-kiss/IMG_0002.JPG"'
wait_for w.jsonl '.event == "publish.completed" and .put > 0'
expect_eq "$(events w.jsonl '.event == "item" and .stage == "ingest" and (.file | startswith("ceremony-kiss/"))' |
  jq -r .outcome | sort -u)" moved "ingest outcomes of the renamed folder"
expect_eq "$(sql proj "select id from images where path='ceremony-kiss/IMG_0001.JPG'")" "$id" "the photo's identity"
expect_eq "$(count w.jsonl '.event == "publish.completed" and .images < 2')" 0 "publishes without the photos"
stop_watch
expect_eq "$code" 130 "exit code"
echo ok
