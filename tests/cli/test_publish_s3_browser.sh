# The gallery published to an S3 bucket, opened in a real browser (Debian's
# headless Chromium, driven by playwright-core) as the bucket's static website
# serves it (s3rver's website mode, anonymous GETs): every image loads with
# the content type it was uploaded with, and no request leaves the host.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/s3_lib.sh"
[ -x /usr/bin/chromium ] || unavailable "chromium is not installed"
[ -d "$s3_modules/playwright-core" ] || unavailable "playwright-core is not installed"
require curl "fetch from the bucket's website"
s3_start

sample --out shoot --count 8 --megapixels 1
cat >shoot/wsportfolio.yaml <<YAML
publish:
  targets:
    - { name: cdn, type: s3, bucket: $S3_BUCKET, endpoint: "$S3_ENDPOINT", path_style: true, prefix: wedding }
  gallery: { downloads: originals }
YAML
export AWS_ACCESS_KEY_ID=$S3_KEY_ID AWS_SECRET_ACCESS_KEY=$S3_SECRET_VALUE AWS_SHARED_CREDENTIALS_FILE=/dev/null
(cd shoot && wsp run) 2>run.err || { cat run.err >&2; fail "run failed"; }
s3api put-bucket-website --bucket "$S3_BUCKET" --website-configuration '{"IndexDocument": {"Suffix": "index.html"}}'
site="$S3_ENDPOINT/$S3_BUCKET/wedding"
curl -sf -o /dev/null "$site/index.html" || fail "the bucket's website does not serve the gallery anonymously"

NODE_PATH="$s3_modules" node "$WSP_SOURCE_DIR/tests/browser/gallery_check.js" "$site" s3-gallery.png \
  >browser.out 2>browser.err || { cat browser.out browser.err >&2; fail "the gallery served from the bucket has problems"; }
cat browser.out
expect_grep 'index.html: 8 images, 8 loaded' browser.out "every image of the index loads from the bucket"
download=$(grep -o 'href="originals/[^"]*"' <(curl -sf "$site/index.html") | head -1 | cut -d'"' -f2)
[ -n "$download" ] || fail "the gallery links an original"
curl -sf -o original.jpg "$site/$download" || fail "the original's link is served by the bucket"
s3api get-object --bucket "$S3_BUCKET" --key "wedding/$download" stored.jpg >/dev/null
cmp original.jpg stored.jpg || fail "the website serves the original as stored"
echo ok
