# Signed webhooks to a scripted receiver on 127.0.0.1 that checks every
# signature with its own implementation: delivered, retried after a 500 on
# the schedule, a 503's Retry-After honoured, 410 disabling the endpoint
# until `webhooks enable`, a timeout, a refused connection dead-lettered after
# its last attempt (the waits fast-forwarded in the catalog), retry and
# replay, the same webhook-id throughout, and the secret nowhere.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/webhooks_lib.sh"
require jq "read the JSON lines"
require sqlite3 "fast-forward the delivery schedule"

start_receiver
# A port nobody listens on: bound, then closed.
refused_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

sample --out shoot --count 2 --megapixels 1
cat >shoot/wsportfolio.yaml <<YAML
webhooks:
  - { url: "$base/ok", secret_env: WEBHOOK_SECRET, events: [run.started, run.completed, test.ping] }
  - { url: "$base/flaky", secret_env: WEBHOOK_SECRET, events: [run.completed] }
  - { url: "$base/busy", secret_env: WEBHOOK_SECRET, events: [run.completed] }
  - { url: "$base/gone", secret_env: WEBHOOK_SECRET, events: [run.completed] }
  - { url: "$base/slow", secret_env: WEBHOOK_SECRET, events: [run.completed], timeout_seconds: 1 }
  - { url: "http://127.0.0.1:$refused_port/hook", secret_env: WEBHOOK_SECRET, events: [run.completed] }
YAML

received() { jq -r --arg p "$1" "select(.path == \$p) | .$2" received.jsonl; }
state_of() { sql shoot "SELECT state || ' ' || attempts FROM webhook_deliveries WHERE endpoint = '$1'"; }

wsp_code run shoot --json >run.jsonl 2>run.err
expect_eq "$code" 0 "run"
expect_eq "$(received /ok type | sort | tr '\n' ' ')" "run.completed run.started " "/ok got both events at the end of run"
expect_eq "$(received /ok status | sort -u)" 200 "/ok answered"
expect_eq "$(jq -s 'all(.valid)' received.jsonl)" true "every signature checks out"
expect_eq "$(state_of "$base/ok" | sort -u)" "delivered 1" "/ok delivered"
expect_eq "$(state_of "$base/flaky")" "pending 1" "/flaky after its 500"
expect_eq "$(state_of "$base/gone")" "dead 1" "/gone after its 410"
expect_eq "$(sql shoot "SELECT disabled_reason FROM webhook_endpoints WHERE url = '$base/gone'")" "410 Gone" "disabled"
expect_eq "$(state_of "$base/slow")" "pending 1" "/slow timed out"
expect_grep "timed out\|Timeout\|timeout" <(sql shoot "SELECT last_error FROM webhook_deliveries WHERE endpoint = '$base/slow'") "the timeout recorded"
expect_eq "$(state_of "http://127.0.0.1:$refused_port/hook")" "pending 1" "refused"
# The run's data: counts per stage, seconds.
payload_run=$(sql shoot "SELECT detail FROM events WHERE kind = 'run.completed'")
expect_eq "$(jq -r '.stages.render' <<<"$payload_run")" 2 "run.completed counts the renders"
expect_eq "$(jq -r '.version' <<<"$payload_run")" 1 "run.completed is versioned"

# Retries: /busy after its Retry-After (2 s, not the schedule's 5 s: within
# run's own few seconds of sending), /flaky on the schedule's 5 s.
wsp_code webhooks deliver -C shoot --wait 8 --json >deliver.jsonl 2>deliver.err
expect_eq "$(jq -r 'select(.event == "webhook.attempt" and .state == "delivered") | .endpoint' deliver.jsonl | tail -1)" "$base/flaky" "/flaky delivered by deliver"
expect_eq "$(state_of "$base/busy")" "delivered 2" "/busy delivered on its second attempt"
expect_eq "$(state_of "$base/flaky")" "delivered 2" "/flaky delivered on its second attempt"
for path in /busy /flaky; do
  expect_eq "$(received $path id | sort -u | wc -l)" 1 "$path: the same webhook-id on both attempts"
  expect_eq "$(received $path id | head -1)" "$(sql shoot "SELECT message_id FROM webhook_deliveries WHERE endpoint = '$base$path'")" "$path: the catalog's webhook-id"
done
busy_gap=$(received /busy at | awk 'NR == 1 {a = $1} NR == 2 {print $1 - a}')
flaky_gap=$(received /flaky at | awk 'NR == 1 {a = $1} NR == 2 {print $1 - a}')
awk -v g="$busy_gap" 'BEGIN {exit !(g >= 1.9 && g < 4.4)}' || fail "/busy retried after $busy_gap s, not after its Retry-After of 2 s"
awk -v g="$flaky_gap" 'BEGIN {exit !(g >= 4.4 && g < 8)}' || fail "/flaky retried after $flaky_gap s, not after about 5 s"
expect_eq "$(received /gone id | wc -l)" 1 "nothing more to the disabled /gone"

# The schedule: each failed attempt of the refused endpoint is followed by the
# next wait (jitter within a tenth), fast-forwarded here, as is the endpoint's
# circuit (open after the fifth failure; the real waits are longer than it
# stays open, so each later attempt is its probe); the eighth is the last.
refused="http://127.0.0.1:$refused_port/hook"
waits=(5 300 1800 7200 18000 36000 36000)
made=$(sql shoot "SELECT attempts FROM webhook_deliveries WHERE endpoint = '$refused'")
for attempt in $(seq $((made + 1)) 8); do
  sqlite_sql shoot "UPDATE webhook_deliveries SET next_attempt_ms = 0 WHERE endpoint = '$refused';
             UPDATE circuits SET opened_ms = opened_ms - 86400000 WHERE name = '$refused'"
  before=$(($(date +%s%3N)))
  wsp_code webhooks deliver -C shoot
  expect_eq "$code" 1 "attempt $attempt fails"
  if [ "$attempt" -lt 8 ]; then
    expect_eq "$(state_of "$refused")" "pending $attempt" "after attempt $attempt"
    wait_s=$(( ($(sql shoot "SELECT next_attempt_ms FROM webhook_deliveries WHERE endpoint = '$refused'") - before) / 1000 ))
    want=${waits[$((attempt - 1))]}
    [ "$wait_s" -ge $((want * 9 / 10 - 1)) ] && [ "$wait_s" -le $((want * 11 / 10 + 1)) ] ||
      fail "after attempt $attempt the next comes in $wait_s s, not about $want s"
  fi
done
expect_eq "$(state_of "$refused")" "dead 8" "dead-lettered after the eighth attempt"
expect_eq "$(sql shoot "SELECT state || ' ' || consecutive_failures FROM circuits WHERE name = '$refused'")" "open 8" \
  "its circuit open, each probe having failed"
wsp status shoot --json >status.jsonl
expect_eq "$(jq -r --arg e "$refused" 'select(.event == "status.webhook" and .endpoint == $e) | "\(.pending) \(.dead)"' status.jsonl)" "0 1" "status: the refused endpoint's backlog"
expect_eq "$(jq -r --arg e "$base/gone" 'select(.event == "status.webhook" and .endpoint == $e) | "\(.disabled) \(.disabled_reason)"' status.jsonl)" "true 410 Gone" "status: /gone disabled"
wsp webhooks list -C shoot --dead >dead.txt
expect_grep "$refused" dead.txt "listed as dead"
expect_grep "$base/gone" dead.txt "the 410 listed as dead"

# Disabled until enabled: a test ping is not sent, then is.
wsp_code webhooks test -C shoot "$base/gone" 2>test1.err
expect_eq "$code" 1 "test to a disabled endpoint"
expect_eq "$(received /gone id | wc -l)" 1 "nothing sent to the disabled endpoint"
wsp webhooks enable -C shoot "$base/gone"
wsp webhooks test -C shoot "$base/gone" >test2.out 2>test2.err
expect_grep "HTTP 200" test2.out "the receiver's answer printed"
expect_eq "$(received /gone type | tail -1)" "test.ping" "test.ping sent once enabled"

# Retry of the dead and replay: the same webhook-ids again.
expect_eq "$(wsp webhooks retry -C shoot --dead --json | jq -r .requeued)" 2 "both dead deliveries requeued"
expect_eq "$(state_of "$refused")" "pending 0" "fresh attempts"
ok_ids=$(received /ok id | sort)
wsp webhooks replay -C shoot --since 1h --json >replay.jsonl
wsp_code webhooks deliver -C shoot
expect_eq "$(received /ok id | sort -u)" "$ok_ids" "replayed with their webhook-ids"
expect_eq "$(received /ok id | wc -l)" 4 "each /ok event sent twice"

# The secret is in no output, no log and no catalog row.
secret_key=${WEBHOOK_SECRET#whsec_}
sqlite3 shoot/.wsportfolio/catalog.db .dump >dump.sql
for f in run.jsonl run.err deliver.jsonl deliver.err test1.err test2.out test2.err dead.txt replay.jsonl status.jsonl dump.sql; do
  expect_no_grep "$secret_key" "$f" "the secret in $f"
done
expect_eq "$(jq -s 'all(.valid)' received.jsonl)" true "every signature checks out"
