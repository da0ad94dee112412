# A webhook endpoint's circuit outlives the process: five `webhooks test`
# runs against a failing receiver open it between them, the sixth sends
# nothing, and `status` shows it open with its last error; once its time is
# up (the clock moved on with faketime) one probe goes out, `status` shows the
# circuit half-open while the receiver holds that probe, and its success
# closes the circuit.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/webhooks_lib.sh"
require jq "read the JSON lines"
require faketime "move the clock past the circuit's open time"

start_receiver
sample --out shoot --count 1 --megapixels 1
endpoint="$base/outage"
cat >shoot/wsportfolio.yaml <<YAML
webhooks:
  - { url: "$endpoint", secret_env: WEBHOOK_SECRET, events: [test.ping] }
YAML
wsp ingest shoot 2>/dev/null

circuit() {
  wsp status shoot --json | jq -r --arg e "$endpoint" \
    "select(.event == \"status.circuit\" and .kind == \"webhook\" and .name == \$e) | $1"
}
sent() { if [ -f received.jsonl ]; then jq -r 'select(.path == "/outage") | .id' received.jsonl | wc -l; else echo 0; fi; }

touch down
for i in 1 2 3 4 5; do
  wsp_code webhooks test -C shoot "$endpoint" >test$i.out 2>test$i.err
  expect_eq "$code" 1 "test $i against the failing receiver"
done
expect_eq "$(sent)" 5 "five attempts reached the receiver"
expect_eq "$(circuit '"\(.state) \(.consecutive_failures)"')" "open 5" "opened by five failures in a row, one per process"
expect_eq "$(circuit .last_error)" "POST $endpoint: HTTP 500" "the circuit's last error"
wsp status shoot >status.txt
expect_grep "$endpoint: .*circuit open" status.txt "the backlog line shows the circuit"
expect_grep "webhook  $endpoint open, 5 failure(s) in a row; last error: POST $endpoint: HTTP 500" status.txt "the circuits section"

wsp_code webhooks test -C shoot "$endpoint" >test6.out 2>test6.err
expect_eq "$code" 1 "test while the circuit is open"
expect_grep "circuit open" test6.err "the test says why nothing went"
expect_eq "$(sent)" 5 "nothing sent while the circuit is open"

# The receiver recovers but holds the next request; a minute later one probe goes out.
rm down
touch holding
faketime -f "+60s" "$WSP_BIN" --no-progress webhooks deliver -C shoot --json >deliver.jsonl 2>deliver.err &
deliverer=$!
for _ in $(seq 100); do [ "$(sent)" -gt 5 ] && break; sleep 0.1; done
expect_eq "$(sent)" 6 "one probe reached the receiver"
expect_eq "$(circuit .state)" "half-open" "half-open while its probe is out"
rm holding
wait "$deliverer" || fail "deliver with the probe: $(cat deliver.err)"
expect_eq "$(circuit '"\(.state) \(.consecutive_failures)"')" "closed 0" "closed by the probe's success"
expect_eq "$(sent)" 6 "only the probe went out while half-open"
expect_eq "$(jq -r 'select(.path == "/outage") | .held' received.jsonl | tail -1)" true "the probe was the held request"

# Closed again: the next test goes straight through.
wsp webhooks test -C shoot "$endpoint" >test7.out 2>test7.err
expect_grep "HTTP 200" test7.out "delivered once closed"
expect_eq "$(circuit .state)" "closed" "still closed"
