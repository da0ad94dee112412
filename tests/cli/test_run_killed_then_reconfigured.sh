# kill -9 after a run wrote an image's files but before it committed them, then
# a new render.widths: the next run's files are the only ones left in renders/.
# Files a killed run wrote are never referenced by the catalog, so nothing else
# would ever remove them once the recipe no longer produces the same names.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
require jq "read the manifest"

sample --out shoot --count 6 --megapixels 1
wsp init shoot 2>/dev/null
wsp ingest shoot 2>/dev/null

"$WSP_BIN" --no-progress run shoot >/dev/null 2>killed.err & pid=$!
SECONDS=0
while [ "$SECONDS" -lt 30 ] && kill -0 "$pid" 2>/dev/null; do
  if compgen -G "shoot/.wsportfolio/renders/img-*" >/dev/null; then
    kill -9 "$pid" 2>/dev/null || true
    break
  fi
done
wait "$pid" 2>/dev/null || true
written=$(find shoot/.wsportfolio/renders -type f | wc -l)
committed=$(sql shoot "select count(*) from renders")
[ "$written" -gt 0 ] || skip "the run ended before writing a file"
[ "$committed" -lt 6 ] || skip "the run committed everything before the kill"
echo "killed after writing $written files, $committed renders committed" >&2

sed -i 's/^\(  widths: \)\[480, 960, 1600, 2400\]/\1[320, 800]/' shoot/wsportfolio.yaml
grep -q '^  widths: \[320, 800\]' shoot/wsportfolio.yaml || fail "could not edit render.widths"
wsp_code run shoot 2>run.err
expect_eq "$code" 0 "the run after the kill"
expect_eq "$(sql shoot "select count(*) from renders")" 6 "every image rendered"
jq -r '.images[].variants[].path' shoot/.wsportfolio/manifest.json | sort >listed.txt
(cd shoot/.wsportfolio && find renders -type f | sort) >on-disk.txt
if ! diff listed.txt on-disk.txt >renders.diff; then
  cat renders.diff >&2
  fail "renders/ keeps files of the killed run that no render refers to"
fi
echo ok
