# The metadata a WebP variant keeps (artist, copyright) is in an EXIF chunk
# that readers accept: the TIFF structure itself, without JPEG's "Exif\0\0".
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
require exiftool "read the variants"

sample --out shoot --count 1 --megapixels 0.3
cat >shoot/wsportfolio.yaml <<'YAML'
render:
  widths: [320]
  metadata: { keep: [artist, copyright] }
YAML
wsp ingest shoot 2>/dev/null
wsp render shoot 2>/dev/null
webp=shoot/.wsportfolio/$(sql shoot "select path from variants where format='webp'")
[ -f "$webp" ] || fail "no WebP variant"
exiftool -a -warning -Artist -Copyright "$webp" >exif.txt
cat exif.txt >&2
expect_no_grep 'Warning' exif.txt "exiftool reads the WebP's EXIF without a warning"
expect_grep 'Artist *: Alex Martin' exif.txt "the artist is kept"
expect_grep 'Copyright *: Copyright 2024 Alex Martin Photography' exif.txt "the copyright is kept"
