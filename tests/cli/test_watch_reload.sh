# SIGHUP reloads the config: an invalid one is rejected with file:line and the
# old one kept (the watcher goes on working); a valid one is taken.
source "$(dirname "$0")/watch_lib.sh"

make_project 300
sample --out stock --count 2 --megapixels 1
start_watch w watch proj
wait_for w.jsonl '.event == "watch.started"'

cp proj/wsportfolio.yaml good.yaml
sed 's/stable_ms:/stable_msec:/' good.yaml >proj/wsportfolio.yaml
kill -HUP "$watcher"
wait_for w.jsonl '.event == "watch.reload_failed"'
expect_grep "wsportfolio.yaml:[0-9]" w.err "file:line of the error"
expect_grep "stable_msec" w.err "the key named"
kill -0 "$watcher" || fail "the watcher stopped on a bad config"
cp stock/IMG_0001.JPG proj/
wait_for w.jsonl '.event == "item" and .stage == "ingest" and .file == "IMG_0001.JPG"'

sed 's/stable_ms: 300/stable_ms: 250/' good.yaml >proj/wsportfolio.yaml
kill -HUP "$watcher"
wait_for w.jsonl '.event == "watch.reloaded"'
cp stock/IMG_0002.JPG proj/
wait_for w.jsonl '.event == "item" and .stage == "ingest" and .file == "IMG_0002.JPG"'
stop_watch
expect_eq "$code" 130 "exit code"
echo ok
