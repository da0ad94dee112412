# `run` tags a sample shoot: with the day's timeline and the second body's clock
# correction every frame lands in the scene the generator shot it in; the
# generator's bursts come out as groups with one best pick each; a re-run tags
# nothing; a new timeline re-tags from the cached observations without
# decoding; changing render.widths re-renders but does not re-tag.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
require jq "read the events"
event_field() { jq -r --arg e "$2" "select(.event == \$e) | .$3" "$1"; }

sample --out shoot --count 24 --megapixels 1
cat >shoot/wsportfolio.yaml <<'YAML'
project: { timezone: Europe/Paris }
timeline:
  - { scene: getting_ready, from: "11:00", to: "13:15" }
  - { scene: ceremony,      from: "14:00", to: "14:45" }
  - { scene: portrait,      from: "15:00", to: "17:30" }
  - { scene: reception,     from: "18:00", to: "23:00" }
cameras:
  - { serial: "083021002694", offset: "-00:04:07" }   # the R6 runs 4 min 7 s fast
YAML

(cd shoot && wsp --json run) >run1.jsonl 2>run1.err || { cat run1.err >&2; fail "run failed"; }
expect_eq "$(event_field run1.jsonl tag.completed tagged)" 24 "every frame tagged"
expect_eq "$(event_field run1.jsonl tag.completed failed)" 0 "no tagging failure"
(cd shoot && wsp --json tag show) >show1.jsonl 2>/dev/null

# Scene accuracy against the generator's schedule.
jq -r '.files[] | "\(.name) \(.scene)"' shoot/.shoot.json | sort >truth.txt
jq -r 'select(.event == "tag.show") | "\(.file) \(.scene)"' show1.jsonl | sort >found.txt
diff truth.txt found.txt >&2 || fail "scenes differ from the generator's schedule"
expect_eq "$(jq -r 'select(.event == "tag.show") | .basis' show1.jsonl | sort -u)" timeline "every scene from the timeline"

# Every burst of the generator is one group with exactly one best pick, and no
# group mixes frames of different bursts.
bursts=$(jq -r '[.files[] | select(.burst > 0) | .burst] | unique | .[]' shoot/.shoot.json)
[ -n "$bursts" ] || fail "the sample shoot has no burst to find"
for burst in $bursts; do
  groups=$(jq -r --argjson b "$burst" '.files[] | select(.burst == $b) | .name' shoot/.shoot.json |
    while read -r name; do jq -r --arg f "$name" 'select(.event == "tag.show" and .file == $f) | .group // "none"' show1.jsonl; done | sort -u)
  expect_eq "$(echo "$groups" | wc -l)" 1 "burst $burst is one group"
  [ "$groups" != none ] || fail "burst $burst is not grouped"
  picks=$(jq -r --argjson g "$groups" 'select(.event == "tag.show" and .group == $g and .best_pick) | .file' show1.jsonl | wc -l)
  expect_eq "$picks" 1 "burst $burst has one best pick"
  members=$(jq -r --argjson g "$groups" 'select(.event == "tag.show" and .group == $g) | .file' show1.jsonl | wc -l)
  expect_eq "$members" "$(jq --argjson b "$burst" '[.files[] | select(.burst == $b)] | length' shoot/.shoot.json)" \
    "group of burst $burst holds exactly its frames"
done
grouped=$(jq -r 'select(.event == "tag.show" and .group != null) | .file' show1.jsonl | wc -l)
expect_eq "$grouped" "$(jq '[.files[] | select(.burst > 0)] | length' shoot/.shoot.json)" "only burst frames are grouped"

# Nothing changed: nothing to tag.
(cd shoot && wsp --json run) >run2.jsonl 2>/dev/null
expect_eq "$(event_field run2.jsonl tag.completed tagged)" 0 "unchanged re-run tags nothing"

# A new timeline re-tags every frame from the cached observations.
sed -i 's/"14:45"/"14:50"/' shoot/wsportfolio.yaml
(cd shoot && wsp --json tag) >tag4.jsonl 2>/dev/null
expect_eq "$(event_field tag4.jsonl tag.completed tagged)" 24 "a new timeline re-tags"
expect_eq "$(event_field tag4.jsonl tag.completed from_cache)" 24 "from the cached observations"

# Another render width re-renders without re-tagging.
echo 'render: { widths: [480, 960, 1200] }' >>shoot/wsportfolio.yaml
(cd shoot && wsp --json run) >run3.jsonl 2>/dev/null
expect_eq "$(event_field run3.jsonl render.completed rendered)" 24 "new widths re-render"
expect_eq "$(event_field run3.jsonl tag.completed tagged)" 0 "new widths do not re-tag"

(cd shoot && wsp status) >status.txt 2>&1
expect_grep 'tags ' status.txt "status shows the tags"
expect_grep 'ceremony' status.txt "status counts scenes"
echo ok
