# Each target shows the photographer's selection as their culling tool saved it:
# stars, colour labels, rejects and Photo Mechanic's tag, read from sidecars
# written as Lightroom Classic, Photo Mechanic, Capture One and darktable write
# them; `publish --dry-run` says what each selection keeps and leaves out.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
require jq "read the manifests"

sample --out shoot --count 5 --megapixels 1
cat >shoot/wsportfolio.yaml <<'YAML'
project: { timezone: Europe/Paris }
publish:
  targets:
    - { name: proofs, type: local, path: ./proofs }
    - { name: best, type: local, path: ./best, select: { min_rating: 3, labels: [Green] } }
    - { name: picks, type: local, path: ./picks, select: { picks_only: true } }
YAML
# Lightroom Classic: 3 stars, Green, attribute form in a packet with padding.
lightroom_sidecar shoot/IMG_0001.xmp 3 Green
# Photo Mechanic: tagged, colour class 4 (green), 5 stars.
cat >shoot/IMG_0002.xmp <<'XMP'
<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="XMP Core 5.5.0">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:photomechanic="http://ns.camerabits.com/photomechanic/1.0/"
    xmlns:xmp="http://ns.adobe.com/xap/1.0/"
   photomechanic:PMVersion="PM6"
   photomechanic:Prefs="1:4:5:000012"
   photomechanic:Tagged="True"
   photomechanic:ColorClass="4"
   xmp:Rating="5"/>
 </rdf:RDF>
</x:xmpmeta>
XMP
# darktable: rejected (rating -1), labelled red and green.
cat >shoot/IMG_0003.xmp <<'XMP'
<?xml version="1.0" encoding="UTF-8"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="XMP Core 4.4.0-Exiv2">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:darktable="http://darktable.sf.net/"
   xmp:Rating="-1"
   darktable:xmp_version="5">
   <darktable:colorlabels>
    <rdf:Seq>
     <rdf:li>0</rdf:li>
     <rdf:li>2</rdf:li>
    </rdf:Seq>
   </darktable:colorlabels>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
XMP
# Capture One on Windows: BOM, CRLF, element form: 1 star, Red.
printf '\xef\xbb\xbf<x:xmpmeta xmlns:x="adobe:ns:meta/">\r\n <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\r\n  <rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/">\r\n   <xmp:Rating>1</xmp:Rating>\r\n   <xmp:Label>Red</xmp:Label>\r\n  </rdf:Description>\r\n </rdf:RDF>\r\n</x:xmpmeta>\r\n' >shoot/IMG_0004.xmp
# IMG_0005 has no sidecar: its selection is inside the JPEG (4 stars, Green, an IPTC keyword).
require exiftool "write a photo's embedded XMP (libimage-exiftool-perl)"
exiftool -q -overwrite_original -XMP-xmp:Rating=4 -XMP-xmp:Label=Green -IPTC:Keywords=toast shoot/IMG_0005.JPG

shown() { jq -r '.images[].source' "$1/manifest.json" | sort | tr '\n' ' '; }

(cd shoot && wsp run) 2>run.err || { cat run.err >&2; fail "run failed"; }
expect_eq "$(shown shoot/proofs)" "IMG_0001.JPG IMG_0002.JPG IMG_0004.JPG IMG_0005.JPG " \
  "the proofing gallery shows everything but darktable's reject"
expect_eq "$(shown shoot/best)" "IMG_0001.JPG IMG_0002.JPG IMG_0005.JPG " \
  "the portfolio shows 3 stars and up labelled Green (Lightroom's label, Photo Mechanic's colour class, embedded XMP)"
expect_eq "$(sql shoot "select origin || ':' || keywords from selections s join images i on i.id = s.image_id where i.path = 'IMG_0005.JPG'")" \
  "embedded:toast" "the embedded selection and its IPTC keyword"
expect_eq "$(shown shoot/picks)" "IMG_0002.JPG " "the picks gallery shows Photo Mechanic's tagged photo"
expect_eq "$(sql shoot "select rating from selections s join images i on i.id = s.image_id where rating is not null order by i.path" | paste -sd,)" \
  "3,5,-1,1,4" "the catalog holds each tool's rating"
expect_eq "$(sql shoot "select labels from selections s join images i on i.id = s.image_id where i.path = 'IMG_0003.JPG'" | paste -sd+)" \
  "Red+Green" "darktable's two labels"

(cd shoot && wsp --json publish --dry-run) >dry.jsonl 2>dry.err || { cat dry.err >&2; fail "publish --dry-run failed"; }
expect_eq "$(jq -r 'select(.event == "publish.selection" and .target == "best") | .kept' dry.jsonl)" 3 \
  "the dry run counts what 'best' keeps"
expect_grep "left out IMG_0004.JPG: 1 stars, 3 wanted" dry.err "the dry run says why a photo is left out"
expect_grep "left out IMG_0003.JPG: rejected" dry.err "the dry run names the rejected photo"
expect_grep "3 stars or more, labelled Green" dry.err "the dry run states the policy"


# The photographer raises IMG_0004 to 4 stars and labels it Green in Capture One.
printf '<x:xmpmeta xmlns:x="adobe:ns:meta/">\r\n <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\r\n  <rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/">\r\n   <xmp:Rating>4</xmp:Rating>\r\n   <xmp:Label>Green</xmp:Label>\r\n  </rdf:Description>\r\n </rdf:RDF>\r\n</x:xmpmeta>\r\n' >shoot/IMG_0004.xmp.new
mv shoot/IMG_0004.xmp.new shoot/IMG_0004.xmp
(cd shoot && wsp --json publish --dry-run) >dry2.jsonl 2>dry2.err || { cat dry2.err >&2; fail "publish --dry-run failed"; }
expect_eq "$(jq -r 'select(.event == "publish.selection" and .target == "best") | .kept' dry2.jsonl)" 4 \
  "the dry run sees the new rating"
expect_eq "$(shown shoot/best)" "IMG_0001.JPG IMG_0002.JPG IMG_0005.JPG " "a dry run changes no gallery"
(cd shoot && wsp publish) 2>pub.err || { cat pub.err >&2; fail "publish failed"; }
expect_eq "$(shown shoot/best)" "IMG_0001.JPG IMG_0002.JPG IMG_0004.JPG IMG_0005.JPG " "the new rating and label reach the portfolio"
echo ok
