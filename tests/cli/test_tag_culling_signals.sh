# Culling signals on real files: a blurred copy of a photo scores less sharp
# and groups with it as a near-duplicate whose best pick is the sharp
# original; brightened and darkened copies are flagged over- and underexposed.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
require jq "read the events"
require vips "make the copies (libvips-tools)"

sample --out shoot --count 1 --megapixels 1
cd shoot
# Same EXIF (and so the same capture time) as the original, other pixels.
vips gaussblur IMG_0001.JPG blurred.jpg 4
vips linear IMG_0001.JPG bright.jpg 1 110 --uchar
vips linear IMG_0001.JPG dark.jpg 0.2 0 --uchar
wsp run 2>../run.err || { cat ../run.err >&2; fail "run failed"; }
wsp --json tag show >../show.jsonl 2>/dev/null
cd ..
value() { jq -r --arg f "$1" "select(.event == \"tag.show\" and .file == \$f) | .$2" show.jsonl; }

sharp=$(value IMG_0001.JPG sharpness)
soft=$(value blurred.jpg sharpness)
awk -v a="$sharp" -v b="$soft" 'BEGIN { exit !(a > 2 * b) }' || fail "sharpness: original $sharp vs blurred $soft"
expect_eq "$(value blurred.jpg group)" "$(value IMG_0001.JPG group)" "the blurred copy groups with the original"
[ "$(value IMG_0001.JPG group)" != null ] || fail "no group"
expect_eq "$(value IMG_0001.JPG best_pick)" true "the sharp original is the best pick"
expect_eq "$(value blurred.jpg best_pick)" false "the blurred copy is not"

expect_eq "$(value bright.jpg overexposed)" true "brightened copy flagged"
expect_eq "$(value dark.jpg underexposed)" true "darkened copy flagged"
expect_eq "$(value IMG_0001.JPG overexposed)$(value IMG_0001.JPG underexposed)" falsefalse "original not flagged"
expect_eq "$(jq -r --arg f bright.jpg 'select(.file == $f) | .keywords | index("overexposed") != null' show.jsonl)" true \
  "the flag is a keyword too"
echo ok
