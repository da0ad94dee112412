# `watch --once` (for cron) processes the files that are there and exits 0.
source "$(dirname "$0")/watch_lib.sh"

make_project 300
sample --out proj --count 3 --megapixels 1
wsp_code --json watch --once proj >once.jsonl 2>once.err
[ "$code" -eq 0 ] || { cat once.err >&2; fail "watch --once exited $code"; }
expect_eq "$(count once.jsonl '.event == "ingest.completed"')" 1 "ingest ran"
expect_eq "$(events once.jsonl '.event == "ingest.completed"' | jq -r '.added')" 3 "added"
expect_eq "$(events once.jsonl '.event == "render.completed"' | jq -r '.rendered')" 3 "rendered"
expect_eq "$(sql proj "select count(*) from jobs where stage='tag' and state='done'")" 3 "tagged"

# Run again: nothing new, still exit 0.
wsp_code --json watch --once proj >again.jsonl 2>again.err
expect_eq "$code" 0 "second --once"
expect_eq "$(events again.jsonl '.event == "render.completed"' | jq -r '.rendered')" 0 "rendered again"

# A photo deleted since is marked missing and leaves the gallery, though
# --once reads only the files it saw complete.
rm proj/IMG_0001.JPG
wsp_code --json watch --once proj >deleted.jsonl 2>deleted.err
expect_eq "$code" 0 "--once after a deletion"
expect_eq "$(sql proj "select status from images where path='IMG_0001.JPG'")" missing "the deleted photo"
expect_eq "$(events deleted.jsonl '.event == "publish.completed"' | jq -r '.images')" 2 "photos in the gallery"
echo ok
