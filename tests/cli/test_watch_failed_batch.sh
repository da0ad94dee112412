# A batch that fails as a whole (here the gallery template breaks while the
# watcher runs) is reported, and the watcher keeps going: once the template is
# mended, the next photo brings both into the gallery.
repo=$(cd "$(dirname "$0")/../.." && pwd)
source "$(dirname "$0")/watch_lib.sh"

make_project 300
cp -r "$repo/configs/gallery/default" proj/tpl
printf 'publish:\n  gallery:\n    template: tpl\n' >>proj/wsportfolio.yaml
sample --out stock --count 2 --megapixels 1
start_watch w watch proj
wait_for w.jsonl '.event == "watch.started"'

cp proj/tpl/index.html index.good
printf '{{#photos}} never closed\n' >proj/tpl/index.html
cp stock/IMG_0001.JPG proj/
wait_for w.jsonl '.event == "watch.batch_failed"'
expect_grep "watch: the batch failed" w.err "the failure is reported"
kill -0 "$watcher" || fail "the watcher stopped after a failed batch"

cp index.good proj/tpl/index.html
cp stock/IMG_0002.JPG proj/
wait_for w.jsonl '.event == "publish.completed" and .images == 2'
stop_watch
expect_eq "$code" 130 "exit code"
echo ok
