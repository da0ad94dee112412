# kill -9 between the commit of the events and their delivery: the next
# process delivers exactly the deliveries the catalog holds, each with the
# webhook-id it had, and nothing twice once delivered.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/webhooks_lib.sh"
require jq "read the JSON lines"
require sqlite3 "read the outbox"

start_receiver

sample --out shoot --count 2 --megapixels 1
# /hold answers only after 5 s while `holding` exists: run is killed while it waits.
touch holding
cat >shoot/wsportfolio.yaml <<YAML
webhooks:
  - { url: "$base/hold", secret_env: WEBHOOK_SECRET, events: [run.started, run.completed], timeout_seconds: 2 }
YAML

"$WSP_BIN" --no-progress run shoot >run.out 2>run.err &
run=$!
for _ in $(seq 600); do [ -s received.jsonl ] && break; sleep 0.1; done
[ -s received.jsonl ] || fail "run sent nothing: $(cat run.err)"
kill -9 $run
wait $run 2>/dev/null || true
expect_eq "$(sql shoot "SELECT count(*) FROM events WHERE kind IN ('run.started', 'run.completed')")" 2 "both events committed"
expect_eq "$(sql shoot "SELECT count(*) FROM webhook_deliveries WHERE state = 'delivered'")" 0 "none recorded as delivered"
first_ids=$(jq -r .id received.jsonl | sort -u)
rm holding

# The killed run's claims run out (its timeout + 10 s); the next process sends them.
wsp webhooks deliver -C shoot --wait 30 >deliver.out 2>deliver.err
expect_eq "$(sql shoot "SELECT count(*) FROM webhook_deliveries WHERE state = 'delivered'")" 2 "both delivered"
catalog_ids=$(sql shoot "SELECT message_id FROM webhook_deliveries ORDER BY message_id")
expect_eq "$(jq -r 'select(.held | not) | .id' received.jsonl | sort)" "$catalog_ids" "each delivery answered exactly once"
for id in $first_ids; do
  grep -q "$id" <<<"$catalog_ids" || fail "$id sent before the kill is not a delivery of the catalog"
done
expect_eq "$(jq -s 'all(.valid)' received.jsonl)" true "every signature checks out"

# Nothing is due any more: another deliver sends nothing.
before=$(wc -l <received.jsonl)
wsp webhooks deliver -C shoot
expect_eq "$(wc -l <received.jsonl)" "$before" "nothing sent again"
