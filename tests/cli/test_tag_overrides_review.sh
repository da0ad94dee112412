# Overrides from `tag set` always win and survive re-tagging; `tag clear`
# hands an image back to automation; `tag review` lists what falls under
# tagging.min_confidence (here: no timeline, so heuristics only) and an
# override settles it; bad arguments are usage errors naming the problem.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
require jq "read the events"

sample --out shoot --count 4 --megapixels 1
echo 'project: { timezone: Europe/Paris }' >shoot/wsportfolio.yaml
(cd shoot && wsp run) 2>run1.err || { cat run1.err >&2; fail "run failed"; }

(cd shoot && wsp --json tag review) >review1.jsonl 2>review1.err
expect_eq "$(jq -r 'select(.event == "tag.review") | .file' review1.jsonl | wc -l)" 4 \
  "without a timeline every scene is a guess to review"
expect_eq "$(jq -r 'select(.event == "tag.review") | .basis' review1.jsonl | sort -u)" heuristic "guessed by heuristics"
expect_grep '4 image(s) need review' review1.err "review counts them"

(cd shoot && wsp tag set IMG_0001.JPG IMG_0002.JPG --scene detail --add-tag rings --add-tag "Anna & Ben" \
  --remove-tag horizontal --alt "The rings on the order of service" --rating 4) 2>set.err
(cd shoot && wsp --json tag show IMG_0001.JPG) >show1.jsonl 2>/dev/null
expect_eq "$(jq -r .scene show1.jsonl)" detail "the override's scene"
expect_eq "$(jq -r .basis show1.jsonl)" override "marked as an override"
expect_eq "$(jq -r .alt show1.jsonl)" "The rings on the order of service" "the override's alt text"
expect_eq "$(jq -r .rating show1.jsonl)" 4 "the rating"
expect_eq "$(jq -r '.keywords | index("rings") != null' show1.jsonl)" true "added keyword"
expect_eq "$(jq -r '.keywords | index("Anna & Ben") != null' show1.jsonl)" true "added keyword with spaces"
expect_eq "$(jq -r '.keywords | index("horizontal") != null' show1.jsonl)" false "removed keyword"
(cd shoot && wsp --json tag review) >review2.jsonl 2>/dev/null
expect_eq "$(jq -r 'select(.event == "tag.review") | .file' review2.jsonl | sort | tr '\n' ' ')" \
  "IMG_0003.JPG IMG_0004.JPG " "overridden images leave the review list"

# Re-tagging (a timeline now exists) never touches the overrides.
cat >>shoot/wsportfolio.yaml <<'YAML'
timeline:
  - { scene: reception, from: "00:00", to: "23:59" }
YAML
(cd shoot && wsp --json tag) >tag2.jsonl 2>/dev/null
expect_eq "$(jq -r 'select(.event == "tag.completed") | .tagged' tag2.jsonl)" 4 "the new timeline re-tags"
(cd shoot && wsp --json tag show) >show2.jsonl 2>/dev/null
expect_eq "$(jq -r 'select(.file == "IMG_0001.JPG") | .scene' show2.jsonl)" detail "override survives re-tagging"
expect_eq "$(jq -r 'select(.file == "IMG_0003.JPG") | .scene' show2.jsonl)" reception "automation moved the rest"

# Clearing only the scene keeps the rest of the override.
(cd shoot && wsp tag clear IMG_0001.JPG --scene) 2>/dev/null
(cd shoot && wsp --json tag show IMG_0001.JPG) >show3.jsonl 2>/dev/null
expect_eq "$(jq -r .scene show3.jsonl)" reception "scene back to automation"
expect_eq "$(jq -r .rating show3.jsonl)" 4 "rating kept"
(cd shoot && wsp tag clear IMG_0001.JPG) 2>/dev/null
(cd shoot && wsp --json tag show IMG_0001.JPG) >show4.jsonl 2>/dev/null
expect_eq "$(jq -r '.rating // "none"' show4.jsonl)" none "everything cleared"
expect_eq "$(sql shoot "select count(*) from tag_overrides o join images i on i.id = o.image_id where i.path = 'IMG_0001.JPG'")" 0 \
  "no empty override row left"
expect_eq "$(sql shoot "select count(*) from tag_overrides o join images i on i.id = o.image_id where i.path = 'IMG_0002.JPG'")" 1 \
  "the other image keeps its override"

# Usage errors name the problem and change nothing.
cd shoot
wsp_code tag set IMG_0003.JPG --scene wedding_cake 2>../bad1.err
expect_eq "$code" 2 "unknown scene is a usage error"
expect_grep 'wedding_cake' ../bad1.err "the message names the scene"
wsp_code tag set nowhere.jpg --scene detail 2>../bad2.err
expect_eq "$code" 2 "unknown file is a usage error"
expect_grep 'nowhere.jpg' ../bad2.err "the message names the file"
wsp_code tag set IMG_0003.JPG --rating 9 2>../bad3.err
expect_eq "$code" 2 "rating out of range"
expect_eq "$(sql . "select count(*) from tag_overrides o join images i on i.id = o.image_id where i.path = 'IMG_0003.JPG'")" 0 \
  "a refused command changes nothing"
echo ok
