# An unchanged re-run opens no image file at all: it decides from stat alone.
# (LeakSanitizer cannot run under ptrace, so it is off for the traced runs.)
source "$(dirname "$0")/lib.sh"
require strace "count the file reads"

sample --out shoot --count 6 --megapixels 1
wsp ingest shoot 2>/dev/null
ASAN_OPTIONS=detect_leaks=0 strace -f -e trace=open,openat -o trace.txt "$WSP_BIN" --no-progress ingest shoot 2>/dev/null
if grep -E 'IMG_[0-9]+\.JPG' trace.txt | grep -v ENOENT >opened.txt; then
  cat opened.txt >&2
  fail "an unchanged re-run opened image files"
fi
# The control: touching one file makes exactly that one be read.
touch shoot/IMG_0003.JPG
ASAN_OPTIONS=detect_leaks=0 strace -f -e trace=open,openat -o trace2.txt "$WSP_BIN" --no-progress ingest shoot 2>/dev/null
expect_eq "$(grep -cE 'IMG_0003\.JPG' trace2.txt)" 1 "the touched file is opened once"
expect_eq "$(grep -E 'IMG_[0-9]+\.JPG' trace2.txt | grep -vc IMG_0003)" 0 "no other file is opened"
echo ok
