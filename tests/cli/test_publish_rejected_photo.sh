# A photo the photographer rejects (`tag set --rating -1`) leaves the gallery:
# its renders are no longer shown, listed in the published manifest or
# published (stale, then pruned), and clearing the rating brings it back.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
require jq "read the events"

sample --out shoot --count 3 --megapixels 1
wsp run shoot 2>/dev/null || fail "run failed"
public=shoot/.wsportfolio/public
stem=img-0002
grep -q "renders/$stem-" $public/index.html || fail "the photo is not in the gallery to begin with"

(cd shoot && wsp tag set IMG_0002.JPG --rating -1) 2>/dev/null
(cd shoot && wsp publish --prune) 2>/dev/null || fail "publish failed"
if grep -q "renders/$stem-" $public/index.html; then fail "a rejected photo is still shown"; fi
if ls $public/renders | grep -q "^$stem-"; then fail "a rejected photo's files are still published"; fi
grep -q "renders/img-0001-" $public/index.html || fail "the other photos stay"
# The published manifest lists what the gallery shows, no more; the state
# folder's still knows every render.
[ "$(jq -r '.images[].source' $public/manifest.json | sort | tr '\n' ' ')" = "IMG_0001.JPG IMG_0003.JPG " ] ||
  fail "the published manifest lists: $(jq -c '[.images[].source]' $public/manifest.json)"
if jq -e '.images[] | has("analysis")' $public/manifest.json | grep -q true; then
  fail "the published manifest names analysis images, which are never published"
fi
[ "$(jq '.images | length' shoot/.wsportfolio/manifest.json)" = 3 ] || fail "the state manifest lost a render"

(cd shoot && wsp tag clear IMG_0002.JPG --rating) 2>/dev/null
(cd shoot && wsp publish) 2>/dev/null || fail "publish failed"
grep -q "renders/$stem-" $public/index.html || fail "clearing the rating brings the photo back"
echo ok
