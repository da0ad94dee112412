# A large file goes to an S3 target in parts, and a publish killed with
# SIGKILL mid-upload resumes at the next part: parts the catalog recorded are
# not sent again, a part that landed in the store but was never acknowledged
# (ListParts finds it) is not sent again either, and the object read back with
# the aws command line is the file, byte for byte. An upload begun for a file
# no longer published is aborted by the next publish.
#
# The fault proxy decides what lands: part 1 goes through, part 2 reaches the
# store but its answer stalls, the others are held and never reach it.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/s3_lib.sh"
require python3 "run the fault proxy"
require sqlite3 "read the catalog"
s3_start
s3_proxy_start

sample --out shoot --count 2 --megapixels 1
cp -r "$WSP_SOURCE_DIR/configs/gallery/default" shoot/template
mkdir -p shoot/template/films
film=films/first-dance.0123456789ab.bin
head -c $((26 * 1024 * 1024)) /dev/urandom >"shoot/template/$film"  # 6 parts of 5 MiB, the last one 1 MiB
cat >shoot/wsportfolio.yaml <<YAML
publish:
  targets:
    - { name: cdn, type: s3, bucket: $S3_BUCKET, endpoint: "$PROXY_ENDPOINT", path_style: true, prefix: wedding,
        multipart_threshold_mb: 8, part_size_mb: 5 }
  gallery: { template: ./template }
YAML
export AWS_ACCESS_KEY_ID=$S3_KEY_ID AWS_SECRET_ACCESS_KEY=$S3_SECRET_VALUE AWS_SHARED_CREDENTIALS_FILE=/dev/null
(cd shoot && wsp ingest && wsp render) 2>render.err || { cat render.err >&2; fail "render failed"; }

# Waits until `$1` (a shell condition) holds, for at most 60 s.
wait_for() {
  for _ in $(seq 1 600); do eval "$1" && return 0; kill -0 "$publisher" 2>/dev/null || break; sleep 0.1; done
  eval "$1" || { cat publish.err proxy.log >&2; sql shoot "select * from multipart_parts" >&2; fail "$2"; }
}
parts_put() { grep -c "^PUT [^ ]*$1[^ ]*partNumber=" proxy.log || true; }

cat >proxy.json <<'JSON'
{"rules": [{"match": "^PUT .*partNumber=2&", "action": "stall"},
           {"match": "^PUT .*partNumber=[3-6]&", "action": "hold", "times": 4}]}
JSON
(cd shoot && exec "$WSP_BIN" --no-progress publish) >publish.out 2>publish.err &
publisher=$!
wait_for '[ "$(sql shoot "select count(*) from multipart_parts")" = 1 ] && grep -q "partNumber=2&.* stall" proxy.log &&
          [ "$(grep -c " hold$" proxy.log)" = 4 ]' "the upload did not reach the state to kill it in"
kill -9 "$publisher"
wait "$publisher" 2>/dev/null || true

upload_id=$(sql shoot "select upload_id from multipart_uploads where path = '$film'")
[ -n "$upload_id" ] || fail "the catalog records the upload begun"
expect_eq "$(sql shoot "select number from multipart_parts where upload_id = '$upload_id'")" 1 \
  "the catalog records the one part acknowledged"
expect_eq "$(sql shoot "select count(*) from published where path = '$film'")" 0 "the film is not published yet"
s3api list-parts --bucket "$S3_BUCKET" --key "wedding/$film" --upload-id "$upload_id" |
  jq -r '.Parts[].PartNumber' | tr '\n' ' ' >listed.txt
expect_eq "$(cat listed.txt)" "1 2 " "the store holds part 1 and the unacknowledged part 2"
head -c $((5 * 1024 * 1024)) "shoot/template/$film" | md5sum | cut -d' ' -f1 >part1.md5
expect_eq "$(sql shoot "select etag from multipart_parts where upload_id = '$upload_id'")" "$(cat part1.md5)" \
  "the part's ETag recorded is its MD5"

# The rerun: parts 3 to 6 only, each once, then the completion.
echo '{}' >proxy.json
: >proxy.log
(cd shoot && wsp --json publish) >rerun.jsonl 2>rerun.err || { cat rerun.err >&2; fail "the rerun failed"; }
expect_eq "$(jq -r 'select(.event == "publish.completed") | .failed' rerun.jsonl)" 0 "nothing failed"
for n in 1 2; do expect_eq "$(grep -c "^PUT .*partNumber=$n&" proxy.log || true)" 0 "part $n is not sent again"; done
for n in 3 4 5 6; do expect_eq "$(grep -c "^PUT .*partNumber=$n&" proxy.log)" 1 "part $n is sent once"; done
expect_eq "$(grep -c "^GET .*uploadId=$upload_id" proxy.log)" 1 "ListParts asked once"
expect_eq "$(grep -c "^POST .*uploads" proxy.log || true)" 0 "no new upload begun"
expect_eq "$(grep -c "^POST .*uploadId=$upload_id" proxy.log)" 1 "the upload completed"
expect_eq "$(sql shoot "select count(*) from multipart_uploads") $(sql shoot "select count(*) from multipart_parts")" \
  "0 0" "the finished upload is forgotten"
expect_eq "$(sql shoot "select sha256 from published where path = '$film'")" \
  "$(sha256sum <"shoot/template/$film" | cut -d' ' -f1)" "the film is recorded as published"
s3api get-object --bucket "$S3_BUCKET" --key "wedding/$film" film.out >head.json
cmp film.out "shoot/template/$film" || fail "the object read back differs from the file"
expect_eq "$(jq -r .ContentType head.json)" application/octet-stream "the object's content type"
expect_eq "$(jq -r .CacheControl head.json)" "public, max-age=31536000, immutable" "a hashed file is immutable"

# Unchanged: nothing at all is sent.
: >proxy.log
(cd shoot && wsp publish) 2>again.err || { cat again.err >&2; fail "the unchanged publish failed"; }
expect_eq "$(wc -l <proxy.log)" 0 "an unchanged publish sends no request"

# Another film, killed before any part lands, then taken out of the gallery:
# the next publish aborts its upload.
second=films/speeches.bbbbbbbbbbbb.bin
head -c $((12 * 1024 * 1024)) /dev/urandom >"shoot/template/$second"
echo '{"rules": [{"match": "^PUT .*partNumber=", "action": "hold", "times": 3}]}' >proxy.json
: >proxy.log
(cd shoot && exec "$WSP_BIN" --no-progress publish) >publish.out 2>publish.err &
publisher=$!
wait_for '[ "$(grep -c " hold$" proxy.log)" = 3 ]' "the second film's parts did not reach the proxy"
kill -9 "$publisher"
wait "$publisher" 2>/dev/null || true
stale_id=$(sql shoot "select upload_id from multipart_uploads where path = '$second'")
[ -n "$stale_id" ] || fail "the catalog records the second film's upload"
[ -d "s3data/$S3_BUCKET/._S3rver_uploads/$stale_id" ] || fail "the store holds the second film's upload"
rm "shoot/template/$second"
echo '{}' >proxy.json
: >proxy.log
(cd shoot && wsp publish) 2>abort.err || { cat abort.err >&2; fail "the publish after the film was taken out failed"; }
expect_eq "$(grep -c "^DELETE .*uploadId=$stale_id" proxy.log)" 1 "the stale upload is aborted"
[ ! -d "s3data/$S3_BUCKET/._S3rver_uploads/$stale_id" ] || fail "the store still holds the aborted upload"
expect_eq "$(sql shoot "select count(*) from multipart_uploads")" 0 "the aborted upload is forgotten"
echo ok
