# An image that fails at render is recorded as failed (exit 1, listed by
# `status`) and waits; once its file is good again, `retry` requeues it and the
# next `run` renders it.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
require jq "read the events"

field() { jq -r --arg e "$2" "select(.event == \$e) | .$3" "$1"; }

sample --out shoot --count 3 --megapixels 1
wsp ingest shoot 2>/dev/null
victim=shoot/IMG_0002.JPG
cp -p "$victim" good.jpg

# Garbage of the same size, written in place with the old mtime: ingest sees
# the file unchanged, render cannot decode it.
head -c "$(stat -c %s "$victim")" /dev/urandom >garbage
cat garbage >"$victim"
touch -r good.jpg "$victim"

wsp_code --json run shoot >run1.jsonl 2>run1.err
expect_eq "$code" 1 "exit code with one image failing at render"
expect_eq "$(field run1.jsonl ingest.completed unchanged)" 3 "ingest did not notice"
expect_eq "$(field run1.jsonl render.completed rendered)" 2 "the other images rendered"
expect_eq "$(field run1.jsonl render.completed failed)" 1 "one failure"
expect_grep 'IMG_0002.JPG' run1.err "the failure names the file"
expect_eq "$(sql shoot "select j.state from jobs j join images i on i.id = j.image_id
  where i.path='IMG_0002.JPG' and j.stage='render'")" failed "render job failed"
[ -n "$(sql shoot "select j.last_error from jobs j join images i on i.id = j.image_id
  where i.path='IMG_0002.JPG' and j.stage='render'")" ] || fail "the failure has no reason"

(cd shoot && wsp status) >status.txt 2>&1
expect_grep 'failed' status.txt "status lists failures"
expect_grep '  IMG_0002.JPG: ' status.txt "status names the failed file and its reason"
(cd shoot && wsp --json status) >status.jsonl 2>/dev/null
expect_eq "$(field status.jsonl status.failed file)" IMG_0002.JPG "status --json lists the failure"

# A failure waits for `retry`: another run does not try again.
wsp_code --json run shoot >run2.jsonl 2>run2.err
expect_eq "$(field run2.jsonl render.completed decodes)" 0 "a failed image is not retried by itself"

cat good.jpg >"$victim"
touch -r good.jpg "$victim"
(cd shoot && wsp --json retry IMG_0002.JPG) >retry.jsonl 2>retry.err
expect_eq "$(field retry.jsonl retry requeued)" 1 "retry requeues the failed image"

wsp_code --json run shoot >run3.jsonl 2>run3.err
expect_eq "$code" 0 "exit code once the image renders"
expect_eq "$(field run3.jsonl render.completed rendered)" 1 "the requeued image renders"
expect_eq "$(field run3.jsonl render.completed decodes)" 1 "only it is decoded"
expect_eq "$(field run3.jsonl render.completed failed)" 0 "no failure left"
expect_eq "$(sql shoot "select j.state from jobs j join images i on i.id = j.image_id
  where i.path='IMG_0002.JPG' and j.stage='render'")" done "render job done"
expect_eq "$(jq '.images | length' shoot/.wsportfolio/manifest.json)" 3 "the manifest lists all three"
(cd shoot && wsp status) >status2.txt 2>&1
expect_no_grep '  IMG_0002.JPG: ' status2.txt "status lists no failure any more"
echo ok
