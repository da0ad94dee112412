# Photo Mechanic saves a sidecar while `tag --xmp` merges into it: the save is
# not lost. strace holds the tool between reading the sidecar and renaming its
# merge over it (its temporary takes the old file's mode with fchmod, then is
# renamed); the save happens in that window, seen to begin in strace's log,
# and the tool must merge again into what was saved.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
require strace "hold tag --xmp between its read and its rename"
require exiftool "read the sidecar independently (libimage-exiftool-perl)"

save() {  # FILE KEYWORD RATING: a complete save, as Photo Mechanic makes it (temporary, rename)
  cat >"$1.pmtmp" <<XMP
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:dc="http://purl.org/dc/elements/1.1/" xmp:Rating="$3">
   <dc:subject><rdf:Bag><rdf:li>$2</rdf:li></rdf:Bag></dc:subject>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
XMP
  mv "$1.pmtmp" "$1"
}

sample --out shoot --count 1 --megapixels 0.3
wsp run shoot 2>/dev/null || fail "run failed"
save shoot/IMG_0001.xmp "first cut" 1
# The catalog knows the first save's rating; the tool must not write it back over a newer one.
(cd shoot && wsp tag review) >/dev/null 2>&1 || fail "tag review failed"
# strace may not be allowed to trace (a container without ptrace): then there is nothing to hold.
strace -f -qq -o /dev/null true 2>/dev/null || skip "ptrace is not permitted here"

# LeakSanitizer cannot run under ptrace.
(cd shoot && ASAN_OPTIONS=detect_leaks=0 exec strace -f -qq -o ../trace.log -e trace=fchmod -e inject=fchmod:delay_enter=3000000 \
  "$WSP_BIN" --no-progress tag --xmp) 2>tag.err &
tagger=$!
for _ in $(seq 300); do
  grep -q 'fchmod(' trace.log 2>/dev/null && break
  kill -0 "$tagger" 2>/dev/null || { cat tag.err >&2; fail "tag --xmp ended before replacing the sidecar"; }
  sleep 0.1
done
grep -q 'fchmod(' trace.log || fail "tag --xmp never came to replace the sidecar"
save shoot/IMG_0001.xmp "client favourite" 5
wait "$tagger" || { cat tag.err >&2; fail "tag --xmp failed"; }

keywords=$(exiftool -s3 -sep '|' -XMP-dc:Subject shoot/IMG_0001.xmp)
case "|$keywords|" in *"|client favourite|"*) ;; *) fail "the save made meanwhile was lost: $keywords";; esac
expect_eq "$(exiftool -s3 -XMP-xmp:Rating shoot/IMG_0001.xmp)" 5 "the rating saved meanwhile"
[ -n "$(exiftool -s3 -XMP-dc:Description shoot/IMG_0001.xmp)" ] || fail "the tool's alt text was not merged in"
expect_eq "$(grep -c 'fchmod(' trace.log)" 2 "the tool merged again on top of the save"
if ls shoot | grep -q '\.tmp-'; then fail "a temporary was left behind"; fi
echo ok
