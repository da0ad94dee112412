# Folders created under a watched source are watched too, at any depth, with
# the files written into them before and after their watch began.
source "$(dirname "$0")/watch_lib.sh"

make_project 300
sample --out stock --count 2 --megapixels 1
start_watch w watch proj
wait_for w.jsonl '.event == "watch.started"'

mkdir -p proj/day2/ceremony
cp stock/IMG_0001.JPG proj/day2/ceremony/
wait_for w.jsonl '.event == "item" and .stage == "ingest" and .file == "day2/ceremony/IMG_0001.JPG"'
sleep 0.5
cp stock/IMG_0002.JPG proj/day2/ceremony/
wait_for w.jsonl '.event == "item" and .stage == "ingest" and .file == "day2/ceremony/IMG_0002.JPG"'
expect_eq "$(sql proj "select count(*) from images where path like 'day2/ceremony/%' and status='active'")" 2 \
  "photos of the new folder in the catalog"
expect_eq "$(count w.jsonl '.event == "item" and .stage == "ingest" and (.file | startswith(".wsportfolio"))')" 0 \
  "the state folder watched"
stop_watch
expect_eq "$code" 130 "exit code"
echo ok
