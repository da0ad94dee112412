# verify finds each injected fault and says so (exit 3), grouped by problem,
# with --json: a flipped byte in a source that kept its size and date (bit
# rot), a deleted render, a deleted published file, a hand-edited page with a
# broken link, and a published JPEG with a GPS position put back. --repair
# queues what can be rebuilt; after the next run everything matches (exit 0).
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
require jq "read the findings"
require exiftool "put a GPS position back"
kinds() { jq -r 'select(.event == "verify.finding") | .kind' "$1" | sort -u | tr '\n' ' '; }

sample --out shoot --count 4 --megapixels 1
wsp run shoot 2>/dev/null || fail "run failed"
cd shoot
wsp_code --json verify >clean.jsonl 2>clean.err
expect_eq "$code" 0 "a fresh project verifies clean"
expect_eq "$(jq -r 'select(.event == "verify.completed") | .findings' clean.jsonl)" 0 "no findings"

public=.wsportfolio/public
# Bit rot: one byte flipped in the middle of a source, size and date kept.
cp -p IMG_0001.JPG ../keep.jpg
size=$(stat -c %s IMG_0001.JPG)
printf '\x55' | dd of=IMG_0001.JPG bs=1 seek=$((size / 2)) conv=notrunc status=none
cmp -s IMG_0001.JPG ../keep.jpg && printf '\xAA' | dd of=IMG_0001.JPG bs=1 seek=$((size / 2)) conv=notrunc status=none
touch -r ../keep.jpg IMG_0001.JPG
# A render deleted.
render=$(jq -r '.images[] | select(.source == "IMG_0002.JPG") | .variants[0].path' .wsportfolio/manifest.json)
rm ".wsportfolio/$render"
# A published file deleted.
published_webp=$(cd $public && ls renders/*.webp | head -1)
rm "$public/$published_webp"
# A page edited by hand, with a link to nowhere.
sed -i 's|</body>|<a href="renders/not-there.jpg">lost</a></body>|' $public/index.html
# A published JPEG with a GPS position put back.
published_jpg=$(cd $public && ls renders/*.jpg | tail -1)
exiftool -q -overwrite_original -GPSLatitude=43.5 -GPSLatitudeRef=N -GPSLongitude=5.4 -GPSLongitudeRef=E \
  "$public/$published_jpg"

wsp_code --json verify >faults.jsonl 2>faults.err
expect_eq "$code" 3 "verify exits 3 on findings"
found=$(kinds faults.jsonl)
for kind in source.bit_rot render.missing published.missing published.corrupt page.broken_link published.privacy; do
  case " $found" in *" $kind "*) ;; *) fail "no $kind finding (found: $found)";; esac
done
expect_eq "$(jq -r 'select(.kind == "source.bit_rot") | .file' faults.jsonl)" IMG_0001.JPG "the rotten source is named"
expect_grep "not-there.jpg" faults.jsonl "the broken link is named"
expect_eq "$(jq -r 'select(.kind == "published.privacy") | .file' faults.jsonl)" "site: $published_jpg" \
  "the leaking file is named"
wsp verify >report.txt 2>/dev/null || true
expect_grep 'bit rot' report.txt "the human report groups by problem"
expect_grep 'GPS position' report.txt "and says what leaks"

# --fast does not read the sources: the flipped byte goes unseen.
wsp_code --json verify --fast >fast.jsonl 2>/dev/null
case " $(kinds fast.jsonl)" in *" source.bit_rot "*) fail "--fast re-hashed the sources";; esac

# Repair what can be rebuilt; the source needs the photographer (a backup).
cp -p ../keep.jpg IMG_0001.JPG
wsp_code --json verify --repair >repair.jsonl 2>/dev/null
expect_eq "$code" 3 "findings are still reported when repaired"
wsp run 2>/dev/null || fail "the run after repair failed"
wsp_code --json verify >after.jsonl 2>after.err
[ "$code" -eq 0 ] || { jq -c 'select(.event == "verify.finding")' after.jsonl >&2; fail "findings left after repair and run"; }
echo ok
