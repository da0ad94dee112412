# An analysis image that went missing (deleted by hand, a disk clean-up) is
# not a failure of the photo: tag queues its render again and waits; the next
# run renders it and tags it, and nothing stays failed.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
require jq "read the events"
event_field() { jq -r --arg e "$2" "select(.event == \$e) | .$3" "$1"; }

sample --out shoot --count 3 --megapixels 1
(cd shoot && wsp run) 2>/dev/null || fail "first run failed"
analysis=$(sql shoot "select r.analysis_path from renders r join images i on i.id = r.image_id where i.path = 'IMG_0002.JPG'")
rm "shoot/.wsportfolio/$analysis"
# A new time zone re-tags every image.
echo 'project: { timezone: Asia/Tokyo }' >shoot/wsportfolio.yaml

(cd shoot && wsp --json tag) >tag.jsonl 2>tag.err || { cat tag.err >&2; fail "tag failed"; }
expect_eq "$(event_field tag.jsonl tag.completed tagged)" 2 "the others are tagged"
expect_eq "$(event_field tag.jsonl tag.completed waiting_for_render)" 1 "one waits for render"
expect_eq "$(event_field tag.jsonl tag.completed failed)" 0 "it is not a failure"
expect_grep 'IMG_0002.JPG' tag.err "the message names the photo"
expect_eq "$(sql shoot "select j.state from jobs j join images i on i.id = j.image_id
  where i.path = 'IMG_0002.JPG' and j.stage = 'render'")" pending "its render is queued again"

(cd shoot && wsp --json run) >run.jsonl 2>/dev/null || fail "the next run failed"
expect_eq "$(event_field run.jsonl render.completed rendered)" 1 "the next run renders it"
expect_eq "$(event_field run.jsonl tag.completed tagged)" 1 "and tags it"
[ -f "shoot/.wsportfolio/$analysis" ] || fail "the analysis image is back"
expect_eq "$(sql shoot "select count(*) from jobs where state != 'done'")" 0 "nothing left pending or failed"
echo ok
