# The network's timeouts are the config's: a store that stops sending in the
# middle of an answer's body is given up on after network.stall_seconds (not
# the 30 s default) and the request is tried again as a transient failure; a
# store that never answers is given up on after publish.request_timeout_seconds
# even when the stall time is long, and tried again the same way.
# The fault proxy (s3_fault_proxy.py) in front of s3rver injects both.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/s3_lib.sh"
require python3 "run the fault proxy"
s3_start
s3_proxy_start

sample --out shoot --count 2 --megapixels 1
# config TITLE STALL_SECONDS REQUEST_TIMEOUT_SECONDS
config() {
  cat >shoot/wsportfolio.yaml <<YAML
project: { title: "$1" }
publish:
  targets:
    - { name: cdn, type: s3, bucket: $S3_BUCKET, endpoint: "$PROXY_ENDPOINT", path_style: true, prefix: wedding }
  request_timeout_seconds: $3
network: { stall_seconds: $2 }
YAML
}
config "Anna & Ben" 2 300
export AWS_ACCESS_KEY_ID=$S3_KEY_ID AWS_SECRET_ACCESS_KEY=$S3_SECRET_VALUE AWS_SHARED_CREDENTIALS_FILE=/dev/null
(cd shoot && wsp run) 2>run.err || { cat run.err >&2; fail "run failed"; }
seconds() { date +%s.%N; }
elapsed_between() { python3 -c "import sys; s = float(sys.argv[2]) - float(sys.argv[1]); print(f'{s:.1f}')" "$1" "$2"; }
within() { python3 -c "import sys; sys.exit(0 if float(sys.argv[2]) <= float(sys.argv[1]) < float(sys.argv[3]) else 1)" "$@"; }

# The bucket's listing stalls halfway through its XML; nothing else is to be sent.
echo '{"rules": [{"match": "^GET /portfolios\\?[^ ]*list-type=2", "action": "stall"}]}' >proxy.json
: >proxy.log
start=$(seconds)
(cd shoot && wsp --json publish --reconcile) >stall.jsonl 2>stall.err || { cat stall.err proxy.log >&2; fail "publish failed"; }
took=$(elapsed_between "$start" "$(seconds)")
expect_eq "$(grep -c '^GET /portfolios?[^ ]*list-type=2[^ ]* stall$' proxy.log)" 1 "the listing stalled mid-body"
expect_eq "$(grep -c '^GET /portfolios?[^ ]*list-type=2[^ ]* forward$' proxy.log)" 1 "the listing is tried again"
within "$took" 2 12 || fail "the stall was given up on after $took s, not the 2 s of network.stall_seconds"

# A new title changes the pages; the first PUT of the gallery's page is never answered.
config "Anna & Ben, 13 June" 600 3
echo '{"rules": [{"match": "^PUT [^ ]*/index\\.html$", "action": "hold"}]}' >proxy.json
: >proxy.log
start=$(seconds)
(cd shoot && wsp --json publish) >hold.jsonl 2>hold.err || { cat hold.err proxy.log >&2; fail "publish failed"; }
took=$(elapsed_between "$start" "$(seconds)")
expect_eq "$(jq -r 'select(.event == "publish.completed") | .failed' hold.jsonl)" 0 "the publish ends complete"
expect_eq "$(grep -c '^PUT [^ ]*/index\.html hold$' proxy.log)" 1 "the page's first PUT was never answered"
expect_eq "$(grep -c '^PUT [^ ]*/index\.html forward$' proxy.log)" 1 "the page's PUT is tried again"
within "$took" 3 13 || fail "the unanswered request was given up on after $took s, not the 3 s of its cap"
s3api get-object --bucket "$S3_BUCKET" --key wedding/index.html index.html >/dev/null
expect_grep "13 June" index.html "the new page is in the bucket"
echo ok
