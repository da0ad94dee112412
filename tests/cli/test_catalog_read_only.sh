# A project whose state folder is read-only (a backup, an archive, another
# user's project) can still be inspected: `status` and `verify` open the WAL
# catalog read-only, and a command that must write fails with a message that
# names the catalog's file.
source "$(dirname "$0")/lib.sh"
require jq "read the events"

# Permissions must hold for the commands under test: root ignores them, so
# as root they run as nobody.
as_reader=()
if [ "$(id -u)" -eq 0 ]; then
  require setpriv "run as a user that permissions apply to"
  as_reader=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
  "${as_reader[@]}" true 2>/dev/null || skip "cannot run as nobody here"
  "${as_reader[@]}" test -x "$WSP_BIN" || skip "nobody cannot run $WSP_BIN"
fi
reader() { set +e; "${as_reader[@]}" "$WSP_BIN" --no-progress "$@"; code=$?; set -e; }

sample --out shoot --count 3 --megapixels 1
wsp run shoot >/dev/null 2>run.err || { cat run.err >&2; fail "the first run"; }
expect_eq "$(sqlite_sql shoot "pragma journal_mode")" wal "journal mode"
chmod 755 "$work"
chmod -R a+rX shoot
chmod -R a-w shoot/.wsportfolio
[ ! -e shoot/.wsportfolio/catalog.db-shm ] || fail "the WAL index outlived the run"

reader --json status shoot >status.jsonl 2>status.err
[ "$code" -eq 0 ] || { cat status.err >&2; fail "status in a read-only state folder exited $code"; }
expect_eq "$(jq -r 'select(.event == "status") | .images' status.jsonl)" 3 "images in the status"

reader --json verify --fast shoot >verify.jsonl 2>verify.err
[ "$code" -eq 0 ] || { cat verify.err >&2; fail "verify in a read-only state folder exited $code"; }

reader ingest shoot >ingest.out 2>ingest.err
[ "$code" -ne 0 ] || fail "ingest wrote to a read-only state folder"
expect_grep "$work/shoot/.wsportfolio/catalog.db" ingest.err "the catalog named in the error"

# The state folder is as it was: a reader left no index or log behind.
expect_eq "$(ls shoot/.wsportfolio | grep -c 'catalog.db-')" 0 "files beside the catalog"
echo ok
