# A catalog that refuses the watcher at start (held or failing for a while)
# does not end it: it says why, tries again with a growing wait, and starts
# once the catalog takes it. Only a configuration it cannot read is fatal.
source "$(dirname "$0")/watch_lib.sh"
require sqlite3 "make the catalog refuse"

make_project 300
sample --out stock --count 1 --megapixels 1
wsp ingest proj >/dev/null 2>ingest.err || { cat ingest.err >&2; fail "the catalog's creation"; }
# A real SQLite error on registering the run, as a lock held past the busy
# wait gives one.
sqlite_sql proj "CREATE TRIGGER refuse BEFORE INSERT ON runs BEGIN SELECT RAISE(ABORT, 'database is locked'); END"

start_watch w watch proj
for _ in $(seq 100); do grep -q "trying again" w.err && break; kill -0 "$watcher" 2>/dev/null || break; sleep 0.1; done
kill -0 "$watcher" 2>/dev/null || { cat w.err >&2; fail "the watcher exited when the catalog refused it"; }
expect_grep "catalog.db: database is locked" w.err "the reason, naming the catalog"
sqlite_sql proj "DROP TRIGGER refuse"

wait_for w.jsonl '.event == "watch.started"' 30
cp stock/IMG_0001.JPG proj/
wait_for w.jsonl '.event == "publish.completed" and .images == 1'
stop_watch
expect_eq "$code" 130 "exit code"

# A configuration it cannot read is fatal, at once.
echo "watch: {stable_ms: soon}" >>proj/wsportfolio.yaml
wsp_code watch proj 2>bad.err
expect_eq "$code" 2 "exit code with a broken configuration"
echo ok
