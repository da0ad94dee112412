# `tag --xmp` replaces a sidecar the photographer owns and keeps private with
# one that is still theirs and still private, and leaves no temporary behind.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
[ "$(id -u)" -eq 0 ] || skip "giving the sidecar to another owner needs root"

sample --out shoot --count 1 --megapixels 0.3
cat >shoot/wsportfolio.yaml <<'YAML'
project: { timezone: Europe/Paris }
timeline:
  - { scene: ceremony, from: "00:00", to: "23:59" }
YAML
cat >shoot/IMG_0001.xmp <<'XMP'
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:crs="http://ns.adobe.com/camera-raw-settings/1.0/" xmp:Rating="2" crs:Exposure2012="+0.35"/>
 </rdf:RDF>
</x:xmpmeta>
XMP
chown 4321:4322 shoot/IMG_0001.xmp
chmod 0600 shoot/IMG_0001.xmp
before=$(stat -c %i shoot/IMG_0001.xmp)

(cd shoot && wsp run) 2>run.err || { cat run.err >&2; fail "run failed"; }
(cd shoot && wsp tag --xmp) 2>tag.err || { cat tag.err >&2; fail "tag --xmp failed"; }

expect_grep 'crs:Exposure2012="+0.35"' shoot/IMG_0001.xmp "the develop settings are kept"
expect_grep 'ceremony' shoot/IMG_0001.xmp "the scene is merged in"
[ "$(stat -c %i shoot/IMG_0001.xmp)" != "$before" ] || fail "the sidecar was not replaced: the test tests nothing"
expect_eq "$(stat -c %a shoot/IMG_0001.xmp)" 600 "mode of the sidecar"
expect_eq "$(stat -c %u:%g shoot/IMG_0001.xmp)" 4321:4322 "owner of the sidecar"
leftovers=$(find shoot -name '*.tmp-*')
[ -z "$leftovers" ] || fail "temporary files left behind: $leftovers"
