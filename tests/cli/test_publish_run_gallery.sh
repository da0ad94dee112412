# `run` on a bare shoot folder ends with publish: the default local target
# .wsportfolio/public holds a gallery whose every image URL resolves to a file
# there, that requests nothing from elsewhere, and `run` says where it is.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
require jq "read the events"

sample --out shoot --count 6 --megapixels 1
wsp --json run shoot >run.jsonl 2>run.err || { cat run.err >&2; fail "run failed"; }
public=shoot/.wsportfolio/public
[ -f "$public/index.html" ] || fail "no index.html in the default target"
[ -f "$public/manifest.json" ] || fail "no manifest.json in the default target"
expect_grep "gallery: .*$public/index.html" run.err "run says where the gallery is"
expect_eq "$(jq -r 'select(.event == "publish.completed") | .images' run.jsonl)" 6 "six images published"
expect_eq "$(jq -r 'select(.event == "publish.completed") | .failed' run.jsonl)" 0 "nothing failed"

# Every src and srcset URL of every page names a file of the target.
grep -ho '\(src\|srcset\|href\)="[^"]*"' "$public"/*.html | sed 's/^[a-z]*="//; s/"$//' | tr ',' '\n' |
  awk '{print $1}' | grep -v '^#' | grep -v '^data:' | sort -u >urls.txt
[ "$(grep -c '^renders/' urls.txt)" -ge 12 ] || { cat urls.txt >&2; fail "too few image URLs in the pages"; }
while read -r url; do
  [ -f "$public/$url" ] || fail "the page points at $url, which is not in the target"
done <urls.txt
# Each of the six photos is there with its alt text, in a <picture> with a source set and a size.
expect_eq "$(grep -c '<picture>' "$public/index.html")" 6 "one <picture> per photo"
expect_eq "$(grep -o '<img [^>]*alt="[^"]\+"[^>]*>' "$public/index.html" | grep -c 'width="[0-9]\+" height="[0-9]\+"')" 6 \
  "every <img> has alt text, width and height"
expect_grep 'data:image/png;base64,' "$public/index.html" "BlurHash placeholders inline as tiny PNGs"
expect_grep 'background-color:#[0-9a-f]\{6\}' "$public/index.html" "the average colour while loading"
# Nothing published reaches out.
if grep -l 'https\?://' $(find "$public" -name '*.html' -o -name '*.css' -o -name '*.js'); then
  fail "a published page, stylesheet or script names a remote URL"
fi
# The manifest lists the same variants the target holds.
jq -r '.images[].variants[].path' "$public/manifest.json" | sort >listed.txt
(cd "$public" && find renders -type f | sort) >published.txt
diff listed.txt published.txt >&2 || fail "the published renders differ from the manifest"
# The target is never scanned as a source: a second run ingests nothing new.
wsp --json run shoot >run2.jsonl 2>run2.err
expect_eq "$(sql shoot "select count(*) from images")" 6 "nothing of the target was ingested"
echo ok
