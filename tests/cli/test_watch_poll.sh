# --poll (network shares, where inotify misses other machines' writes) finds
# new files by looking every SECONDS, takes each once stable, exactly once.
source "$(dirname "$0")/watch_lib.sh"

make_project 300
sample --out stock --count 2 --megapixels 1
start_watch w watch --poll 1 proj
wait_for w.jsonl '.event == "watch.started" and .mode == "poll" and .poll_seconds == 1'
cp stock/IMG_0001.JPG proj/
wait_for w.jsonl '.event == "item" and .stage == "ingest" and .file == "IMG_0001.JPG"'
cp stock/IMG_0002.JPG proj/
wait_for w.jsonl '.event == "item" and .stage == "ingest" and .file == "IMG_0002.JPG"'
sleep 2.5  # two more looks: an unchanged file is not taken again
expect_eq "$(count w.jsonl '.event == "item" and .stage == "ingest"')" 2 "ingest items"
expect_eq "$(count w.jsonl '.event == "watch.batch"')" 2 "batches"
stop_watch
expect_eq "$code" 130 "exit code"
echo ok
