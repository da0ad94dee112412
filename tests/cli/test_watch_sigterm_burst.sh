# SIGTERM while a burst is being processed loses nothing: the watcher finishes
# what was complete and exits 130, and a following `run` has nothing to do.
source "$(dirname "$0")/watch_lib.sh"

make_project 300
sample --out stock --count 10 --megapixels 1
start_watch w watch proj
wait_for w.jsonl '.event == "watch.started"'
for photo in stock/*.JPG; do cp "$photo" proj/; done
wait_for w.jsonl '.event == "watch.batch"'
idle_before=$(count w.jsonl '.event == "watch.idle"')
stop_watch
expect_eq "$code" 130 "exit code after SIGTERM"
[ "$idle_before" -gt 0 ] && echo "note: the first batch was done before the signal" >&2
expect_eq "$(count w.jsonl '.event == "watch.stopped"')" 1 "watch.stopped"

wsp --json run proj >run.jsonl 2>run.err || { cat run.err >&2; fail "run after the watcher failed"; }
expect_eq "$(events run.jsonl '.event == "ingest.completed"' | jq -r '.unchanged')" 10 "unchanged in the next run"
expect_eq "$(events run.jsonl '.event == "ingest.completed"' | jq -r '.added + .changed')" 0 "added in the next run"
expect_eq "$(events run.jsonl '.event == "render.completed"' | jq -r '.rendered')" 0 "rendered by the next run"
expect_eq "$(events run.jsonl '.event == "tag.completed"' | jq -r '.tagged')" 0 "tagged by the next run"
expect_eq "$(sql proj "select count(*) from runs where finished_ms is null")" 0 "runs closed"
echo ok
