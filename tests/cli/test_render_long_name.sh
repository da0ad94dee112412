# A photo whose name is nearly as long as the file system allows (250 bytes)
# renders: its outputs' names and their temporaries, longer than the source's,
# stay within NAME_MAX, and none is left behind.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"

sample --out shoot --count 1 --megapixels 0.3
original=$(cd shoot && ls *.JPG)
# A render name, "<stem>-<width>.<12 hex>.webp", would be 273 bytes from the
# whole stem.
long=$(printf 'a%.0s' $(seq 246)).jpg
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
leftovers=$(cd shoot/.wsportfolio && find . -name '*.tmp-*')
[ -z "$leftovers" ] || fail "temporary files left behind: $leftovers"
