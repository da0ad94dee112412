# The published gallery in a real browser (Debian's headless Chromium, driven
# by playwright-core, served from 127.0.0.1): every image loads, the console
# has no errors, no request leaves the host. The screenshot is kept in the
# build folder (gallery-screenshot.png) for a person to look at.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
[ -x /usr/bin/chromium ] || unavailable "chromium is not installed"
require node "drive the browser"
modules=${WSP_NODE_MODULES:-}
[ -n "$modules" ] && [ -d "$modules/playwright-core" ] || unavailable "playwright-core is not installed"

sample --out shoot --count 8 --megapixels 1
wsp run shoot 2>run.err || { cat run.err >&2; fail "run failed"; }
shot=${WSP_SCREENSHOT:-$PWD/gallery-screenshot.png}
NODE_PATH="$modules" node "$WSP_SOURCE_DIR/tests/browser/gallery_check.js" shoot/.wsportfolio/public "$shot" >browser.out 2>browser.err ||
  { cat browser.out browser.err >&2; fail "the gallery has problems in the browser"; }
cat browser.out
expect_grep 'index.html: 8 images, 8 loaded' browser.out "every image of the index loads"
[ -s "$shot" ] || fail "no screenshot"
echo ok
