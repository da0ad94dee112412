# A render removes the files no render refers to (what killed runs wrote and
# never committed) only while no other run on the project is alive: another
# host's run may have written files it has not committed yet. On a shared
# PostgreSQL catalog, liveness is a heartbeat on the database's clock, so a
# host whose clock is ten minutes ahead (faketime) must see the other host's
# run as alive as a host on time does, and leave its files alone; its own
# run's times in the catalog are the database's too.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
require faketime "run a worker with its clock ahead"
[ -n "${WSPORTFOLIO_CATALOG_URL:-}" ] || use_postgres

sample --out shoot --count 2 --megapixels 0.3
wsp run shoot 2>/dev/null
# Another host's run, alive (its heartbeat is fresh), that has written one
# photo's file and not committed it yet.
psql "$WSPORTFOLIO_CATALOG_URL" -qAtc "insert into runs (id, command, pid, host, started_ms, heartbeat_ms)
  values ('otherhost0000001', 'run', 4242, 'wsp-other-host', wsp_now_ms(), wsp_now_ms())" >/dev/null
beat() { psql "$WSPORTFOLIO_CATALOG_URL" -qAtc "update runs set heartbeat_ms = wsp_now_ms() where id = 'otherhost0000001'"; }
uncommitted=shoot/.wsportfolio/renders/img-0099-480.0123456789ab.jpg
cp "$(find shoot/.wsportfolio/renders -name '*.jpg' | head -1)" "$uncommitted"

beat
wsp render shoot 2>on-time.err
[ -f "$uncommitted" ] || fail "a render on time removed the file of another host's live run"

beat
NO_FAKE_STAT=1 FAKETIME_DONT_FAKE_MONOTONIC=1 faketime -f "+10m" "$WSP_BIN" --no-progress render shoot 2>ahead.err
[ -f "$uncommitted" ] ||
  fail "a render whose clock is ten minutes ahead removed the file of another host's live run (it took the run for dead)"

# The runs of the host ahead: started, beat and finished on the database's clock.
expect_eq "$(sql shoot "select count(*) from runs where command = 'render' and
  (started_ms > finished_ms or heartbeat_ms > finished_ms)")" 0 "render runs whose start or heartbeat is after their end"
echo ok
