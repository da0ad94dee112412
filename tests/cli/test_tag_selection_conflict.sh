# `tag set` and the photographer's culling tool both say what they mean: when
# both gave a photo a different rating, the newer holds, and the conflict is
# listed by `tag review` and counted by `status`.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
require jq "read the events"

sidecar() {  # FILE RATING
  cat >"$1" <<XMP
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:Rating="$2"/>
 </rdf:RDF>
</x:xmpmeta>
XMP
}

sample --out shoot --count 3 --megapixels 1
wsp run shoot 2>/dev/null || fail "run failed"
public=shoot/.wsportfolio/public

# IMG_0001: tag set first, then Lightroom saves 5 stars: the sidecar is newer.
(cd shoot && wsp tag set IMG_0001.JPG --rating 2) 2>/dev/null
sidecar shoot/IMG_0001.xmp 5
touch -d "@$(($(date +%s) + 60))" shoot/IMG_0001.xmp
# IMG_0002: the sidecar was saved an hour ago, tag set comes after: tag set is newer.
sidecar shoot/IMG_0002.xmp 1
touch -d "@$(($(date +%s) - 3600))" shoot/IMG_0002.xmp
(cd shoot && wsp tag set IMG_0002.JPG --rating 3) 2>/dev/null
# IMG_0003: kept with 4 stars by tag set, then rejected in Photo Mechanic.
(cd shoot && wsp tag set IMG_0003.JPG --rating 4) 2>/dev/null
sidecar shoot/IMG_0003.xmp -1
touch -d "@$(($(date +%s) + 60))" shoot/IMG_0003.xmp

(cd shoot && wsp --json tag review) >review.jsonl 2>review.err || { cat review.err >&2; fail "tag review failed"; }
rating() { jq -r "select(.event == \"tag.review\" and .file == \"$1\") | .rating" review.jsonl; }
conflict() { jq -r "select(.event == \"tag.review\" and .file == \"$1\") | .rating_conflict" review.jsonl; }
expect_eq "$(rating IMG_0001.JPG)" 5 "the sidecar's newer rating holds"
expect_eq "$(conflict IMG_0001.JPG)" "tag set gave rating 2, the XMP sidecar 5: the newer, the XMP sidecar, holds" \
  "the conflict is listed"
expect_eq "$(rating IMG_0002.JPG)" 3 "tag set's newer rating holds"
expect_eq "$(conflict IMG_0002.JPG)" "tag set gave rating 3, the XMP sidecar 1: the newer, tag set, holds" \
  "the conflict is listed"
expect_eq "$(rating IMG_0003.JPG)" -1 "the newer reject holds"
expect_grep "3 rating conflict(s)" review.err "tag review counts the conflicts"

(cd shoot && wsp --json status) >status.jsonl 2>status.err || { cat status.err >&2; fail "status failed"; }
expect_eq "$(jq -r 'select(.event == "status.tags") | .rating_conflicts' status.jsonl)" 3 "status counts the conflicts"
(cd shoot && wsp status) >status.out 2>&1 || fail "status failed"
expect_grep "3 rating conflict" status.out "status says so"

(cd shoot && wsp publish) 2>/dev/null || fail "publish failed"
if grep -q "renders/img-0003-" $public/index.html; then fail "the photo rejected in the tool is still shown"; fi
grep -q "renders/img-0001-" $public/index.html || fail "the other photos stay"

# Agreeing again settles the conflict.
(cd shoot && wsp tag set IMG_0001.JPG --rating 5) 2>/dev/null
(cd shoot && wsp --json tag show IMG_0001.JPG) >show.jsonl 2>/dev/null
expect_eq "$(jq -r 'select(.event == "tag.show") | .rating_conflict' show.jsonl)" null "no conflict once they agree"
echo ok
