# A photo whose file name is not valid UTF-8 (a Latin-1 "café" from an old
# card reader) still gives valid JSON everywhere: both manifests, `tag show
# --json`, the JSON Lines of `run` and the publish plan. The bad byte becomes
# U+FFFD; the rest of the name is kept.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
require jq "check the JSON"
require iconv "check the encoding"
# JSON is UTF-8 (RFC 8259); jq alone would quietly repair invalid bytes.
valid_json() { iconv -f UTF-8 -t UTF-8 "$1" >/dev/null 2>&1 && jq -e . "$1" >/dev/null; }

sample --out shoot --count 2 --megapixels 1
latin1=$(printf 'caf\xe9')
mv shoot/IMG_0001.JPG "shoot/${latin1}_0001.JPG"

wsp --json run shoot >run.jsonl 2>run.err || { cat run.err >&2; fail "run failed"; }
valid_json run.jsonl || fail "the JSON Lines of run are not valid JSON"
for manifest in shoot/.wsportfolio/manifest.json shoot/.wsportfolio/public/manifest.json; do
  valid_json "$manifest" || fail "$manifest is not valid JSON"
  expect_eq "$(jq '.images | length' "$manifest")" 2 "images in $manifest"
  expect_eq "$(jq -r '.images[].source' "$manifest" | grep -c 'caf.*_0001.JPG')" 1 "the Latin-1 name in $manifest"
done
expect_eq "$(jq -r '.images[].source' shoot/.wsportfolio/public/manifest.json | grep -c $'caf\uFFFD_0001.JPG')" 1 \
  "the bad byte is replaced by U+FFFD"

(cd shoot && wsp --json tag show) >show.jsonl 2>show.err || { cat show.err >&2; fail "tag show failed"; }
valid_json show.jsonl || fail "tag show --json is not valid JSON"
expect_eq "$(jq -r 'select(.event == "tag.show") | .file' show.jsonl | grep -c 'caf.*_0001.JPG')" 1 \
  "tag show names the photo"

(cd shoot && wsp --json publish --dry-run --prune) >plan.jsonl 2>plan.err || { cat plan.err >&2; fail "dry run failed"; }
valid_json plan.jsonl || fail "the publish plan is not valid JSON"
expect_eq "$(jq -r 'select(.event == "publish.plan") | .plan.unchanged' plan.jsonl)" \
  "$(jq -r 'select(.event == "publish.plan") | .plan.steps | length' plan.jsonl)" "every step of the plan unchanged"
echo ok
