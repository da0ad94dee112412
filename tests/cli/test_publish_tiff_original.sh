# publish.gallery.downloads: originals with a TIFF original (which exiv2
# rewrites by writing into its mapping of the file): the publish completes,
# the gallery links the copy, and the copy has no GPS nor serial number,
# keeps its camera, and decodes to the original's pixels.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
require exiftool "write the original's metadata"
require vips "make the TIFF and compare its pixels"

sample --out shoot --count 1 --megapixels 1
vips gaussnoise grey.v 900 600 --mean 128 --sigma 40
vips cast grey.v grey8.v uchar
vips bandjoin "grey8.v grey8.v grey8.v" shoot/DSC_0042.tif
exiftool -q -overwrite_original -Make=Nikon '-Model=Z 8' -SerialNumber=3001234 \
  -GPSLatitude=48.8566 -GPSLatitudeRef=N -GPSLongitude=2.3522 -GPSLongitudeRef=E shoot/DSC_0042.tif
expect_grep "48 deg" <(exiftool -GPSLatitude shoot/DSC_0042.tif) "the source carries GPS"
cat >shoot/wsportfolio.yaml <<YAML
publish:
  targets:
    - { name: site, type: local, path: ./public }
  gallery: { downloads: originals }
YAML
(cd shoot && wsp run) >run.out 2>run.err || { cat run.err >&2; fail "run failed"; }
expect_no_grep "not offered for download" run.err "every original is offered"

link=$(grep -o 'href="originals/dsc-0042\.[0-9a-f]\{12\}\.tif" download' shoot/public/index.html | cut -d'"' -f2)
[ -n "$link" ] || { cat shoot/public/index.html >&2; fail "the gallery links the TIFF original for download"; }
copy=shoot/public/$link
expect_eq "$(exiftool -s3 -GPSLatitude -GPSLongitude -SerialNumber "$copy")" "" "no GPS nor serial number in the copy"
expect_eq "$(exiftool -s3 -Model "$copy")" "Z 8" "the camera model stays"
vips subtract shoot/DSC_0042.tif "$copy" difference.v
vips abs difference.v absolute.v
expect_eq "$(vips max absolute.v)" 0.000000 "the copy decodes to the original's pixels"
echo ok
