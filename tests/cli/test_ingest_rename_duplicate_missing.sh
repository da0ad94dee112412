# A renamed file keeps its identity and history; a copy is linked as a
# duplicate; a deleted file is marked missing, never forgotten.
source "$(dirname "$0")/lib.sh"

sample --out shoot --count 4 --megapixels 1
wsp ingest shoot 2>/dev/null
id=$(sql shoot "select id from images where path='IMG_0002.JPG'")
[ -n "$id" ] || fail "IMG_0002.JPG not ingested"

mkdir shoot/ceremony
mv shoot/IMG_0002.JPG "shoot/ceremony/first kiss.jpg"
cp shoot/IMG_0003.JPG shoot/IMG_0003-copy.JPG
rm shoot/IMG_0004.JPG
wsp --json ingest shoot >events.jsonl 2>/dev/null

expect_grep '"file":"ceremony/first kiss.jpg","outcome":"moved"' events.jsonl "rename recognised"
expect_eq "$(sql shoot "select id from images where path='ceremony/first kiss.jpg'")" "$id" "moved file keeps its id"
expect_eq "$(sql shoot "select count(*) from images where path='IMG_0002.JPG'")" 0 "old name gone"
expect_eq "$(sql shoot "select count(*) from events where kind='image.moved' and image_id=$id")" 1 "move in the audit trail"
expect_eq "$(sql shoot "select count(*) from jobs where image_id=$id and stage='ingest'")" 1 "history kept"

original=$(sql shoot "select id from images where path='IMG_0003.JPG'")
expect_eq "$(sql shoot "select status || ':' || duplicate_of from images where path='IMG_0003-copy.JPG'")" \
  "duplicate:$original" "copy linked to its original"
expect_eq "$(sql shoot "select status from images where path='IMG_0004.JPG'")" missing "deleted file marked missing"

# Deleting the original hands its place to the duplicate.
rm shoot/IMG_0003.JPG
wsp ingest shoot 2>/dev/null
expect_eq "$(sql shoot "select status from images where path='IMG_0003-copy.JPG'")" active "duplicate promoted"
expect_eq "$(sql shoot "select status from images where path='IMG_0003.JPG'")" missing "original missing"
echo ok
