# `watch --metrics`: on loopback by default, /metrics scraped after a batch
# parses strictly as Prometheus text and agrees with `status --json` (jobs done
# and failed per stage, the queue, the webhook backlog, the circuits), counts
# the batch's work and its stage durations, and knows the last publish;
# /healthz answers 200, then 503 while the catalog file is gone (as on an
# unmounted share), then 200 again. test_pg_watch_metrics.sh runs it on PostgreSQL.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/watch_lib.sh"
[ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import prometheus_client' 2>/dev/null ||
  unavailable "python3-prometheus-client is needed to parse the metrics"

make_project 300
refused_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export WEBHOOK_SECRET="whsec_$(head -c 24 /dev/urandom | base64)"
cat >>proj/wsportfolio.yaml <<YAML
webhooks:
  - { url: "http://127.0.0.1:$refused_port/hook", secret_env: WEBHOOK_SECRET, events: [publish.completed] }
YAML
sample --out stock --count 3 --megapixels 1
start_watch w watch proj --metrics 0
wait_for w.jsonl '.event == "watch.metrics"'
address=$(events w.jsonl '.event == "watch.metrics"' | jq -r .address)
port=$(events w.jsonl '.event == "watch.metrics"' | jq -r .port)
expect_eq "$address" 127.0.0.1 "loopback unless an address is given"
url="http://127.0.0.1:$port"

cp stock/*.JPG proj/
wait_for w.jsonl '.event == "publish.completed"' 90
wait_for w.jsonl '.event == "watch.idle"' 30
# The background sender's first attempt to the refused endpoint has been made.
for _ in $(seq 100); do
  [ "$(sql proj "SELECT attempts FROM webhook_deliveries LIMIT 1")" = 1 ] && break
  sleep 0.1
done
/usr/bin/python3 "$here/prometheus_check.py" "$url/metrics" >metrics.jsonl || fail "the exposition is not valid Prometheus text"
wsp status proj --json >status.jsonl

metric() { jq -r --arg n "$1" --argjson l "$2" 'select(.name == $n and .labels == $l) | .value' metrics.jsonl; }
number() { awk -v v="${1:-0}" 'BEGIN {printf "%d", v}'; }
for stage in $(jq -r 'select(.event == "status.stage") | .stage' status.jsonl); do
  for state in done failed; do
    want=$(jq -r --arg s "$stage" --arg k "$state" 'select(.event == "status.stage" and .stage == $s) | .[$k] // 0' status.jsonl)
    got=$(number "$(metric wsportfolio_jobs "{\"stage\":\"$stage\",\"state\":\"$state\"}")")
    expect_eq "$got" "$want" "wsportfolio_jobs $stage $state against status"
  done
  pending=$(metric wsportfolio_queue_depth "{\"stage\":\"$stage\"}")
  if [ -n "$pending" ]; then
    expect_eq "$(number "$pending")" "$(jq -r --arg s "$stage" 'select(.event == "status.stage" and .stage == $s) | .pending' status.jsonl)" "queue depth of $stage against status"
  fi
done
expect_eq "$(number "$(metric wsportfolio_jobs '{"stage":"render","state":"done"}')")" 3 "three renders done"
endpoint="http://127.0.0.1:$refused_port/hook"
for state in pending dead; do
  expect_eq "$(number "$(metric wsportfolio_webhook_deliveries "{\"endpoint\":\"$endpoint\",\"state\":\"$state\"}")")" \
    "$(jq -r --arg e "$endpoint" --arg k "$state" 'select(.event == "status.webhook" and .endpoint == $e) | .[$k]' status.jsonl)" \
    "webhook $state against status"
done
expect_eq "$(number "$(metric wsportfolio_webhook_deliveries "{\"endpoint\":\"$endpoint\",\"state\":\"pending\"}")")" 1 "one pending delivery"
expect_eq "$(number "$(metric wsportfolio_circuit_state "{\"kind\":\"webhook\",\"name\":\"$endpoint\",\"state\":\"closed\"}")")" \
  "$(jq -r --arg e "$endpoint" 'select(.event == "status.circuit" and .name == $e) | if .state == "closed" then 1 else 0 end' status.jsonl)" \
  "the endpoint's circuit against status"
expect_eq "$(number "$(metric wsportfolio_stage_items_total '{"stage":"render"}')")" 3 "the watcher rendered three"
[ "$(number "$(metric wsportfolio_stage_duration_seconds_count '{"stage":"render"}')")" -ge 1 ] ||
  fail "no render duration observed"
published=$(number "$(metric wsportfolio_last_publish_success_timestamp_seconds '{}')")
now=$(date +%s)
[ "$published" -le "$now" ] && [ "$published" -ge $((now - 300)) ] || fail "last publish at $published, now $now"

health() { curl -s -o health.txt -w '%{http_code}' --max-time 10 "$url/healthz"; }
expect_eq "$(health)" 200 "healthy while watching"
if [ "${WSP_CATALOG_BACKEND:-sqlite}" = sqlite ]; then
  mv proj/.wsportfolio/catalog.db proj/.wsportfolio/catalog.db.away
  expect_eq "$(health)" 503 "unhealthy without its catalog"
  expect_grep "catalog.db" health.txt "the reason names the catalog"
  mv proj/.wsportfolio/catalog.db.away proj/.wsportfolio/catalog.db
  expect_eq "$(health)" 200 "healthy again"
fi
kill -0 "$watcher" || fail "the watcher exited"
stop_watch
expect_eq "$code" 130 "exit code"
