# --dry-run prints the plan (and with --json, the plan as JSON) and changes
# nothing: no file in the target, no record in the catalog.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
require jq "read the events"

sample --out shoot --count 3 --megapixels 1
wsp ingest shoot 2>/dev/null && (cd shoot && wsp render && wsp tag) 2>/dev/null
public=shoot/.wsportfolio/public
(cd shoot && wsp --json publish --dry-run) >plan.jsonl 2>plan.err
[ ! -e "$public" ] || fail "a dry run created the target folder"
expect_eq "$(sql shoot "select count(*) from published")" 0 "a dry run recorded nothing"
expect_grep 'dry run, nothing written' plan.err "says it is a dry run"
expect_grep 'put .*index.html' plan.err "lists index.html to put"
plan() { jq -r "select(.event == \"publish.plan\") | .plan.$1" plan.jsonl; }
files=$(plan put)
[ "$files" -gt 10 ] || fail "the plan puts every file (got $files)"
expect_eq "$(plan 'steps[-1].path')" index.html "index.html is put last"
expect_eq "$(plan 'steps | map(select(.path == "manifest.json")) | length')" 1 "the manifest is in the plan"
expect_eq "$(jq -r 'select(.event == "publish.completed")' plan.jsonl)" "" "nothing completed"

(cd shoot && wsp publish) 2>/dev/null
snapshot() { (cd "$public" && find . -type f -printf '%p %i %T@\n' | sort); }
snapshot >before.txt
(cd shoot && wsp tag set IMG_0001.JPG --alt "A new alt text") 2>/dev/null
(cd shoot && wsp --json publish --dry-run) >plan2.jsonl 2>plan2.err
expect_eq "$(jq -r 'select(.event == "publish.plan") | .plan.replace' plan2.jsonl)" 1 "one file to replace"
expect_grep 'replace  index.html' plan2.err "index.html to replace"
snapshot >after.txt
diff before.txt after.txt >&2 || fail "a dry run changed the target"
expect_no_grep 'A new alt text' "$public/index.html" "a dry run changed the page"
echo ok
