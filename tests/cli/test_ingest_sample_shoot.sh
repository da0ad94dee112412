# Ingesting a sample shoot with every kind of bad file: good photos are
# registered with their camera facts, each bad file is rejected once with a
# reason, the batch goes on, and the exit code says something was rejected.
source "$(dirname "$0")/lib.sh"

sample --out shoot --count 10 --megapixels 1 --with-bad-files
wsp_code --json ingest shoot >events.jsonl 2>human.txt
expect_eq "$code" 1 "exit code with rejected files"

good=$(ls shoot | grep -c '^IMG_.*\.JPG$')
added=$(grep -c '"outcome":"added"' events.jsonl)
expect_eq "$added" "$((good + 1))" "added photos (IMG_* plus the one with a non-ASCII name)"
expect_grep '"file":"Première danse 01.jpg","outcome":"added"' events.jsonl "non-ASCII name"

for bad in empty.jpg notes.jpg loop.jpg; do
  expect_grep "\"file\":\"$bad\",\"reason\"" events.jsonl "rejection of $bad"
done
expect_grep 'empty.jpg.*empty file' events.jsonl "empty file reason"
expect_grep 'notes.jpg.*not an image' events.jsonl "text file reason"
expect_grep 'loop.jpg.*symlink loop' events.jsonl "symlink loop reason"
expect_grep 'truncated' events.jsonl "truncated JPEG reason"
expect_grep 'megapixels, over the limit' events.jsonl "pixel limit reason"
# Each rejection is told once, on stderr, naming the file.
expect_eq "$(grep -c '^rejected: empty.jpg' human.txt)" 1 "rejection printed once"

# Camera facts reach the catalog.
expect_eq "$(sql shoot "select count(*) from images where status='active' and make != '' and capture_time != '' and sha256 != ''")" \
  "$((good + 1))" "active images with camera facts"
[ "$(sql shoot "select count(*) from images where icc_description like 'Adobe RGB%'")" -ge 1 ] || fail "no Adobe RGB image recognised"
[ "$(sql shoot "select count(*) from images where orientation in (6, 8)")" -ge 1 ] || fail "no rotated image recognised"
[ "$(sql shoot "select count(*) from images where has_gps = 1")" -ge 1 ] || fail "no GPS recognised"
expect_eq "$(sql shoot "pragma integrity_check")" ok "catalog integrity"

# status lists every rejected file with its reason.
wsp status shoot >status.txt
for bad in empty.jpg notes.jpg loop.jpg; do expect_grep "  $bad: " status.txt "status lists $bad"; done
expect_grep "ingest" status.txt "stage table"

# A second run reads nothing, says nothing again about the bad files, still exits 1.
wsp_code --json ingest shoot >again.jsonl 2>again.txt
expect_eq "$code" 1 "exit code on unchanged re-run with rejected files"
expect_no_grep '^rejected:' again.txt "no repeated rejection messages"
expect_grep '"bytes_read":0' again.jsonl "unchanged re-run reads nothing"
echo ok
