# A photo whose name is as long as the file system allows renders: the
# temporary names of its outputs, longer than the outputs' own, stay within
# NAME_MAX, and none is left behind.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"

sample --out shoot --count 1 --megapixels 0.3
original=$(cd shoot && ls *.JPG)
# The longest render name, "<stem>-<width>.<12 hex>.webp", is then 250 bytes;
# its temporary ".<name>.tmp-<pid>" would be longer than 255.
long=$(printf 'a%.0s' $(seq 227)).jpg
mv "shoot/$original" "shoot/$long"

wsp ingest shoot 2>/dev/null
wsp_code render shoot >render.out 2>render.err
cat render.err >&2
expect_eq "$code" 0 "exit code of render"
expect_no_grep 'File name too long' render.err "no output name is too long"
expect_eq "$(sql shoot "select count(*) from renders")" 1 "the photo is rendered"
while read -r path; do
  [ -f "shoot/.wsportfolio/$path" ] || fail "the catalog records $path, which was not written"
done < <(sql shoot "select path from variants")
[ "$(sql shoot "select max(length(path)) from variants")" -gt 250 ] || fail "no output name near NAME_MAX: the test tests nothing"
leftovers=$(cd shoot/.wsportfolio && find . -name '*.tmp-*')
[ -z "$leftovers" ] || fail "temporary files left behind: $leftovers"
