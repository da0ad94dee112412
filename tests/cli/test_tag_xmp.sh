# `tag --xmp` writes a well-formed XMP sidecar beside every photo, merges into
# a Lightroom sidecar without losing its develop settings or keywords, never
# touches the photo, writes nothing when nothing changed, follows overrides,
# and reports a sidecar it cannot read while the others are written.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
require xmllint "read the sidecars (libxml2-utils)"
require jq "read the events"

xpath() { xmllint --xpath "$2" "$1" 2>/dev/null || true; }
label_of() { xpath "$1" "string((//@*[local-name()='Label'] | //*[local-name()='Label'])[1])"; }
rating_of() { xpath "$1" "string((//@*[local-name()='Rating'] | //*[local-name()='Rating'])[1])"; }
keywords_of() { xpath "$1" "//*[local-name()='subject']//*[local-name()='li']/text()" | tr '\n' '|'; }

sample --out shoot --count 4 --megapixels 1
cat >shoot/wsportfolio.yaml <<'YAML'
project: { timezone: Europe/Paris }
timeline:
  - { scene: ceremony, from: "00:00", to: "23:59" }
YAML
# A sidecar as Lightroom Classic writes it, with develop settings and a keyword.
lightroom_sidecar shoot/IMG_0001.xmp 2
sha256sum shoot/*.JPG >photos.sha

(cd shoot && wsp run) 2>run.err || { cat run.err >&2; fail "run failed"; }
(cd shoot && wsp --json tag --xmp) >tag1.jsonl 2>tag1.err || { cat tag1.err >&2; fail "tag --xmp failed"; }
expect_eq "$(jq -r 'select(.event == "tag.xmp") | .written' tag1.jsonl)" 4 "four sidecars written"
for photo in shoot/IMG_000{1,2,3,4}.JPG; do
  sidecar=${photo%.JPG}.xmp
  [ -f "$sidecar" ] || fail "no sidecar for $photo"
  xmllint --noout "$sidecar" || fail "$sidecar is not well-formed XML"
  expect_eq "$(label_of "$sidecar")" ceremony "$sidecar: the scene as label"
  case "$(keywords_of "$sidecar")" in *"ceremony|"*) ;; *) fail "$sidecar: no scene keyword";; esac
  [ -n "$(xpath "$sidecar" "string(//*[local-name()='description']//*[local-name()='li'])")" ] ||
    fail "$sidecar: no description"
done
sha256sum -c --quiet photos.sha || fail "a photo was modified"

# The Lightroom sidecar kept everything it had.
lr=shoot/IMG_0001.xmp
expect_eq "$(xpath $lr "string(//@*[local-name()='Exposure2012'])")" "+0.35" "develop settings kept"
expect_eq "$(xpath $lr "count(//*[local-name()='ToneCurvePV2012']//*[local-name()='li'])")" 2 "tone curve kept"
expect_eq "$(rating_of $lr)" 2 "Lightroom's rating kept (no override)"
case "$(keywords_of $lr)" in "Smith wedding|ceremony|"*) ;; *) fail "keywords not merged: $(keywords_of $lr)";; esac

# Nothing changed: nothing written.
cp $lr lr.before
(cd shoot && wsp --json tag --xmp) >tag2.jsonl 2>/dev/null
expect_eq "$(jq -r 'select(.event == "tag.xmp") | .written' tag2.jsonl)" 0 "second pass writes nothing"
expect_eq "$(jq -r 'select(.event == "tag.xmp") | .unchanged' tag2.jsonl)" 4 "all unchanged"
cmp -s lr.before $lr || fail "an unchanged sidecar was rewritten"

# Overrides reach the sidecar: scene, rating, removed keyword.
(cd shoot && wsp tag set IMG_0001.JPG --scene portrait --rating 5 --remove-tag "Smith wedding") 2>/dev/null
(cd shoot && wsp tag --xmp) 2>/dev/null
expect_eq "$(label_of $lr)" portrait "override scene"
expect_eq "$(rating_of $lr)" 5 "override rating"
case "$(keywords_of $lr)" in *ceremony*|*"Smith wedding"*) fail "stale keywords left: $(keywords_of $lr)";; esac
expect_eq "$(xpath $lr "string(//@*[local-name()='Exposure2012'])")" "+0.35" "develop settings still kept"

# A sidecar that is not XML is reported and left alone; the others are written.
printf '<x:xmpmeta><rdf:RDF>broken' >shoot/IMG_0002.xmp
cp shoot/IMG_0002.xmp broken.before
(cd shoot && wsp tag set IMG_0002.JPG IMG_0003.JPG --rating 3) 2>/dev/null
cd shoot
wsp_code tag --xmp 2>../tag4.err
cd ..
expect_eq "$code" 1 "a bad sidecar fails the item"
expect_grep 'IMG_0002.xmp' tag4.err "the message names the sidecar"
cmp -s broken.before shoot/IMG_0002.xmp || fail "the unreadable sidecar was touched"
expect_eq "$(rating_of shoot/IMG_0003.xmp)" 3 "the other sidecar was written"
echo ok
