# Publishing through a faulty network still ends complete and byte-identical:
# the fault proxy (s3_fault_proxy.py) in front of s3rver drops a connection,
# answers 503 SlowDown with Retry-After and 500 InternalError, stalls an
# answer, and closes a connection halfway through a part of a multipart
# upload. Each fault is retried; the publish reports as many requests as
# reached the proxy, retries included, and every object read back with the aws
# command line is the file the local target got.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/s3_lib.sh"
require python3 "run the fault proxy"
s3_start
s3_proxy_start

sample --out shoot --count 2 --megapixels 1
cp -r "$WSP_SOURCE_DIR/configs/gallery/default" shoot/template
mkdir -p shoot/template/films
head -c $((11 * 1024 * 1024)) /dev/urandom >shoot/template/films/vows.0123456789ab.bin  # 3 parts
cat >shoot/wsportfolio.yaml <<YAML
publish:
  targets:
    - { name: site, type: local, path: ./public }
    - { name: cdn, type: s3, bucket: $S3_BUCKET, endpoint: "$PROXY_ENDPOINT", path_style: true, prefix: wedding,
        multipart_threshold_mb: 8, part_size_mb: 5 }
  stall_seconds: 2
  gallery: { template: ./template }
YAML
export AWS_ACCESS_KEY_ID=$S3_KEY_ID AWS_SECRET_ACCESS_KEY=$S3_SECRET_VALUE AWS_SHARED_CREDENTIALS_FILE=/dev/null
(cd shoot && wsp ingest && wsp render) 2>render.err || { cat render.err >&2; fail "render failed"; }

cat >proxy.json <<'JSON'
{"rules": [{"match": "^PUT .*/renders/img-0001-480\\.[0-9a-f]+\\.jpg$", "action": "drop"},
           {"match": "^PUT .*/renders/img-0002-480\\.[0-9a-f]+\\.jpg$", "action": "status", "status": 503,
            "code": "SlowDown", "retry_after": "1"},
           {"match": "^PUT .*/index\\.html$", "action": "status", "status": 500, "code": "InternalError"},
           {"match": "^PUT .*/manifest\\.json$", "action": "stall"},
           {"match": "^PUT .*partNumber=2&", "action": "close_body"}]}
JSON
(cd shoot && wsp --json publish) >publish.jsonl 2>publish.err || { cat publish.err proxy.log >&2; fail "publish failed"; }
completed() { jq -r "select(.event == \"publish.completed\" and .target == \"cdn\") | .$1" publish.jsonl; }
expect_eq "$(completed failed) $(completed skipped) $(completed interrupted)" "0 0 false" "the publish ends complete"

for action in drop "status 503" "status 500" stall close_body; do
  expect_eq "$(grep -c " $action$" proxy.log)" 1 "the proxy injected: $action"
done
for pattern in "renders/img-0001-480\.[0-9a-f]*\.jpg" "renders/img-0002-480\.[0-9a-f]*\.jpg" "/index\.html" \
  "/manifest\.json" "partNumber=2&"; do
  expect_eq "$(grep -c "^PUT [^ ]*$pattern[^ ]* forward$" proxy.log)" 1 "$pattern is sent again after its fault, once"
done
expect_eq "$(completed requests)" "$(wc -l <proxy.log)" "the requests reported, retries included, are those sent"
expect_eq "$(completed requests)" "$(($(completed put) + 2 + 5 + 2))" \
  "one request per file, the film's three parts, begin and completion, and five retries"

# Every object is the file the local target holds, byte for byte.
(cd shoot/public && find . -type f ! -name '.wsportfolio-target.json' | sed 's|^\./||' | sort) >local.txt
s3_keys wedding/ | sed 's|^wedding/||' >bucket.txt
diff local.txt bucket.txt >&2 || fail "the bucket holds other files than the local target"
while read -r path; do
  s3api get-object --bucket "$S3_BUCKET" --key "wedding/$path" object.out >/dev/null
  cmp -s object.out "shoot/public/$path" || fail "$path differs in the bucket"
done <local.txt
echo ok
