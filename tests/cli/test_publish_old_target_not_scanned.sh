# A local target left inside the project after publish.targets' path changed
# (./site1 -> ./site2) is never taken for photos: the tool knows its folders
# by their marker, so the next run catalogs the shoot's photos only, and the
# new gallery shows them alone.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
require jq "read the manifest"

sample --out proj --count 3 --megapixels 1
target() { printf 'version: 1\npublish:\n  targets:\n    - { name: site, type: local, path: ./%s }\n' "$1" >proj/wsportfolio.yaml; }
target site1
wsp -q run proj 2>run1.err || { cat run1.err >&2; fail "first run failed"; }
expect_eq "$(sql proj "select count(*) from images where status='active'")" 3 "photos after the first run"
[ -n "$(ls proj/site1/renders)" ] || fail "nothing published to site1"

target site2
wsp -q run proj 2>run2.err || { cat run2.err >&2; fail "second run failed"; }
expect_eq "$(sql proj "select count(*) from images")" 3 "photos after the target moved"
expect_eq "$(sql proj "select count(*) from images where path like 'site1/%'")" 0 "files of site1 catalogued"
expect_eq "$(jq '.images | length' proj/site2/manifest.json)" 3 "photos in the new gallery"
expect_eq "$(grep -c '<picture' proj/site2/index.html)" 3 "pictures on the new page"
echo ok
