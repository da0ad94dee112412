# Without --prune, the files of a photo no longer in the portfolio are listed
# as stale and kept; with --prune exactly those are deleted. A file placed in
# the target by hand is never deleted.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
require jq "read the events"

sample --out shoot --count 4 --megapixels 1
wsp run shoot 2>run.err || { cat run.err >&2; fail "run failed"; }
public=shoot/.wsportfolio/public
echo "hello" >"$public/robots.txt"
mkdir -p "$public/renders" && echo "mine" >"$public/renders/by-hand.jpg"
gone=$(sql shoot "select v.path from variants v join images i on i.id = v.image_id where i.path like '%IMG_0004.JPG'" | sort)
[ "$(echo "$gone" | wc -l)" -ge 2 ] || fail "the photo has renders"
rm shoot/IMG_0004.JPG

wsp --json run shoot >stale.jsonl 2>stale.err || { cat stale.err >&2; fail "run failed"; }
expect_eq "$(jq -r 'select(.event == "publish.completed") | .stale' stale.jsonl)" "$(echo "$gone" | wc -l)" \
  "the removed photo's files are stale"
expect_eq "$(jq -r 'select(.event == "publish.completed") | .deleted' stale.jsonl)" 0 "nothing deleted without --prune"
expect_grep 'stale (kept: --prune removes them)' stale.err "says how to remove them"
while read -r file; do [ -f "$public/$file" ] || fail "$file deleted without --prune"; done <<<"$gone"
expect_no_grep 'img-0004' "$public/index.html" "the page no longer shows it"

(cd shoot && wsp --json publish --dry-run --prune) >plan.jsonl 2>/dev/null
jq -r 'select(.event == "publish.plan") | .plan.steps[] | select(.action == "delete") | .path' plan.jsonl | sort >planned.txt
diff <(echo "$gone") planned.txt >&2 || fail "the plan deletes other files than the removed photo's"

(find "$public" -type f | sort) >before.txt
(cd shoot && wsp --json publish --prune) >prune.jsonl 2>prune.err
expect_eq "$(jq -r 'select(.event == "publish.completed") | .deleted' prune.jsonl)" "$(echo "$gone" | wc -l)" "deleted count"
(find "$public" -type f | sort) >after.txt
comm -23 before.txt after.txt | sed "s|^$public/||" >deleted.txt
diff <(echo "$gone") deleted.txt >&2 || fail "--prune deleted other files than the removed photo's"
[ -f "$public/robots.txt" ] || fail "a file placed by hand was deleted"
[ -f "$public/renders/by-hand.jpg" ] || fail "a file placed by hand among the renders was deleted"
expect_eq "$(sql shoot "select count(*) from published where path like '%img-0004%'")" 0 "the record forgets them"
echo ok
