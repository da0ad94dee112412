# --poll (network shares, where inotify misses other machines' writes) finds
# new files by looking every SECONDS, takes each once stable, exactly once,
# and sees a file again that was taken away and put back.
source "$(dirname "$0")/watch_lib.sh"

make_project 300
sample --out stock --count 2 --megapixels 1
start_watch w watch --poll 1 proj
wait_for w.jsonl '.event == "watch.started" and .mode == "poll" and .poll_seconds == 1'
cp stock/IMG_0001.JPG proj/
wait_for w.jsonl '.event == "item" and .stage == "ingest" and .file == "IMG_0001.JPG"'
cp stock/IMG_0002.JPG proj/
wait_for w.jsonl '.event == "item" and .stage == "ingest" and .file == "IMG_0002.JPG"'
# Two more looks: an unchanged file is not taken again.
wait_count w.jsonl '.event == "watch.polled"' $(($(count w.jsonl '.event == "watch.polled"') + 2))
expect_eq "$(count w.jsonl '.event == "item" and .stage == "ingest"')" 2 "ingest items"
expect_eq "$(count w.jsonl '.event == "watch.batch"')" 2 "batches"
# A file taken away is missing at the next look; put back as it was (same
# size and date), it is new again.
mv proj/IMG_0001.JPG stock/away.jpg
wait_for w.jsonl '.event == "item" and .stage == "ingest" and .file == "IMG_0001.JPG" and .outcome == "missing"'
expect_eq "$(sql proj "select status from images where path='IMG_0001.JPG'")" missing "the file taken away"
mv stock/away.jpg proj/IMG_0001.JPG
wait_idle w.jsonl 4
wait_count w.jsonl '.event == "watch.polled"' $(($(count w.jsonl '.event == "watch.polled"') + 2))
expect_eq "$(count w.jsonl '.event == "watch.batch"')" 4 "batches once the file is back"
expect_eq "$(sql proj "select status from images where path='IMG_0001.JPG'")" active "the file put back"
stop_watch
expect_eq "$code" 130 "exit code"
echo ok
