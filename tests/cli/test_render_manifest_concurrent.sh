# Two processes that render one project at once each write manifest.json after
# their renders: the one that writes last must not undo what the other added.
# Deterministic interleaving: process A has read the catalog (2 renders) and is
# held while it reads the old manifest (a named pipe the test controls); B then
# renders a third photo. Only once B has finished, or waits for A, is A let go.
# The manifest must list all 3 photos at the end.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
require jq "read the manifest"
[ -r /proc/locks ] || skip "/proc/locks is needed to see a process wait for a lock"

sample --out shoot --count 2 --megapixels 1
sample --out later --count 3 --megapixels 1
wsp -q run shoot 2>/dev/null || fail "first run failed"
manifest=shoot/.wsportfolio/manifest.json
expect_eq "$(jq '.images | length' $manifest)" 2 "images in the first manifest"

# manifest.json becomes a named pipe; a hard link keeps it for the test.
rm $manifest
mkfifo $manifest
ln $manifest held.fifo
# The writer end: opening it waits for A to open the pipe for reading; A then
# reads until the writer closes.
( exec 3>held.fifo; touch a-reading; while [ ! -e release ]; do sleep 0.05; done ) & writer=$!
"$WSP_BIN" --no-progress render shoot >a.out 2>a.err & a=$!
wait_for() {  # condition, what
  for _ in $(seq 600); do eval "$1" && return 0; sleep 0.05; done
  fail "timed out waiting for $2"
}
wait_for '[ -e a-reading ]' "A to read the old manifest"

rm $manifest
cp later/IMG_0003.JPG shoot/
wsp -q ingest shoot 2>/dev/null || fail "ingest of the third photo failed"
"$WSP_BIN" --no-progress render shoot >b.out 2>b.err & b=$!
b_waits() { grep -Eq -- "-> FLOCK +ADVISORY +WRITE +$b " /proc/locks; }
wait_for '! kill -0 $b 2>/dev/null || b_waits' "B to finish or wait for A"
touch release
set +e
wait "$writer"
wait "$a"; code_a=$?
wait "$b"; code_b=$?
set -e
[ "$code_a" -eq 0 ] || { cat a.err >&2; fail "A exited $code_a"; }
[ "$code_b" -eq 0 ] || { cat b.err >&2; fail "B exited $code_b"; }
expect_eq "$(sql shoot "select count(*) from jobs where stage='render' and state='done'")" 3 "render jobs done"
[ -f $manifest ] || fail "manifest.json is not a file"
expect_eq "$(jq '.images | length' $manifest)" 3 "the manifest lists every rendered photo"
echo ok
