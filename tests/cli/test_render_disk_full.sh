# A full disk stops `render` with a clear "disk full" error (exit 1): the
# catalog records a render only for images whose files were all written, no
# temporary file stays behind, and once there is room the next render finishes.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
require jq "read the events"

sample --out shoot --count 12 --megapixels 1
wsp ingest shoot 2>/dev/null
images=$(sql shoot "select count(*) from images where status='active'")

# The state folder moves onto a 2 MB tmpfs: the catalog fits, the renders
# (about 250 kB per image here) do not.
mkdir statefs
mount -t tmpfs -o size=2m wsp-disk-full statefs 2>/dev/null || skip "cannot mount a small tmpfs (needs root)"
trap 'umount "$work/statefs" 2>/dev/null || true; rm -rf "$work"' EXIT
sqlite_sql shoot "pragma wal_checkpoint(truncate)" >/dev/null
cp -a shoot/.wsportfolio/. statefs/
rm -rf shoot/.wsportfolio
ln -s "$work/statefs" shoot/.wsportfolio

wsp_code --json render shoot >render.jsonl 2>render.err
cat render.err >&2
expect_eq "$code" 1 "exit code on a full disk"
expect_grep 'disk full' render.err "the error says the disk is full"

expect_eq "$(sql shoot "pragma integrity_check")" ok "catalog integrity"
expect_eq "$(sql shoot "select count(*) from jobs where state='running'")" 0 "no job left running"
rendered=$(sql shoot "select count(*) from renders")
[ "$rendered" -lt "$images" ] || fail "every image rendered: the disk never filled up"
echo "$rendered of $images images rendered before the disk filled up" >&2
# Every file of every recorded render is there, whole.
while read -r path sha; do
  [ -f "statefs/$path" ] || fail "the catalog records $path, which was not written"
  expect_eq "$(sha256sum "statefs/$path" | cut -d' ' -f1)" "$sha" "sha256 of $path"
done < <(sql shoot "select path || ' ' || sha256 from variants")
while read -r path; do
  [ -f "statefs/$path" ] || fail "the catalog records $path, which was not written"
done < <(sql shoot "select analysis_path from renders")
expect_eq "$(sql shoot "select count(*) from images i where i.status='active' and not exists
  (select 1 from renders r where r.image_id = i.id) and exists (select 1 from jobs j where j.image_id = i.id and
  j.stage='render' and j.state in ('done', 'failed'))")" 0 "images without a render are neither done nor failed"
leftovers=$(cd statefs && find . -name '*.tmp-*')
[ -z "$leftovers" ] || fail "temporary files left behind: $leftovers"
# Nothing in renders/ that no render refers to: an image stopped halfway keeps
# none of its files.
sql shoot "select path from variants" | sort >recorded.txt
(cd statefs && find renders -type f | sort) >on-disk.txt
diff recorded.txt on-disk.txt >&2 || fail "renders/ holds files of images the catalog has no render for"

# With room again, the next render finishes the job.
mount -o remount,size=64m statefs
wsp_code --json render shoot >render2.jsonl 2>render2.err
expect_eq "$code" 0 "render once there is room"
expect_eq "$(sql shoot "select count(*) from renders")" "$images" "every image rendered"
expect_eq "$(jq -r 'select(.event == "render.completed") | .rendered' render2.jsonl)" $((images - rendered)) \
  "only the rest is rendered"
echo ok
