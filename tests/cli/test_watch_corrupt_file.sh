# A corrupt photo dropped in is rejected with its reason; the watcher keeps
# going and processes the next good one.
source "$(dirname "$0")/watch_lib.sh"

make_project 300
sample --out stock --count 1 --megapixels 1
start_watch w watch proj
wait_for w.jsonl '.event == "watch.started"'

head -c 30000 stock/IMG_0001.JPG >proj/broken.jpg
wait_for w.jsonl '.event == "problem" and .file == "broken.jpg"'
wait_idle w.jsonl 1
cp stock/IMG_0001.JPG proj/good.jpg
wait_idle w.jsonl 2
expect_eq "$(sql proj "select status from images where path='broken.jpg'")" rejected "the corrupt file"
expect_eq "$(sql proj "select status from images where path='good.jpg'")" active "the good file"
expect_eq "$(sql proj "select count(*) from jobs j join images i on i.id = j.image_id where i.path='good.jpg' and j.stage='render' and j.state='done'")" 1 \
  "the good file rendered"
stop_watch
expect_eq "$code" 130 "exit code"
echo ok
