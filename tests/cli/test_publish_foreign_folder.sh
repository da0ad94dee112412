# A target folder the tool did not make (a hand-made site with its own
# index.html and gallery.css) is refused: nothing is written into it, exit 1.
# `publish --adopt` takes it over: the gallery goes in, the files that were
# there are never overwritten but reported by path (exit 1); once they are
# gone, publishing is clean. A folder the tool made carries a marker file.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
require jq "read the events"

sample --out shoot --count 2 --megapixels 1
printf 'version: 1\npublish:\n  targets:\n    - { name: site, type: local, path: ./public }\n' >shoot/wsportfolio.yaml
mkdir shoot/public
echo '<h1>our studio</h1>' >shoot/public/index.html
echo 'body { color: plum }' >shoot/public/gallery.css
cp shoot/public/index.html own-index.html
cp shoot/public/gallery.css own-gallery.css
marker=shoot/public/.wsportfolio-target.json

wsp_code --json run shoot >run.jsonl 2>run.err
expect_eq "$code" 1 "run into a folder the tool did not make: exit code"
expect_grep "$(cd shoot && pwd)/public" run.err "the refusal names the folder"
expect_grep "publish --adopt" run.err "the refusal says how to take the folder over"
expect_eq "$(jq -r 'select(.event == "publish.failed") | .target' run.jsonl)" site "publish.failed for the target"
cmp -s shoot/public/index.html own-index.html || fail "the hand-made index.html was overwritten"
cmp -s shoot/public/gallery.css own-gallery.css || fail "the hand-made gallery.css was overwritten"
[ ! -e shoot/public/renders ] || fail "renders were published into the refused folder"
[ ! -e $marker ] || fail "the refused folder was marked"
expect_eq "$(sql shoot "select count(*) from published")" 0 "files recorded as published"

cd shoot
wsp_code --json publish --adopt >adopt.jsonl 2>adopt.err
expect_eq "$code" 1 "adopting a folder with files in the gallery's way: exit code"
cmp -s public/index.html ../own-index.html || fail "adopting overwrote the hand-made index.html"
cmp -s public/gallery.css ../own-gallery.css || fail "adopting overwrote the hand-made gallery.css"
expect_eq "$(jq -r 'select(.event == "problem") | .file' adopt.jsonl | sort | tr '\n' ' ')" "gallery.css index.html " \
  "the files in the way are reported by path"
expect_grep "public/index.html" adopt.err "the message names the file"
expect_eq "$(jq -r 'select(.event == "item" and .outcome == "put") | .file' adopt.jsonl | grep -c '^renders/')" \
  "$(jq '[.images[].variants[]] | length' .wsportfolio/manifest.json)" "every render published"
[ -f public/manifest.json ] || fail "the manifest was not published"
jq -e '.wsportfolio == "publish target" and .target == "site"' ../$marker >/dev/null || fail "no valid marker in the folder"
expect_eq "$(sql . "select count(*) from published where path in ('index.html', 'gallery.css')")" 0 \
  "files left alone recorded as published"

# Once the photographer moves their own files away, the marked folder is the tool's.
rm public/index.html public/gallery.css
wsp_code publish 2>clean.err
expect_eq "$code" 0 "publish into the adopted folder: exit code"
expect_grep '<picture' public/index.html "the gallery's index.html"
echo ok
