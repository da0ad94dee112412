# SIGHUP makes `watch` take up its webhook endpoints again without a restart:
# after the config names another endpoint, a photo dropped in the hot folder
# brings publish.completed to the new endpoint, and nothing more to the old.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/watch_lib.sh"
source "$here/webhooks_lib.sh"
start_receiver
trap 'kill $receiver 2>/dev/null; [ -z "$watcher" ] || kill -KILL "$watcher" 2>/dev/null || true; rm -rf "$work"' EXIT

make_project 300
cp proj/wsportfolio.yaml base.yaml
hook() { cat base.yaml - >proj/wsportfolio.yaml <<YAML
webhooks:
  - { url: "$base/$1", secret_env: WEBHOOK_SECRET, events: [publish.completed] }
YAML
}
received() { if [ -f received.jsonl ]; then jq -r --arg p "$1" 'select(.path == $p and .type == "publish.completed") | .id' received.jsonl | wc -l; else echo 0; fi; }
wait_received() {
  for _ in $(seq 300); do [ "$(received "$1")" -ge "$2" ] && return 0; sleep 0.1; done
  fail "$1 did not get $2 publish.completed"
}
hook before
sample --out stock --count 2 --megapixels 1
start_watch w watch proj
wait_for w.jsonl '.event == "watch.started"'
cp stock/IMG_0001.JPG proj/
wait_received /before 1

hook after
kill -HUP "$watcher"
wait_for w.jsonl '.event == "watch.reloaded"'
cp stock/IMG_0002.JPG proj/
wait_received /after 1
expect_eq "$(received /before)" 1 "nothing more to the endpoint no longer configured"
jq -e -s 'all(.valid)' received.jsonl >/dev/null || fail "a signature did not check out"
kill -0 "$watcher" || fail "the watcher exited"
stop_watch
