# A burst of 40 photos copied in at once is processed in a few batches, so the
# gallery is rewritten a few times, not 40; every photo reaches the gallery.
source "$(dirname "$0")/watch_lib.sh"

make_project 300
sample --out stock --count 40 --megapixels 1
start_watch w watch proj
wait_for w.jsonl '.event == "watch.started"'

cp stock/*.JPG proj/
for _ in $(seq 600); do
  [ "$(events w.jsonl '.event == "publish.completed"' | jq -s 'map(.images) | max // 0')" = 40 ] && break
  kill -0 "$watcher" 2>/dev/null || { cat w.err >&2; fail "the watcher exited"; }
  sleep 0.1
done
expect_eq "$(events w.jsonl '.event == "publish.completed"' | jq -s 'map(.images) | max // 0')" 40 "photos in the gallery"
batches=$(count w.jsonl '.event == "watch.batch"')
publishes=$(count w.jsonl '.event == "publish.completed"')
[ "$batches" -le 5 ] || fail "40 photos copied at once took $batches batches"
expect_eq "$publishes" "$batches" "one publish per batch"
expect_eq "$(events w.jsonl '.event == "watch.batch"' | jq -s 'map(.files) | add')" 40 "files in all batches"
stop_watch
expect_eq "$code" 130 "exit code"
echo ok
