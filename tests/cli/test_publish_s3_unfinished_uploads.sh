# publish --reconcile and verify list the multipart uploads in progress under
# an s3 target's prefix (ListMultipartUploads). An upload the catalog records
# goes on or is aborted by the publish as always (here: its film left the
# gallery, so it is aborted); one it records that the store no longer holds is
# forgotten without a request for it; one it does not know (begun by the aws
# command line) is reported and left alone, by publish and by verify.
#
# s3rver has no ListMultipartUploads: s3_lib.sh answers it, as AWS documents
# it, from s3rver's own store of uploads.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/s3_lib.sh"
require python3 "run the fault proxy"
s3_start
s3_proxy_start

sample --out shoot --count 1 --megapixels 1
cp -r "$WSP_SOURCE_DIR/configs/gallery/default" shoot/template
mkdir -p shoot/template/films
first=films/vows.aaaaaaaaaaaa.bin
second=films/speeches.bbbbbbbbbbbb.bin
head -c $((12 * 1024 * 1024)) /dev/urandom >"shoot/template/$first"   # 3 parts each
head -c $((12 * 1024 * 1024)) /dev/urandom >"shoot/template/$second"
cat >shoot/wsportfolio.yaml <<YAML
publish:
  targets:
    - { name: cdn, type: s3, bucket: $S3_BUCKET, endpoint: "$PROXY_ENDPOINT", path_style: true, prefix: wedding,
        multipart_threshold_mb: 8, part_size_mb: 5 }
  gallery: { template: ./template }
YAML
export AWS_ACCESS_KEY_ID=$S3_KEY_ID AWS_SECRET_ACCESS_KEY=$S3_SECRET_VALUE AWS_SHARED_CREDENTIALS_FILE=/dev/null
(cd shoot && wsp ingest && wsp render) 2>render.err || { cat render.err >&2; fail "render failed"; }

# Both films begun, their parts held by the proxy, and the publisher killed.
echo '{"rules": [{"match": "^PUT .*partNumber=", "action": "hold", "times": 6}]}' >proxy.json
(cd shoot && exec "$WSP_BIN" --no-progress publish) >publish.out 2>publish.err &
publisher=$!
for _ in $(seq 1 600); do
  [ "$(grep -c " hold$" proxy.log)" = 6 ] && break
  kill -0 "$publisher" 2>/dev/null || break
  sleep 0.1
done
[ "$(grep -c " hold$" proxy.log)" = 6 ] || { cat publish.err proxy.log >&2; fail "the films' parts did not reach the proxy"; }
kill -9 "$publisher"
wait "$publisher" 2>/dev/null || true
first_id=$(sql shoot "select upload_id from multipart_uploads where path = '$first'")
second_id=$(sql shoot "select upload_id from multipart_uploads where path = '$second'")
[ -n "$first_id" ] && [ -n "$second_id" ] || fail "the catalog records both uploads"

# Behind the tool's back: the second upload aborted, a foreign one begun under the prefix and one outside it.
s3api abort-multipart-upload --bucket "$S3_BUCKET" --key "wedding/$second" --upload-id "$second_id"
foreign_id=$(s3api create-multipart-upload --bucket "$S3_BUCKET" --key "wedding/films/Mariée à l'église.bin" |
             jq -r .UploadId)
s3api create-multipart-upload --bucket "$S3_BUCKET" --key other/film.bin >/dev/null
rm "shoot/template/$first"

echo '{}' >proxy.json
: >proxy.log
(cd shoot && wsp --json publish --reconcile) >rec.jsonl 2>rec.err || { cat rec.err >&2; fail "reconcile failed"; }
expect_eq "$(grep -c '^GET /portfolios?[^ ]*uploads' proxy.log)" 1 "the unfinished uploads are listed once"
expect_grep "films/Mariée à l'église.bin (UploadId $foreign_id, begun 20" rec.err "the foreign upload is reported"
expect_grep "not begun by this project's catalog; it is left alone" rec.err "the foreign upload is said to be left alone"
expect_no_grep "other/film.bin" rec.err "an upload outside the prefix is not the target's"
expect_no_grep "$first_id\|$second_id" rec.err "the catalog's uploads are not reported as foreign"
expect_eq "$(grep -c "^DELETE .*uploadId=$first_id" proxy.log)" 1 "the upload of the film taken out is aborted"
expect_eq "$(grep -c "uploadId=$second_id" proxy.log || true)" 0 "the upload gone from the store is forgotten, not asked for"
expect_eq "$(grep -c "uploadId=$foreign_id" proxy.log || true)" 0 "the foreign upload is not touched"
expect_eq "$(sql shoot "select count(*) from multipart_uploads")" 0 "the catalog records no upload left"
s3api list-multipart-uploads --bucket "$S3_BUCKET" --prefix wedding/ | jq -r '.Uploads[]?.UploadId' >left.txt
expect_eq "$(cat left.txt)" "$foreign_id" "only the foreign upload is left in the store"
s3api get-object --bucket "$S3_BUCKET" --key "wedding/$second" second.out >/dev/null
cmp second.out "shoot/template/$second" || fail "the second film read back differs from the file"

cd shoot && wsp_code verify 2>../verify.err; cd ..
expect_eq "$code" 0 "an unfinished upload is no integrity problem"
expect_grep "UploadId $foreign_id" verify.err "verify reports the foreign upload"
expect_grep "left alone" verify.err "verify leaves it alone"
s3api list-multipart-uploads --bucket "$S3_BUCKET" --prefix wedding/ | jq -r '.Uploads[]?.UploadId' >left.txt
expect_eq "$(cat left.txt)" "$foreign_id" "verify aborts nothing"
echo ok
