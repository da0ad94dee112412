# Publishing is incremental: a second publish with nothing changed writes
# nothing (no file of the target is touched); a changed alt text rewrites only
# the page; a changed photo rewrites only its own files, the page and the
# manifest, and its old files stay (listed as stale) until --prune.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
require jq "read the events"

sample --out shoot --count 4 --megapixels 1
wsp run shoot 2>run.err || { cat run.err >&2; fail "run failed"; }
public=shoot/.wsportfolio/public
snapshot() { (cd "$public" && find . -type f -printf '%p %i %T@\n' | sort); }
completed() { jq -r "select(.event == \"publish.completed\") | .$2" "$1"; }

snapshot >before.txt
(cd shoot && wsp --json publish) >second.jsonl 2>second.err
expect_eq "$(completed second.jsonl put) $(completed second.jsonl replaced) $(completed second.jsonl deleted)" "0 0 0" \
  "nothing put, replaced or deleted the second time"
expect_eq "$(completed second.jsonl bytes)" 0 "no bytes written"
[ "$(completed second.jsonl unchanged)" -gt 10 ] || fail "every file counted unchanged"
snapshot >after.txt
diff before.txt after.txt >&2 || fail "a publish with nothing changed touched files of the target"

# A new alt text changes the page only.
(cd shoot && wsp tag set IMG_0002.JPG --alt "Anna laughing at the speeches") 2>set.err
(cd shoot && wsp --json publish) >alt.jsonl 2>alt.err
expect_eq "$(jq -r 'select(.event == "item" and .stage == "publish") | .file' alt.jsonl | tr '\n' ' ')" "index.html " \
  "only index.html rewritten"
expect_grep 'alt="Anna laughing at the speeches"' "$public/index.html" "the new alt text is published"
snapshot >after-alt.txt
diff <(grep -v '^./index.html ' after.txt) <(grep -v '^./index.html ' after-alt.txt) >&2 ||
  fail "an alt text change touched files other than index.html"

# Another photo under the same name: only its renders, the page and the manifest change.
old_files=$(sql shoot "select v.path from variants v join images i on i.id = v.image_id where i.path like '%IMG_0003.JPG'" | sort)
"$WSP_SAMPLE" --out other --count 1 --megapixels 1 --seed 99 >/dev/null
mv other/IMG_0001.JPG shoot/IMG_0003.JPG
wsp --json run shoot >photo.jsonl 2>photo.err || { cat photo.err >&2; fail "run after replacing a photo failed"; }
new_files=$(sql shoot "select v.path from variants v join images i on i.id = v.image_id where i.path like '%IMG_0003.JPG'" | sort)
[ "$old_files" != "$new_files" ] || fail "the replaced photo was not rendered again"
jq -r 'select(.event == "item" and .stage == "publish") | .file' photo.jsonl | sort >changed.txt
(echo "$new_files"; echo index.html; echo manifest.json) | sort >expected.txt
diff expected.txt changed.txt >&2 || fail "publishing a changed photo wrote other files than its own, the page and the manifest"
snapshot >after-photo.txt
# Files of the other photos keep their inode and time.
others=$(grep '^./renders/' after-alt.txt | grep -v -F "$(echo "$old_files" | sed 's|^|./|')" || true)
while read -r line; do
  [ -z "$line" ] && continue
  grep -qxF "$line" after-photo.txt || fail "a file of an unchanged photo was touched: $line"
done <<<"$others"
# Its old files are stale, kept, and still on disk.
expect_eq "$(completed photo.jsonl stale)" "$(echo "$old_files" | wc -l)" "the old renders are stale"
while read -r old; do [ -f "$public/$old" ] || fail "$old removed without --prune"; done <<<"$old_files"
echo ok
