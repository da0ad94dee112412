# A file written in small chunks by a writer that keeps it open (a copy over
# SMB, a tethering tool) is taken only once complete: never rejected as
# truncated, ingested exactly once.
source "$(dirname "$0")/watch_lib.sh"

make_project 2000
sample --out stock --count 2 --megapixels 1
start_watch w watch proj
wait_for w.jsonl '.event == "watch.started"'

# 32 chunks, 250 ms apart: every pause is an eighth of stable_ms (a loaded
# machine may stretch one by well over a second), the whole write four times
# it. A check that did not restart on growth would take the file half-written.
photo=stock/IMG_0001.JPG
chunk=$((($(stat -c %s $photo) + 31) / 32))
{ for i in $(seq 0 31); do dd if=$photo bs=$chunk skip="$i" count=1 status=none; sleep 0.25; done; } >proj/IMG_0001.JPG
cmp -s $photo proj/IMG_0001.JPG || fail "the copy is not the photo"
wait_idle w.jsonl 1
# A second, wrong, batch of the photo would come before this one.
barrier w.jsonl stock/IMG_0002.JPG barrier.JPG
expect_eq "$(batch_names w.jsonl | tr '\n' ' ')" '["IMG_0001.JPG"] ["barrier.JPG"] ' "batches"

expect_eq "$(count w.jsonl '.event == "problem"')" 0 "problems reported"
expect_eq "$(count w.jsonl '.event == "item" and .stage == "ingest" and .file == "IMG_0001.JPG"')" 1 "ingests of the photo"
expect_eq "$(count w.jsonl '.event == "item" and .stage == "ingest" and .file == "IMG_0001.JPG" and .outcome == "added"')" 1 \
  "the photo added"
expect_eq "$(sql proj "select status from images where path='IMG_0001.JPG'")" active "catalog status"
expect_eq "$(sql proj "select count(*) from jobs j join images i on i.id = j.image_id where i.path = 'IMG_0001.JPG' and j.stage = 'render' and j.state = 'done'")" \
  1 "rendered"
stop_watch
expect_eq "$code" 130 "exit code after SIGTERM"
echo ok
