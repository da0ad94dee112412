# publish.gallery.downloads: originals. Each photo of the gallery links its
# original, published to a local folder and to an S3 target alike: the same
# bytes in both, read back with the aws command line. The copy has no GPS, no
# camera or lens serial number and no maker notes, keeps the artist and the
# copyright that render.metadata.keep names (and loses them when it names
# none), and its image data are the original's, byte for byte.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/s3_lib.sh"
require exiftool "read and write the originals' metadata"
s3_start

sample --out shoot --count 2 --megapixels 1
exiftool -q -overwrite_original -GPSLatitude=48.8566 -GPSLatitudeRef=N -GPSLongitude=2.3522 -GPSLongitudeRef=E \
  -SerialNumber=CAM-SERIAL-4471 -LensSerialNumber=LENS-SERIAL-0932 -OwnerName="Claire Martin" \
  -Artist="Claire Martin Photography" -Copyright="(c) 2026 Claire Martin" shoot/IMG_0001.JPG
expect_grep "48 deg" <(exiftool -GPSLatitude shoot/IMG_0001.JPG) "the source carries GPS"
cat >shoot/wsportfolio.yaml <<YAML
publish:
  targets:
    - { name: site, type: local, path: ./public }
    - { name: cdn, type: s3, bucket: $S3_BUCKET, endpoint: "$S3_ENDPOINT", path_style: true, prefix: wedding }
  gallery: { downloads: originals }
YAML
export AWS_ACCESS_KEY_ID=$S3_KEY_ID AWS_SECRET_ACCESS_KEY=$S3_SECRET_VALUE AWS_SHARED_CREDENTIALS_FILE=/dev/null
(cd shoot && wsp run) 2>run.err || { cat run.err >&2; fail "run failed"; }

link=$(grep -o 'href="originals/img-0001\.[0-9a-f]\{12\}\.jpg" download' shoot/public/index.html | cut -d'"' -f2)
[ -n "$link" ] || { cat shoot/public/index.html >&2; fail "the gallery links the first photo's original for download"; }
expect_eq "$(grep -c 'class="download"' shoot/public/index.html)" 2 "both photos link their originals"
copy=shoot/public/$link
[ -f "$copy" ] || fail "the original is published to the folder"
expect_eq "$(sha256sum <"$copy" | cut -d' ' -f1 | cut -c1-12)" "$(echo "$link" | cut -d. -f2)" \
  "the original's name carries its content hash"

exiftool -j -G1 -a "$copy" >copy.json
for tag in GPSLatitude GPSLongitude SerialNumber LensSerialNumber OwnerName; do
  expect_eq "$(jq "[.[0] | to_entries[] | select(.key | endswith(\":$tag\"))] | length" copy.json)" 0 "no $tag in the copy"
done
expect_eq "$(jq '[.[0] | keys[] | select(startswith("MakerNotes") or startswith("Canon") or startswith("Nikon"))] | length' copy.json)" 0 \
  "no maker notes in the copy"
expect_eq "$(exiftool -s3 -Artist "$copy")" "Claire Martin Photography" "render.metadata.keep keeps the artist"
expect_eq "$(exiftool -s3 -Copyright "$copy")" "(c) 2026 Claire Martin" "render.metadata.keep keeps the copyright"
expect_eq "$(exiftool -s3 -Model "$copy")" "$(exiftool -s3 -Model shoot/IMG_0001.JPG)" "the camera model stays"
exiftool -q -all= -o bare-source.jpg shoot/IMG_0001.JPG
exiftool -q -all= -o bare-copy.jpg "$copy"
cmp bare-source.jpg bare-copy.jpg || fail "the copy's image data differ from the original's"

s3api get-object --bucket "$S3_BUCKET" --key "wedding/$link" s3-copy.jpg >/dev/null
cmp s3-copy.jpg "$copy" || fail "the S3 target holds other bytes than the folder"
expect_eq "$(s3api head-object --bucket "$S3_BUCKET" --key "wedding/$link" | jq -r .ContentType)" image/jpeg \
  "the original's content type"

# Unchanged: the originals are not made again, and nothing is sent.
before=$(s3_requests)
(cd shoot && wsp publish) 2>again.err || { cat again.err >&2; fail "the unchanged publish failed"; }
expect_eq "$(s3_requests)" "$before" "an unchanged publish sends no request"

# A policy that keeps nothing: a new copy without the artist and the copyright.
cat >>shoot/wsportfolio.yaml <<YAML
render:
  metadata: { keep: [] }
YAML
(cd shoot && wsp run) 2>policy.err || { cat policy.err >&2; fail "run after the policy change failed"; }
new_link=$(grep -o 'href="originals/img-0001\.[0-9a-f]\{12\}\.jpg"' shoot/public/index.html | cut -d'"' -f2)
[ "$new_link" != "$link" ] || fail "a new policy gives a new copy"
expect_eq "$(exiftool -s3 -Artist -Copyright "shoot/public/$new_link")" "" "no artist nor copyright kept"
echo ok
