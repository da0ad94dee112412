# A photo deleted from a watched folder, or a folder of photos moved out of
# it, leaves the catalog and the gallery with the next batch; a photo put
# back is taken again.
source "$(dirname "$0")/watch_lib.sh"

make_project 300
sample --out stock --count 4 --megapixels 1
mkdir -p proj/ceremony
cp stock/IMG_0001.JPG stock/IMG_0002.JPG proj/
cp stock/IMG_0003.JPG stock/IMG_0004.JPG proj/ceremony/
start_watch w watch proj
wait_for w.jsonl '.event == "publish.completed" and .images == 4'

expect_grep "img-0001" proj/.wsportfolio/public/index.html "the gallery before the deletion"
rm proj/IMG_0001.JPG
wait_for w.jsonl '.event == "publish.completed" and .images == 3'
expect_eq "$(sql proj "select status from images where path='IMG_0001.JPG'")" missing "the deleted photo"
expect_no_grep "img-0001" proj/.wsportfolio/public/index.html "the gallery after a deletion"

mv proj/ceremony moved-away
wait_for w.jsonl '.event == "publish.completed" and .images == 1'
expect_eq "$(sql proj "select group_concat(status) from images where path like 'ceremony/%'")" "missing,missing" \
  "the photos of the folder moved away"

cp stock/IMG_0001.JPG proj/
wait_for w.jsonl '.event == "publish.completed" and .images == 2'
expect_eq "$(sql proj "select status from images where path='IMG_0001.JPG'")" active "the photo put back"
expect_eq "$(count w.jsonl '.event == "problem" or .event == "warning"')" 0 "problems or warnings"
stop_watch
expect_eq "$code" 130 "exit code"
echo ok
