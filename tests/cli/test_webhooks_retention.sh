# Delivered webhook deliveries are pruned once older than webhook_retention
# (30d unless configured), their events staying in the audit trail, and an
# undelivered one is never pruned; the clock is moved on with faketime.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/webhooks_lib.sh"
require sqlite3 "read the outbox"
require faketime "move the clock on by weeks"

start_receiver
refused_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sample --out shoot --count 1 --megapixels 1
hooks() {
  cat <<YAML
webhooks:
  - { url: "$base/ok", secret_env: WEBHOOK_SECRET, events: [test.ping] }
  - { url: "http://127.0.0.1:$refused_port/hook", secret_env: WEBHOOK_SECRET, events: [test.ping] }
YAML
}
{ hooks; echo "webhook_retention: 40d"; } >shoot/wsportfolio.yaml
wsp ingest shoot 2>ingest.err >/dev/null || fail "ingest: $(cat ingest.err)"
wsp_code webhooks test -C shoot >/dev/null 2>&1
rows() { sql shoot "SELECT state FROM webhook_deliveries ORDER BY id" | tr '\n' ' '; }
deliver_at() { set +e; faketime -f "$1" "$WSP_BIN" --no-progress webhooks deliver -C shoot >/dev/null 2>&1; set -e; }
expect_eq "$(rows)" "delivered pending " "one delivered, one not"

deliver_at +31d
expect_eq "$(rows)" "delivered pending " "kept after 31 days under a retention of 40d"
deliver_at +41d
expect_eq "$(rows)" "pending " "the delivered one pruned after 41 days, the undelivered one kept"
expect_eq "$(sql shoot "SELECT count(*) FROM events WHERE kind = 'test.ping'")" 2 "the events stay"

# Without the key: 30 days.
hooks >shoot/wsportfolio.yaml
wsp webhooks test -C shoot "$base/ok" >/dev/null 2>&1
expect_eq "$(rows)" "pending delivered " "a second delivery"
deliver_at +29d
expect_eq "$(rows)" "pending delivered " "kept after 29 days by default"
deliver_at +31d
expect_eq "$(rows)" "pending " "pruned after 31 days by default"

echo "webhook_retention: 30 days" >>shoot/wsportfolio.yaml
wsp_code webhooks deliver -C shoot 2>bad.err
expect_eq "$code" 2 "a bad retention"
expect_grep "wsportfolio.yaml:[0-9]*.*30d or 12h" bad.err "the file, line and the expected form"
