# Photo Mechanic saves sidecars over and over while `tag --xmp` merges into
# them: no save is lost. Each sidecar ends with the tool's last save and the
# tool's keywords merged into it, or the tool's merge made on top of that
# save; never the tool's merge of an older save renamed over a newer one.
# (The unit test WriteSidecars.ASaveMadeMeanwhileIsMergedNotLost places a
# save exactly between the read and the rename; this is the same race left
# to the scheduler, many times over.)
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
require exiftool "read the sidecars independently (libimage-exiftool-perl)"

count=12
saves=40
sample --out shoot --count $count --megapixels 0.3
wsp run shoot 2>/dev/null || fail "run failed"

save() {  # FILE N: a complete save as Photo Mechanic makes it, temporary then rename
  cat >"$1.pmtmp" <<XMP
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:dc="http://purl.org/dc/elements/1.1/" xmp:Rating="3">
   <dc:subject><rdf:Bag><rdf:li>save-$2</rdf:li></rdf:Bag></dc:subject>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
XMP
  mv "$1.pmtmp" "$1"
}
for i in $(seq -f %04g 1 $count); do save "shoot/IMG_$i.xmp" 0; done

(
  for n in $(seq 1 $saves); do
    for i in $(seq -f %04g 1 $count); do save "shoot/IMG_$i.xmp" "$n"; done
  done
) &
saver=$!
for _ in 1 2 3; do (cd shoot && wsp tag --xmp) >/dev/null 2>>tag.err || true; done
wait "$saver"
(cd shoot && wsp tag --xmp) >/dev/null 2>>tag.err || { cat tag.err >&2; fail "tag --xmp failed after the saves"; }

for i in $(seq -f %04g 1 $count); do
  keywords=$(exiftool -s3 -sep '|' -XMP-dc:Subject "shoot/IMG_$i.xmp")
  case "|$keywords|" in *"|save-$saves|"*) ;; *) fail "IMG_$i.xmp lost the last save: $keywords";; esac
  expect_eq "$(exiftool -s3 -XMP-xmp:Rating "shoot/IMG_$i.xmp")" 3 "IMG_$i.xmp: the rating saved"
  [ -z "$(exiftool -s3 -XMP-dc:Description "shoot/IMG_$i.xmp")" ] && fail "IMG_$i.xmp: the tool's alt text is missing"
done
if ls shoot | grep -q '\.tmp-'; then fail "a temporary was left behind"; fi
echo ok
