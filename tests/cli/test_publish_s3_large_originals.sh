# Large originals go to an S3 target read from disk as they are sent, never
# held in memory: a 160 MB original in 5 MiB parts and a 48 MB one in a
# single PUT raise the publisher's peak memory (RSS, measured by GNU time) by
# a few buffers, not by their sizes, and the objects read back with the aws
# command line are the published copies, byte for byte.
#
# The originals are camera JPEGs padded with APP15 segments of random bytes
# (which decoders skip and the metadata policy keeps), so that they are made
# in seconds. The copies offered for download are made by a dry run first:
# only the upload is measured.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/s3_lib.sh"
require python3 "pad the originals"
[ -x /usr/bin/time ] || unavailable "GNU time is needed to measure peak memory"
s3_start

sample --out shoot --count 2 --megapixels 1
pad_jpeg shoot/IMG_0001.JPG 160
pad_jpeg shoot/IMG_0002.JPG 48
cat >shoot/wsportfolio.yaml <<YAML
publish:
  targets:
    - { name: cdn, type: s3, bucket: $S3_BUCKET, endpoint: "$S3_ENDPOINT", path_style: true, prefix: wedding,
        multipart_threshold_mb: 64, part_size_mb: 5 }
  gallery: { downloads: originals }
YAML
export AWS_ACCESS_KEY_ID=$S3_KEY_ID AWS_SECRET_ACCESS_KEY=$S3_SECRET_VALUE AWS_SHARED_CREDENTIALS_FILE=/dev/null
(cd shoot && wsp ingest && wsp render) 2>render.err || { cat render.err >&2; fail "render failed"; }
(cd shoot && wsp publish --dry-run) >/dev/null 2>dry.err || { cat dry.err >&2; fail "the dry run failed"; }
ls shoot/.wsportfolio/originals/*.jpg >originals.txt
expect_eq "$(wc -l <originals.txt)" 2 "both originals have their copies"
big=$(while read -r f; do echo "$(stat -c %s "$f") $f"; done <originals.txt | sort -n | tail -1 | cut -d' ' -f2)
big_size=$(stat -c %s "$big")
[ "$big_size" -gt $((160 << 20)) ] || fail "the copy keeps the padding ($big_size bytes)"

# A second dry run plans the same portfolio, with the copies made, and sends nothing: the baseline.
(cd shoot && /usr/bin/time -f %M -o ../dry.rss "$WSP_BIN" --no-progress publish --dry-run) >/dev/null 2>dry.err ||
  { cat dry.err >&2; fail "the second dry run failed"; }
(cd shoot && /usr/bin/time -f %M -o ../publish.rss "$WSP_BIN" --no-progress --json publish) >publish.jsonl 2>publish.err ||
  { cat publish.err >&2; fail "publish failed"; }
expect_eq "$(jq -r 'select(.event == "publish.completed") | .failed' publish.jsonl)" 0 "nothing failed"
grep -c '^REQUEST PUT .*partNumber=' s3.log >parts.txt
expect_eq "$(cat parts.txt)" 33 "the 160 MB original in 33 parts of 5 MiB"

# Peak resident memory, in KiB, above the dry run's: the 208 MB sent cost less than 64 MiB.
dry_rss=$(tail -1 dry.rss)
publish_rss=$(tail -1 publish.rss)
echo "peak RSS: dry run $dry_rss KiB, publish $publish_rss KiB" >&2
[ $((publish_rss - dry_rss)) -lt $((64 * 1024)) ] ||
  fail "publishing 208 MB of originals took $((publish_rss - dry_rss)) KiB more memory than planning it"

while read -r copy; do
  name=$(basename "$copy")
  key=$(sql shoot "select path from published where path like 'originals/%' and sha256 = '${name%.jpg}'")
  [ -n "$key" ] || fail "$name is recorded as published"
  s3api get-object --bucket "$S3_BUCKET" --key "wedding/$key" object.out >/dev/null
  cmp object.out "$copy" || fail "$key read back differs from the published copy"
done <originals.txt
echo ok
