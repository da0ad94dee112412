# A publish to an S3 target whose host refuses every connection leaves that
# host's circuit open in the catalog, and `status` shows it.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
require jq "read the JSON lines"

refused_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sample --out shoot --count 2 --megapixels 1
cat >shoot/wsportfolio.yaml <<YAML
publish:
  targets:
    - { name: cdn, type: s3, bucket: photos, endpoint: "http://127.0.0.1:$refused_port", path_style: true }
YAML
export AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMIbPxRfiCYEXAMPLEKEY AWS_SHARED_CREDENTIALS_FILE=/dev/null
wsp_code run shoot >run.out 2>run.err
[ "$code" -ne 0 ] || fail "a publish to a host that refuses succeeded"
wsp status shoot --json >status.jsonl
expect_eq "$(jq -r --arg h "127.0.0.1:$refused_port" 'select(.event == "status.circuit" and .kind == "target" and .name == $h) | .state' status.jsonl)" \
  open "the host's circuit"
expect_no_grep "wJalrXUtnFEMIbPxRfiCYEXAMPLEKEY" status.jsonl "the secret key in status"
