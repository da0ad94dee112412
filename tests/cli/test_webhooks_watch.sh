# While `watch` runs, the events its batches commit are delivered from the
# background: a photo dropped in the hot folder brings publish.completed to a
# receiver that checks the signature, while the watcher goes on running.
source "$(dirname "$0")/watch_lib.sh"
require python3 "the scripted webhook receiver"

export WEBHOOK_SECRET="whsec_$(head -c 24 /dev/urandom | base64)"
python3 "$(dirname "$0")/webhooks_receiver.py" port received.jsonl 2>receiver.err &
receiver=$!
trap 'kill $receiver 2>/dev/null; [ -z "$watcher" ] || kill -KILL "$watcher" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do [ -f port ] && break; sleep 0.1; done
[ -f port ] || fail "the receiver did not start: $(cat receiver.err)"

make_project 300
cat >>proj/wsportfolio.yaml <<YAML
webhooks:
  - { url: "http://127.0.0.1:$(cat port)/ok", secret_env: WEBHOOK_SECRET, events: [publish.completed] }
YAML
sample --out stock --count 1 --megapixels 1
start_watch w watch proj
wait_for w.jsonl '.event == "watch.started"'
cp stock/*.JPG proj/
wait_for w.jsonl '.event == "publish.completed"' 60
for _ in $(seq 100); do [ -s received.jsonl ] && break; sleep 0.1; done
expect_eq "$(jq -r .type received.jsonl)" "publish.completed" "delivered while watching"
expect_eq "$(jq -r .valid received.jsonl)" true "signed"
kill -0 "$watcher" || fail "the watcher exited"
stop_watch
expect_eq "$(sql proj "SELECT state FROM webhook_deliveries")" delivered "recorded as delivered"
