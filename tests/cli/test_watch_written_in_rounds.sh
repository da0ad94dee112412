# A file written in several open-write-close rounds (an SMB client, rsync
# --inplace, a tethering tool writing in chunks) is not taken at its first
# close: while it is cut short and still changing within watch.stable_ms it
# is waited for, never reported as truncated, and ingested once, complete.
source "$(dirname "$0")/watch_lib.sh"

make_project 3000
sample --out stock --count 1 --megapixels 1
start_watch w watch proj
wait_for w.jsonl '.event == "watch.started"'

# Four rounds, each opening the file, writing a quarter and closing it, 300 ms
# apart: longer than a batch takes to start, and so much shorter than
# stable_ms that a loaded machine cannot stretch a pause past it.
photo=stock/IMG_0001.JPG
chunk=$((($(stat -c %s $photo) + 3) / 4))
for i in 0 1 2 3; do
  dd if=$photo of=proj/IMG_0001.JPG bs=$chunk skip="$i" seek="$i" count=1 conv=notrunc status=none
  sleep 0.3
done
cmp -s $photo proj/IMG_0001.JPG || fail "the copy is not the photo"

wait_for w.jsonl '.event == "item" and .stage == "ingest" and .file == "IMG_0001.JPG"'
wait_idle w.jsonl 1
expect_eq "$(count w.jsonl '.event == "problem"')" 0 "problems reported"
expect_eq "$(count w.jsonl '.event == "item" and .stage == "ingest" and .file == "IMG_0001.JPG"')" 1 "ingests of the photo"
expect_eq "$(events w.jsonl '.event == "item" and .stage == "ingest" and .file == "IMG_0001.JPG"' | jq -r .outcome)" \
  added "the photo's outcome"
expect_eq "$(sql proj "select status from images where path='IMG_0001.JPG'")" active "catalog status"
stop_watch
expect_eq "$code" 130 "exit code after SIGTERM"
echo ok
