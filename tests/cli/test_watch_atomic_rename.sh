# A writer that copies to a temporary name and renames it into place triggers
# exactly one job; the temporary name is never taken; the same content under
# a second name is linked as a duplicate, not rendered again.
source "$(dirname "$0")/watch_lib.sh"

make_project 300
sample --out stock --count 3 --megapixels 1
start_watch w watch proj
wait_for w.jsonl '.event == "watch.started"'

cp stock/IMG_0001.JPG proj/IMG_0001.JPG.part
barrier w.jsonl stock/IMG_0002.JPG barrier-1.JPG
expect_eq "$(batch_names w.jsonl)" '["barrier-1.JPG"]' "batches while only the .part exists"
mv proj/IMG_0001.JPG.part proj/IMG_0001.JPG
wait_idle w.jsonl 2
barrier w.jsonl stock/IMG_0003.JPG barrier-2.JPG
expect_eq "$(batch_names w.jsonl | tr '\n' ' ')" '["barrier-1.JPG"] ["IMG_0001.JPG"] ["barrier-2.JPG"] ' "batches"
expect_eq "$(count w.jsonl '.event == "item" and .stage == "ingest" and .file == "IMG_0001.JPG"')" 1 "ingests of the photo"
expect_eq "$(events w.jsonl '.event == "item" and .stage == "ingest" and .file == "IMG_0001.JPG"' | jq -r .outcome)" \
  added "the photo's outcome"
expect_eq "$(sql proj "select count(*) from images where path like '%.part'")" 0 ".part in the catalog"

wait_idle w.jsonl 3
cp proj/IMG_0001.JPG proj/IMG_0001-copy.JPG
wait_idle w.jsonl 4
expect_eq "$(count w.jsonl '.event == "item" and .stage == "ingest" and .file == "IMG_0001-copy.JPG" and .outcome == "duplicate"')" 1 \
  "the copy linked as a duplicate"
expect_eq "$(sql proj "select count(*) from jobs j join images i on i.id = j.image_id where j.stage = 'render' and i.sha256 = (select sha256 from images where path = 'IMG_0001.JPG')")" \
  1 "render jobs for the same content"
stop_watch
expect_eq "$code" 130 "exit code"
echo ok
