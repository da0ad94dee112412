# Photos from a folder outside the project are catalogued by absolute path; the
# published manifest names them by file name alone, and no published file
# gives away the folders of the photographer's disk.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
require jq "read the manifest"

mkdir -p "clients/Smith wedding" proj
sample --out "clients/Smith wedding" --count 2 --megapixels 1
photos=$(cd "clients/Smith wedding" && pwd)
printf 'version: 1\nsources:\n  - path: %s\n' "$photos" >proj/wsportfolio.yaml
wsp -q run proj 2>run.err || { cat run.err >&2; fail "run failed"; }
public=proj/.wsportfolio/public
expect_eq "$(jq -r '.images[].source' $public/manifest.json | sort | tr '\n' ' ')" "IMG_0001.JPG IMG_0002.JPG " \
  "sources in the published manifest"
if grep -rl "Smith wedding" $public; then fail "a published file names the source folder"; fi
expect_grep "Smith wedding" proj/.wsportfolio/manifest.json "the state manifest keeps the full path"
echo ok
