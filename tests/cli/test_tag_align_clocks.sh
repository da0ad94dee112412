# `tag align-clocks` finds a second camera's clock error from frames of the
# same moments: copies of four main-body frames, re-labelled as another body
# whose clock runs 10 minutes fast, give a proposal of -00:10:00 with the
# evidence; once configured, the corrected frames fall in the right scene.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
require jq "read the events"
require exiftool "make the second camera's frames"

sample --out shoot --count 16 --megapixels 1
main=032021001537
jq -r --arg s "$main" '.files[] | select(.camera_serial == $s and .burst == 0) | .name' shoot/.shoot.json | head -4 >picked.txt
[ "$(wc -l <picked.txt)" -eq 4 ] || skip "the sample has fewer than four single frames of the main body"
n=0
while read -r name; do
  n=$((n + 1))
  cp "shoot/$name" "shoot/B_$n.jpg"
  exiftool -q -overwrite_original -SerialNumber=SECOND-1 -Model="Second Body" '-AllDates+=0:0:0 0:10:0' "shoot/B_$n.jpg"
done <picked.txt
cat >shoot/wsportfolio.yaml <<'YAML'
project: { timezone: Europe/Paris }
YAML

(cd shoot && wsp run) 2>run.err || { cat run.err >&2; fail "run failed"; }
(cd shoot && wsp --json tag align-clocks) >align.jsonl 2>/dev/null
(cd shoot && wsp tag align-clocks) >align.txt 2>&1
expect_eq "$(jq -r 'select(.event == "tag.clock_proposal" and .camera == "SECOND-1") | .offset' align.jsonl)" "-00:10:00" \
  "the second body's offset"
[ "$(jq -r 'select(.camera == "SECOND-1") | .matched_pairs' align.jsonl)" -ge 4 ] || fail "all four frames are evidence"
expect_grep "reference camera: $main" align.txt "names the reference camera"
expect_grep 'evidence: 4 of its 4 frames' align.txt "explains the evidence"
expect_grep 'serial: "SECOND-1", offset: "-00:10:00"' align.txt "says what to put in the config"

# Applied, the copies land at the same instants as their originals.
cat >>shoot/wsportfolio.yaml <<'YAML'
cameras:
  - { serial: "SECOND-1", offset: "-00:10:00" }
YAML
(cd shoot && wsp tag) 2>/dev/null
n=0
while read -r name; do
  n=$((n + 1))
  original=$(sql shoot "select t.capture_utc_ms from tags t join images i on i.id = t.image_id where i.path = '$name'")
  copy=$(sql shoot "select t.capture_utc_ms from tags t join images i on i.id = t.image_id where i.path = 'B_$n.jpg'")
  expect_eq "$copy" "$original" "B_$n.jpg corrected onto $name"
done <picked.txt
(cd shoot && wsp --json tag align-clocks) >align2.jsonl 2>/dev/null
expect_eq "$(jq -r 'select(.camera == "SECOND-1") | .offset' align2.jsonl)" "+00:00:00" "nothing left to correct"
echo ok
