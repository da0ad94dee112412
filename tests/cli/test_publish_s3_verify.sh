# verify on an s3 target HEADs every object the tool published: an object
# deleted or replaced behind its back is found (missing, another size), named,
# and after --repair the next publish puts exactly those back.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/s3_lib.sh"
s3_start

s3_published_shoot
before=$(s3_requests)
(cd shoot && wsp verify) >clean.out 2>clean.err || { cat clean.out clean.err >&2; fail "verify of an intact bucket failed"; }
published=$(sql shoot "select count(*) from published")
expect_eq "$(( $(s3_requests) - before ))" "$((published + 1))" \
  "one HEAD per published object and one list of the unfinished uploads"
grep '^REQUEST ' s3.log | tail -n "$((published + 1))" | grep -v '^REQUEST HEAD ' >others.txt
expect_eq "$(grep -c '^REQUEST GET /portfolios?.*uploads' others.txt) $(wc -l <others.txt)" "1 1" \
  "verify sent HEADs and one list of the unfinished uploads, nothing else"

render=$(sql shoot "select path from published where path like 'renders/%' order by path limit 1")
s3api delete-object --bucket "$S3_BUCKET" --key "wedding/$render" >/dev/null
echo "defaced" >defaced.html
s3api put-object --bucket "$S3_BUCKET" --key wedding/index.html --body defaced.html >/dev/null

cd shoot
wsp_code verify >../found.out 2>../found.err
cd ..
expect_eq "$code" 3 "verify finds what changed in the bucket"
cat found.out found.err >found.txt
expect_grep "cdn: $render" found.txt "the deleted render is named"
expect_grep "not in the bucket" found.txt "as missing"
expect_grep "cdn: index.html" found.txt "the replaced page is named"
expect_grep "8 bytes in the bucket" found.txt "with its size"

(cd shoot && wsp_code verify --repair) >/dev/null 2>&1 || true
(cd shoot && wsp --json publish) >repair.jsonl 2>repair.err || { cat repair.err >&2; fail "publish after repair failed"; }
jq -r 'select(.event == "item" and .stage == "publish") | .file' repair.jsonl | sort >put.txt
diff <(printf '%s\n' "$render" index.html | sort) put.txt >&2 || fail "the publish after --repair put other files"
(cd shoot && wsp verify) >again.out 2>again.err || { cat again.out again.err >&2; fail "the bucket is not whole again"; }
echo ok
