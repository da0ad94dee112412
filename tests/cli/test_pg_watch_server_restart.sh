# A watcher outlives a restart of its PostgreSQL server: its catalog
# connection, cut by the restart, is made again (not only the lock's), and a
# photo dropped afterwards reaches the gallery without restarting the watcher,
# which says once that it lost the catalog and once that it has it again,
# naming the catalog as every message does, never with a password.
# The scenario restarts its server: it runs one of its own, not the fixture's
# that other scenarios share.
unset WSP_TEST_POSTGRES
export WSP_CATALOG_BACKEND=postgres
# libpq sends it; the test server's trust authentication ignores it. It must
# never show.
export PGPASSWORD=never-shown-4213
source "$(dirname "$0")/watch_lib.sh"
trap '[ -z "$watcher" ] || kill -KILL "$watcher" 2>/dev/null || true; bash "$pg_cluster" stop "$own_cluster"; rm -rf "$work"' EXIT

pg_bin=$(pg_config --bindir 2>/dev/null || true)
[ -x "$pg_bin/pg_ctl" ] || pg_bin=/usr/lib/postgresql/15/bin
restart_server() {
  local as=()
  [ "$(id -u)" -eq 0 ] && as=(runuser -u nobody --)
  # The server's user may not enter this scenario's folder.
  (cd / && "${as[@]}" "$pg_bin/pg_ctl" -D "$own_cluster/data" -l "$own_cluster/server.log" -m fast -w -t 60 restart) >/dev/null ||
    { cat "$own_cluster/server.log" >&2; fail "the server did not restart"; }
}

make_project 300
sample --out stock --count 2 --megapixels 0.5
mkdir -p proj/day1
cp stock/IMG_0001.JPG proj/day1/
start_watch w watch proj
wait_for w.jsonl '.event == "publish.completed" and .images == 1'

restart_server
cp stock/IMG_0002.JPG proj/day1/
wait_for w.jsonl '.event == "watch.catalog_lost"' 60
wait_for w.jsonl '.event == "watch.reconnected"' 60
wait_for w.jsonl '.event == "publish.completed" and .images == 2' 60

expect_eq "$(count w.jsonl '.event == "watch.catalog_lost"')" 1 "catalog-lost events"
expect_eq "$(count w.jsonl '.event == "watch.reconnected"')" 1 "reconnection events"
expect_eq "$(grep -c 'lost the catalog' w.err)" 1 "lines saying the catalog was lost"
expect_eq "$(grep -c 'catalog again' w.err)" 1 "lines saying the catalog is back"
database=${WSPORTFOLIO_CATALOG_URL#postgresql://wsp@/}
database=${database%%\?*}
grep 'lost the catalog' w.err | grep -q "postgresql catalog $database" ||
  fail "the lost line does not name the catalog: $(cat w.err)"
expect_no_grep "$PGPASSWORD" w.err "the password in the messages"
expect_no_grep "$PGPASSWORD" w.jsonl "the password in the events"
expect_no_grep "postgresql://" w.err "the catalog's URL in the messages"

stop_watch
expect_eq "$code" 130 "exit code"
# The run is closed on the connection made again: status lists no watcher left running.
expect_eq "$(sql proj "SELECT count(*) FROM runs WHERE command = 'watch' AND finished_ms IS NULL")" 0 "watch runs left open"
echo ok
