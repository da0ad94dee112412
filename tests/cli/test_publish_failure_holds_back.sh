# When a file fails to publish, every mutable file (pages, manifest, styles)
# is held back, so the live gallery never lists a file that did not land; the
# next publish, once the render is whole again, completes the job.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
require jq "read the events"

sample --out shoot --count 3 --megapixels 1
wsp -q init shoot >/dev/null 2>&1
wsp -q run shoot 2>/dev/null || fail "first run failed"
public=shoot/.wsportfolio/public
before=$(cd $public && sha256sum index.html manifest.json)

# New JPEG settings: every JPEG variant is rendered again under a new name.
sed -i 's/quality: 82/quality: 70/' shoot/wsportfolio.yaml
wsp -q render shoot 2>/dev/null || fail "render failed"
victim=$(cd shoot/.wsportfolio && comm -23 <(ls renders | sort) <(ls ../.wsportfolio/public/renders | sort) | grep '\.jpg$' | head -1)
[ -n "$victim" ] || fail "no new render to damage"
printf 'x' >>"shoot/.wsportfolio/renders/$victim"

wsp_code --json publish shoot >publish.jsonl 2>publish.err
expect_eq "$code" 1 "exit code with a failed file"
expect_grep "$victim" publish.err "the failure names the file"
expect_eq "$(cd $public && sha256sum index.html manifest.json)" "$before" "pages and manifest held back"
[ ! -e "$public/renders/$victim" ] || fail "the damaged render was published"
expect_eq "$(jq -r 'select(.event == "publish.completed") | .failed' publish.jsonl)" 1 "failed files"

# A whole render again (render notices nothing; verify --repair queues it), then all lands.
(cd shoot && wsp -q verify --repair >/dev/null 2>&1 || true; wsp -q run) 2>/dev/null || fail "run after repair failed"
expect_eq "$(jq -r '.images[].variants[].path' $public/manifest.json | grep -c "$victim")" 1 "the mended render listed"
for file in $(jq -r '.images[].variants[].path' $public/manifest.json); do
  [ -f "$public/$file" ] || fail "$file listed but not published"
done
echo ok
