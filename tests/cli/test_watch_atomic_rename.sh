# A writer that copies to a temporary name and renames it into place triggers
# exactly one job; the temporary name is never taken; the same content under
# a second name is linked as a duplicate, not rendered again.
source "$(dirname "$0")/watch_lib.sh"

make_project 300
sample --out stock --count 1 --megapixels 1
start_watch w watch proj
wait_for w.jsonl '.event == "watch.started"'

cp stock/IMG_0001.JPG proj/IMG_0001.JPG.part
sleep 1  # over three times stable_ms: a .part taken by the stability check would be processed now
expect_eq "$(count w.jsonl '.event == "watch.batch"')" 0 "batches while only the .part exists"
mv proj/IMG_0001.JPG.part proj/IMG_0001.JPG
wait_idle w.jsonl 1
sleep 1
expect_eq "$(count w.jsonl '.event == "watch.batch"')" 1 "batches"
expect_eq "$(events w.jsonl '.event == "watch.batch"' | jq -r '.paths | length')" 1 "files in the batch"
expect_eq "$(count w.jsonl '.event == "item" and .stage == "ingest" and .outcome == "added"')" 1 "ingests"
expect_eq "$(sql proj "select count(*) from images where path like '%.part'")" 0 ".part in the catalog"

cp proj/IMG_0001.JPG proj/IMG_0001-copy.JPG
wait_idle w.jsonl 2
expect_eq "$(count w.jsonl '.event == "item" and .stage == "ingest" and .file == "IMG_0001-copy.JPG" and .outcome == "duplicate"')" 1 \
  "the copy linked as a duplicate"
expect_eq "$(sql proj "select count(*) from jobs where stage='render'")" 1 "render jobs for the same content"
stop_watch
expect_eq "$code" 130 "exit code"
echo ok
