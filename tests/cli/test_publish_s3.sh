# Publishing to an S3-compatible store (s3rver on 127.0.0.1), read back with
# the aws command line: every file lands under the prefix with its content
# type, cache policy and content; an unchanged publish sends no request at all;
# one photo changed puts only its files, the page and the manifest; --prune
# deletes exactly what the tool published that is no longer wanted, never a
# key of someone else's under the prefix; the secret key appears nowhere.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/s3_lib.sh"
s3_start

sample --out shoot --count 4 --megapixels 1
cat >shoot/wsportfolio.yaml <<YAML
publish:
  targets:
    - { name: cdn, type: s3, bucket: $S3_BUCKET, region: us-east-1, endpoint: "$S3_ENDPOINT", path_style: true,
        prefix: "anna-ben-2026/", access_key_env: S3_KEY, secret_key_env: S3_SECRET, max_age: 120 }
YAML
export S3_KEY=$S3_KEY_ID S3_SECRET=$S3_SECRET_VALUE
completed() { jq -r "select(.event == \"publish.completed\") | .$2" "$1"; }

(cd shoot && wsp -v --json run) >first.jsonl 2>first.err || { cat first.err >&2; fail "run failed"; }
expect_eq "$(completed first.jsonl target)" cdn "the s3 target completed"
expect_eq "$(completed first.jsonl failed)" 0 "nothing failed"
sql shoot "select path from published order by path" >recorded.txt
[ "$(wc -l <recorded.txt)" -gt 10 ] || fail "the catalog records the published files"
expect_eq "$(sql shoot "select distinct target from published")" "s3:$S3_ENDPOINT/$S3_BUCKET/anna-ben-2026/" \
  "the record is keyed by the target's identity"
s3_keys anna-ben-2026/ | sed 's|^anna-ben-2026/||' >listed.txt
diff recorded.txt listed.txt >&2 || fail "the bucket holds other keys than the catalog records"
expect_eq "$(completed first.jsonl put)" "$(wc -l <recorded.txt)" "every file put once"

s3api head-object --bucket "$S3_BUCKET" --key anna-ben-2026/index.html >index.json
expect_eq "$(jq -r .ContentType index.json)" "text/html; charset=utf-8" "the page's content type"
expect_eq "$(jq -r .CacheControl index.json)" "public, max-age=120" "the page's cache policy"
render=$(grep '^renders/.*\.webp$' recorded.txt | head -1)
s3api head-object --bucket "$S3_BUCKET" --key "anna-ben-2026/$render" >render.json
expect_eq "$(jq -r .ContentType render.json)" image/webp "a render's content type"
expect_eq "$(jq -r .CacheControl render.json)" "public, max-age=31536000, immutable" "a hashed render is immutable"
expect_eq "$(jq -r .ETag render.json | tr -d '"')" "$(md5sum <"shoot/.wsportfolio/$render" | cut -d' ' -f1)" \
  "the stored render is the file's bytes"
s3api get-object --bucket "$S3_BUCKET" --key anna-ben-2026/manifest.json manifest.json >/dev/null
expect_eq "$(sha256sum <manifest.json | cut -d' ' -f1)" \
  "$(sql shoot "select sha256 from published where path = 'manifest.json'")" "the manifest's bytes"

# Nothing changed: not a single request reaches the store.
before=$(s3_requests)
(cd shoot && wsp --json publish) >second.jsonl 2>second.err || { cat second.err >&2; fail "second publish failed"; }
[ "$before" -gt 10 ] || fail "s3rver's requests are counted"
expect_eq "$(s3_requests)" "$before" "an unchanged publish sends no request"
expect_eq "$(completed second.jsonl requests) $(completed second.jsonl put) $(completed second.jsonl replaced)" \
  "0 0 0" "nothing sent"

# A dry run counts the requests it would send, and sends none.
(cd shoot && wsp tag set IMG_0001.JPG --alt "Anna and Ben at the church door") 2>/dev/null
before=$(s3_requests)
(cd shoot && wsp --json publish --dry-run) >dry.jsonl 2>dry.err || { cat dry.err >&2; fail "dry run failed"; }
(cd shoot && wsp publish --dry-run) 2>dry.txt || fail "dry run failed"
expect_eq "$(s3_requests)" "$before" "a dry run sends nothing"
expect_eq "$(jq -r 'select(.event == "publish.plan") | "\(.requests) \(.plan.replace) \(.plan.upload_bytes > 0)"' dry.jsonl)" \
  "1 1 true" "one page to replace, one request, its bytes"
expect_grep "dry run, nothing written; 1 requests" dry.txt "the requests in the plan's text"

# Another photo under the same name: only its renders, the page and the manifest are put.
old_files=$(sql shoot "select v.path from variants v join images i on i.id = v.image_id where i.path like '%IMG_0003.JPG'" | sort)
"$WSP_SAMPLE" --out other --count 1 --megapixels 1 --seed 99 >/dev/null
mv other/IMG_0001.JPG shoot/IMG_0003.JPG
before=$(s3_requests)
(cd shoot && wsp --json run) >photo.jsonl 2>photo.err || { cat photo.err >&2; fail "run after a changed photo failed"; }
new_files=$(sql shoot "select v.path from variants v join images i on i.id = v.image_id where i.path like '%IMG_0003.JPG'" | sort)
(echo "$new_files"; echo index.html; echo manifest.json) | sort >expected.txt
jq -r 'select(.event == "item" and .stage == "publish") | .file' photo.jsonl | sort >changed.txt
diff expected.txt changed.txt >&2 || fail "a changed photo put other files than its own, the page and the manifest"
expect_eq "$(( $(s3_requests) - before ))" "$(wc -l <expected.txt)" "one PUT per changed file, nothing else"
grep '^REQUEST ' s3.log | tail -n "$(wc -l <expected.txt)" | grep -v '^REQUEST PUT ' && fail "only PUTs were sent"

# A key placed under the prefix by someone else, then --prune.
echo "mine" >foreign.txt
s3api put-object --bucket "$S3_BUCKET" --key anna-ben-2026/renders/by-hand.jpg --body foreign.txt >/dev/null
(cd shoot && wsp --json publish --dry-run --prune) >plan.jsonl 2>plan.err
expect_eq "$(jq -r 'select(.event == "publish.plan") | .requests' plan.jsonl)" 1 \
  "the dry run counts one DeleteObjects request"
s3_keys anna-ben-2026/ >keys-before.txt
before=$(s3_requests)
(cd shoot && wsp --json publish --prune) >prune.jsonl 2>prune.err || { cat prune.err >&2; fail "prune failed"; }
expect_eq "$(completed prune.jsonl deleted)" "$(echo "$old_files" | wc -l)" "the old renders are deleted"
expect_eq "$(( $(s3_requests) - before ))" 1 "deleted in one DeleteObjects request"
s3_keys anna-ben-2026/ >keys-after.txt
comm -23 keys-before.txt keys-after.txt | sed 's|^anna-ben-2026/||' >deleted.txt
diff <(echo "$old_files") deleted.txt >&2 || fail "--prune deleted other keys than the old renders"
grep -qx anna-ben-2026/renders/by-hand.jpg keys-after.txt || fail "a foreign key under the prefix was deleted"

# A target pointed at another prefix is another target: everything is published there.
moved="Mariée à l'église + 2026/"
sed -i "s|prefix: \"anna-ben-2026/\"|prefix: \"$moved\"|" shoot/wsportfolio.yaml
(cd shoot && wsp --json publish) >moved.jsonl 2>moved.err || { cat moved.err >&2; fail "publish to the moved target failed"; }
expect_eq "$(completed moved.jsonl put)" "$(s3_keys anna-ben-2026/ | grep -vc by-hand)" "all files put at the new place"
# Read back by the aws command line, which encodes the key its own way (s3rver's
# listing escapes the quote twice, so the keys are asked for one by one).
for file in index.html "$render"; do
  s3api head-object --bucket "$S3_BUCKET" --key "$moved$file" >moved-head.json ||
    fail "$moved$file is not in the bucket under that name"
  expect_eq "$(jq -r .ContentLength moved-head.json)" "$(sql shoot "select size from published where path = '$file' and target like '%glise + 2026/'")" \
    "$file under a prefix with spaces, accents, a quote and '+'"
done

# A wrong secret is refused by the store, and said without the secret.
sed -i "s|prefix: \"$moved\"|prefix: \"third/\"|" shoot/wsportfolio.yaml
(cd shoot && S3_SECRET=not-the-secret-either wsp -v --json publish) >wrong2.jsonl 2>wrong2.err && fail "a wrong secret succeeded"
expect_grep "SignatureDoesNotMatch\|403" wrong2.err "the store's refusal is said"

# The secret key is in no output and not in the catalog.
sqlite3 shoot/.wsportfolio/catalog.db .dump >dump.sql
for file in first.jsonl first.err second.jsonl second.err photo.jsonl photo.err prune.jsonl prune.err plan.jsonl \
  plan.err moved.jsonl moved.err wrong2.jsonl wrong2.err dump.sql; do
  expect_no_grep "$S3_SECRET_VALUE" "$file" "the secret key in $file"
  expect_no_grep "not-the-secret" "$file" "a wrong secret key in $file"
done

cd shoot
wsp_code publish --target nope 2>../nope.err
cd ..
expect_eq "$code" 2 "an unknown target is a usage error"
expect_grep "no such target in publish.targets (cdn)" nope.err "names the targets"
echo ok
