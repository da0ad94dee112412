# publish --reconcile lists an s3 target once and publishes again what was
# deleted or changed there behind the tool's back; a key of someone else's is
# neither adopted nor touched; a plain publish never lists.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/s3_lib.sh"
s3_start

s3_published_shoot

render=$(sql shoot "select path from published where path like 'renders/%' order by path limit 1")
s3api delete-object --bucket "$S3_BUCKET" --key "wedding/$render" >/dev/null
echo "defaced" >defaced.html
s3api put-object --bucket "$S3_BUCKET" --key wedding/index.html --body defaced.html >/dev/null
s3api put-object --bucket "$S3_BUCKET" --key wedding/robots.txt --body defaced.html >/dev/null

before=$(s3_requests)
(cd shoot && wsp --json publish) >plain.jsonl 2>plain.err || { cat plain.err >&2; fail "publish failed"; }
expect_eq "$(s3_requests)" "$before" "a plain publish trusts the record and sends nothing"

(cd shoot && wsp --json publish --reconcile --dry-run) >dry.jsonl 2>dry.err || { cat dry.err >&2; fail "dry run failed"; }
expect_eq "$(jq -r 'select(.event == "publish.plan") | "\(.plan.put) \(.plan.replace)"' dry.jsonl)" "1 1" \
  "the dry run plans the deleted render and the changed page"
expect_eq "$(sql shoot "select count(*) from published where sha256 = ''")" 0 "a dry run records nothing"

before=$(s3_requests)
(cd shoot && wsp --json publish --reconcile) >rec.jsonl 2>rec.err || { cat rec.err >&2; fail "reconcile failed"; }
grep '^REQUEST ' s3.log | tail -n +"$((before + 1))" | head -1 | grep -q '^REQUEST GET /portfolios?' ||
  fail "the bucket is listed first"
jq -r 'select(.event == "item" and .stage == "publish") | .file' rec.jsonl | sort >put.txt
diff <(printf '%s\n' "$render" index.html | sort) put.txt >&2 || fail "reconcile put other files than the two changed"
expect_eq "$(( $(s3_requests) - before ))" 4 "one LIST of objects, one of unfinished uploads, and two PUTs"
s3api head-object --bucket "$S3_BUCKET" --key wedding/robots.txt >/dev/null || fail "a foreign key was touched"
expect_eq "$(sql shoot "select count(*) from published where path = 'robots.txt'")" 0 "a foreign key is not adopted"
s3api get-object --bucket "$S3_BUCKET" --key wedding/index.html index.html >/dev/null
expect_eq "$(sha256sum <index.html | cut -d' ' -f1)" "$(sql shoot "select sha256 from published where path = 'index.html'")" \
  "the page is whole again"
echo ok
