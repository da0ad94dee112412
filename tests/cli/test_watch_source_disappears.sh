# A watched folder that disappears (an unmounted share) is waited for, with a
# clear message and without busy-looping; when it is back, it is watched again
# and its photos are processed, and nothing was marked missing meanwhile.
source "$(dirname "$0")/watch_lib.sh"

make_project 300 incoming
sample --out stock --count 2 --megapixels 1
start_watch w watch proj
wait_for w.jsonl '.event == "watch.started"'
cp stock/IMG_0001.JPG proj/incoming/
wait_for w.jsonl '.event == "item" and .stage == "ingest" and .file == "incoming/IMG_0001.JPG"'
wait_idle w.jsonl 1

mv proj/incoming unmounted
wait_for w.jsonl '.event == "watch.waiting"'
expect_grep "incoming: gone" w.err "the message"
cpu_before=$(awk '{print $14 + $15}' /proc/"$watcher"/stat)
sleep 2
cpu_after=$(awk '{print $14 + $15}' /proc/"$watcher"/stat)
# Clock ticks (1/100 s) spent in 2 s of waiting: a busy loop would use ~200.
[ $((cpu_after - cpu_before)) -lt 60 ] || fail "the watcher used $((cpu_after - cpu_before)) ticks while waiting"

mv unmounted proj/incoming
cp stock/IMG_0002.JPG proj/incoming/
wait_for w.jsonl '.event == "watch.recovered"' 40
wait_for w.jsonl '.event == "item" and .stage == "ingest" and .file == "incoming/IMG_0002.JPG"'
expect_eq "$(sql proj "select count(*) from images where status='missing'")" 0 "images marked missing"
expect_eq "$(sql proj "select count(*) from images where status='active'")" 2 "images"
stop_watch
expect_eq "$code" 130 "exit code"
echo ok
