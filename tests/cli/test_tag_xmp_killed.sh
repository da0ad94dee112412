# `tag --xmp` killed at any point of writing a sidecar leaves the old sidecar
# or the new one, whole: SIGKILL is injected (strace) at each write, fsync,
# fchown, fchmod and rename the command makes, one kill per run.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
require strace "kill at a chosen system call"
strace -f -qq -o /dev/null true 2>/dev/null || skip "ptrace is not permitted here"
# LeakSanitizer cannot work under ptrace and would fail every traced run.
export ASAN_OPTIONS=detect_leaks=0

sample --out shoot --count 1 --megapixels 0.3
cat >shoot/wsportfolio.yaml <<'YAML'
project: { timezone: Europe/Paris }
timeline:
  - { scene: ceremony, from: "00:00", to: "23:59" }
YAML
(cd shoot && wsp run) 2>run.err || { cat run.err >&2; fail "run failed"; }
cat >old.xmp <<'XMP'
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:crs="http://ns.adobe.com/camera-raw-settings/1.0/" xmp:Rating="2" crs:Exposure2012="+0.35"/>
 </rdf:RDF>
</x:xmpmeta>
XMP
# What an uninterrupted run writes, from a copy of the project.
cp -a shoot reference
cp old.xmp reference/IMG_0001.xmp
(cd reference && wsp tag --xmp) 2>/dev/null
cp reference/IMG_0001.xmp new.xmp
cmp -s old.xmp new.xmp && fail "the sidecar does not change: the test tests nothing"

kills=0
for call in write fsync fchown fchmod rename; do
  # How many such calls a whole run makes (a sanitized build writes more than
  # a plain one): a kill is tried at each of them, and one past the last.
  cp old.xmp shoot/IMG_0001.xmp
  (cd shoot && strace -f -qq -c -o ../count.txt -e trace=$call "$WSP_BIN" --no-progress tag --xmp) >/dev/null 2>&1 ||
    fail "tag --xmp under strace failed"
  calls=$(awk -v call="$call" '$NF == call { print $4 }' count.txt)
  for n in $(seq 1 $((${calls:-0} + 1))); do
    cp old.xmp shoot/IMG_0001.xmp
    set +e
    (cd shoot && strace -f -qq -o /dev/null -e trace=$call -e inject=$call:signal=KILL:when=$n \
      "$WSP_BIN" --no-progress tag --xmp) >/dev/null 2>&1
    code=$?
    set -e
    if cmp -s shoot/IMG_0001.xmp old.xmp; then state=old
    elif cmp -s shoot/IMG_0001.xmp new.xmp; then state=new
    else diff old.xmp shoot/IMG_0001.xmp >&2 || true; fail "killed at $call #$n: the sidecar is neither the old nor the new one"; fi
    [ "$code" -eq 0 ] && break  # fewer than $n such calls: the run went through
    kills=$((kills + 1))
    echo "killed at $call #$n: $state sidecar" >&2
  done
  [ "$code" -eq 0 ] || fail "tag --xmp made more $call calls than the ${calls:-0} counted"
done
[ "$kills" -gt 5 ] || fail "only $kills kills happened: the injection does not work"

# After the kills, a run completes the sidecar and leaves no temporary behind.
(cd shoot && wsp tag --xmp) 2>/dev/null
cmp -s shoot/IMG_0001.xmp new.xmp || fail "the last run did not write the new sidecar"
leftovers=$(find shoot -maxdepth 1 -name '.*.tmp-*')
[ -z "$leftovers" ] || fail "temporaries of killed runs left in the shoot folder: $leftovers"
