# `catalog migrate --to URL` copies a project's SQLite catalog into a new
# PostgreSQL database losing nothing: every table has the same rows (counts
# and a checksum of each table's sorted rows compared), the project then runs
# on PostgreSQL with nothing to redo, a second copy into the same database is
# refused, and a URL with a password is refused without being shown.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
require jq "read the events"
require sqlite3 "fill the tables a local run leaves empty"

sample --out shoot --count 6 --megapixels 1
wsp run shoot 2>/dev/null
# What an S3 target, a remote party that failed and the photographer's culling
# tool would have left, and a face found, so that no table is copied empty.
first=$(sqlite_sql shoot "SELECT min(id) FROM images")
sqlite_sql shoot "INSERT INTO circuits VALUES ('webhook', 'https://hooks.example/a', 'open', 4, 1781000000000, 'HTTP 503', 1781000000500);
  INSERT INTO multipart_uploads VALUES ('s3:bucket', 'upl-1', 'originals/a.jpg', 'ab12', 5242880, 1781000000000);
  INSERT INTO multipart_parts VALUES ('s3:bucket', 'upl-1', 1, 'etag-1', 'c2hh', 5242880);
  INSERT INTO multipart_parts VALUES ('s3:bucket', 'upl-1', 2, 'etag-2', 'c2hi', 1024);
  INSERT OR REPLACE INTO selections VALUES ($first, 'sidecar', '10:20', -1, 'Red' || char(10) || 'Blue', 1, 'Anna', 1781000000000);
  UPDATE tags SET eyes_closed = 1, faces = 2, face_sharpness = 61.25 WHERE image_id = $first;"
wsp catalog dump -C shoot >sqlite.jsonl

use_postgres
url=$WSPORTFOLIO_CATALOG_URL
unset WSPORTFOLIO_CATALOG_URL

wsp_code catalog migrate -C shoot --to "postgresql://studio:hunter2-secret@db.example/portfolio" >pw.out 2>pw.err
expect_eq "$code" 2 "exit code for a URL with a password"
expect_grep "password" pw.err "the reason"
expect_no_grep "hunter2" pw.err "the password in the message"
expect_no_grep "hunter2" pw.out "the password on stdout"

wsp catalog migrate -C shoot --to "$url" 2>migrate.err || { cat migrate.err >&2; fail "migrate"; }
WSPORTFOLIO_CATALOG_URL=$url wsp catalog dump -C shoot >postgres.jsonl

checked=0
for table in images jobs runs events renders variants tags tag_overrides provider_results published purge_pending \
  webhook_endpoints webhook_subscriptions webhook_deliveries provider_calls circuits multipart_uploads multipart_parts \
  selections; do
  before=$(jq -c --arg t "$table" 'select(.table == $t)' sqlite.jsonl)
  after=$(jq -c --arg t "$table" 'select(.table == $t)' postgres.jsonl)
  expect_eq "$(printf '%s' "$after" | grep -c . || true)" "$(printf '%s' "$before" | grep -c . || true)" "rows of $table"
  expect_eq "$(printf '%s' "$after" | sha256sum)" "$(printf '%s' "$before" | sha256sum)" "checksum of $table"
  checked=$((checked + 1))
done
expect_eq "$checked" 19 "tables compared"
for table in images jobs runs events renders variants tags published circuits multipart_uploads multipart_parts \
  selections; do
  [ "$(jq -c --arg t "$table" 'select(.table == $t)' sqlite.jsonl | grep -c .)" -gt 0 ] || fail "$table was empty: the copy of it proves nothing"
done

wsp_code catalog migrate -C shoot --to "$url" 2>again.err
expect_eq "$code" 2 "exit code for a database that is not empty"
expect_grep "not empty" again.err "the reason"

# The project goes on from the copy: nothing to ingest, render or tag again.
export WSPORTFOLIO_CATALOG_URL=$url
wsp --json run shoot >run.jsonl 2>/dev/null
expect_eq "$(jq -r 'select(.event == "render.completed") | .rendered' run.jsonl)" 0 "renders redone"
expect_eq "$(sql shoot "select count(*) from images")" "$(jq -c 'select(.table == "images")' sqlite.jsonl | wc -l)" \
  "images on PostgreSQL"
expect_eq "$(sql shoot "select eyes_closed || ' ' || faces || ' ' || face_sharpness from tags where image_id = $first")" \
  "1 2 61.25" "the faces of a photo on PostgreSQL"
echo ok
