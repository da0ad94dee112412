# The photographer's own keywords (dc:subject, Lightroom's hierarchical
# keywords, IPTC keywords) are part of a photo's keywords, first and each once
# whatever its case; `tag --xmp` never writes them back as its own, so one the
# photographer deletes in their tool stays deleted.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
require jq "read the events"
require exiftool "read and edit the sidecars (libimage-exiftool-perl)"

sample --out shoot --count 2 --megapixels 1
(cd shoot && wsp run) 2>run.err || { cat run.err >&2; fail "run failed"; }
keywords() { (cd shoot && wsp --json tag show "$1") 2>/dev/null | jq -c "select(.file == \"$1\") | .keywords"; }
tool=$(keywords IMG_0001.JPG)
other=$(keywords IMG_0002.JPG)
first=$(jq -r '.[0]' <<<"$tool")
[ -n "$first" ] && [ "$first" != null ] || fail "tagging gave IMG_0001.JPG no keyword: $tool"
shouted=$(tr '[:lower:]' '[:upper:]' <<<"$first")

# Lightroom Classic: two keywords of the photographer's, one of them the tool's
# first keyword in capitals, and the hierarchical keyword People|Anna.
lightroom_sidecar shoot/IMG_0001.xmp 4 "" "$shouted"
(cd shoot && wsp publish) 2>pub.err || { cat pub.err >&2; fail "publish failed"; }
expected=$(jq -c --arg first "$first" --arg shouted "$shouted" \
  '["Smith wedding", $shouted, "Anna"] + [.[] | select(ascii_downcase != ($first | ascii_downcase))]' <<<"$tool")
expect_eq "$(keywords IMG_0001.JPG)" "$expected" \
  "the photographer's keywords come first, and the tool's keyword they already have is not repeated"
expect_eq "$(keywords IMG_0002.JPG)" "$other" "a photo without keywords of the photographer's keeps the tool's"

(cd shoot && wsp tag --xmp) 2>xmp.err || { cat xmp.err >&2; fail "tag --xmp failed"; }
subjects() { exiftool -s3 -sep '|' -XMP-dc:Subject shoot/IMG_0001.xmp; }
expect_eq "$(subjects | tr '|' '\n' | grep -cx 'Smith wedding')" 1 "the photographer's keyword is in the sidecar once"
expect_eq "$(subjects | tr '|' '\n' | grep -cix "$first")" 1 "the tool's keyword is not added beside the photographer's capitalised one"
expect_eq "$(sql shoot "select count(*) from tags t join images i on i.id = t.image_id where i.path = 'IMG_0001.JPG' and (t.sidecar_keywords like '%Smith wedding%' or t.sidecar_keywords like '%Anna%')")" \
  0 "the catalog does not record the photographer's keywords as the tool's"

# The photographer deletes "Smith wedding" in Lightroom: it stays deleted.
exiftool -q -overwrite_original '-XMP-dc:Subject-=Smith wedding' shoot/IMG_0001.xmp
(cd shoot && wsp tag --xmp) 2>xmp2.err || { cat xmp2.err >&2; fail "tag --xmp failed"; }
expect_eq "$(subjects | tr '|' '\n' | grep -cx 'Smith wedding' || true)" 0 "tag --xmp does not write back a keyword the photographer deleted"
expect_eq "$(keywords IMG_0001.JPG | jq -r 'index("Smith wedding")')" null "the deleted keyword is no longer the photo's"
expect_eq "$(keywords IMG_0001.JPG | jq -r '.[0]')" "$shouted" "the photographer's remaining keywords still come first"
echo ok
