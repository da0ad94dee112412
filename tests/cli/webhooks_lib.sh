# For the webhook scenarios: the scripted receiver (webhooks_receiver.py) on
# 127.0.0.1, which checks every signature with its own implementation.
require python3 "run the scripted webhook receiver"

# Starts it with a fresh WEBHOOK_SECRET; `base` is its address. It is stopped
# when the test ends.
start_receiver() {
  export WEBHOOK_SECRET="whsec_$(head -c 24 /dev/urandom | base64)"
  python3 "$here/webhooks_receiver.py" port received.jsonl 2>receiver.err &
  receiver=$!
  trap 'kill $receiver 2>/dev/null; rm -rf "$work"' EXIT
  for _ in $(seq 100); do [ -f port ] && break; sleep 0.1; done
  [ -f port ] || fail "the receiver did not start: $(cat receiver.err)"
  base="http://127.0.0.1:$(cat port)"
}
