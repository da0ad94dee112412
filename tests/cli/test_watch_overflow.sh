# When the kernel's event queue overflows while a batch is processed, the
# watcher says so, takes its watches again and goes on: a photo dropped
# afterwards into a folder created during the overflow is still processed.
source "$(dirname "$0")/watch_lib.sh"
limit=$(cat /proc/sys/fs/inotify/max_queued_events 2>/dev/null || echo 16384)
[ "$limit" -le 100000 ] || skip "the inotify queue holds $limit events; too many to overflow here"

make_project 300
sample --out stock --count 5 --megapixels 12
start_watch w watch proj
wait_for w.jsonl '.event == "watch.started"'

cp stock/IMG_000[1-4].JPG proj/
wait_for w.jsonl '.event == "watch.batch"'
# While the batch runs nobody reads the queue: fill it past its limit with
# scratch names in the watched folder (ignored), then create the folder whose
# event is lost.
(cd proj && seq "$limit" | sed 's/$/.tmp/' | xargs touch)
mkdir proj/late
wait_idle w.jsonl 1
for _ in $(seq 100); do grep -q "dropped file events" w.err && break; sleep 0.1; done
grep -q "dropped file events" w.err || skip "the batch ended before the queue overflowed"
# Watched again from scratch, then caught up: the new folder is watched by now.
wait_for w.jsonl '.event == "watch.caught_up"'
cp stock/IMG_0005.JPG proj/late/
wait_for w.jsonl '.event == "publish.completed" and .images == 5' 60
stop_watch
expect_eq "$code" 130 "exit code"
echo ok
