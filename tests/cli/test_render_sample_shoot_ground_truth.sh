# The ground truth make-sample-shoot writes (.shoot.json) is valid JSON, UTF-8
# throughout, even when the folder of photos it crops from has a name that is
# not UTF-8; the fields the tests and the benchmark read are there.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
require jq "read the ground truth"
require vips "make the photos"

latin1=$(printf 'caf\xe9')
mkdir -p "photos/$latin1"
vips black black.v 2000 1500 --bands 3
vips linear black.v grey.v "1 1 1" "100 120 140" --uchar
vips copy grey.v "photos/$latin1/a.jpg"
sample --out shoot --count 3 --megapixels 0.1 --with-bad-files --photos "photos/$latin1"
iconv -f UTF-8 -t UTF-8 shoot/.shoot.json >/dev/null 2>&1 || fail ".shoot.json is not UTF-8"
jq -e . shoot/.shoot.json >/dev/null || fail ".shoot.json is not JSON"
expect_eq "$(jq -r '.files | length' shoot/.shoot.json)" "$(cd shoot && ls *.JPG 'Première danse 01.jpg' | wc -l)" \
  "photos in the ground truth"
expect_eq "$(jq -r '.files[0].name' shoot/.shoot.json)" "$(cd shoot && ls IMG_*.JPG | head -1)" "first photo's name"
expect_eq "$(jq -r '[.files[] | .orientation, .burst, .scene, .camera_serial | type] | unique | join(",")' shoot/.shoot.json)" \
  "number,string" "types of the fields read by tests"
jq -r '.content' shoot/.shoot.json | grep -q '^photos from photos/caf' || fail "the content names the photos' folder"
expect_eq "$(jq -r '.files | map(.name) | index("Première danse 01.jpg") != null' shoot/.shoot.json)" true \
  "the accented photo is listed by its name"
expect_eq "$(jq -r '.bad_files | length > 3' shoot/.shoot.json)" true "the bad files are listed"
