# A temporary in renders/ whose process id names no process here may be a
# live process's on another host sharing the folder: a render removes it only
# once no other run on the project is alive, and then does.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
require sqlite3 "register another host's run in the catalog"

sample --out shoot --count 2 --megapixels 0.3
wsp run shoot 2>run.err || { cat run.err >&2; fail "run failed"; }

# Another host's run, alive, writing a render through a temporary named after
# its process id, which is no process on this machine.
sqlite_sql shoot "insert into runs (id, command, pid, host, started_ms, heartbeat_ms) values
  ('otherhost0000001', 'render', 4242, 'wsp-other-host', strftime('%s', 'now') * 1000, strftime('%s', 'now') * 1000)"
gone=$(sh -c 'echo $$')
temporary="shoot/.wsportfolio/renders/.img-0099-480.0123456789ab.jpg.tmp-$gone"
cp "$(find shoot/.wsportfolio/renders -name '*.jpg' | head -1)" "$temporary"

wsp render shoot 2>alive.err || { cat alive.err >&2; fail "render failed"; }
[ -f "$temporary" ] || fail "a render removed the temporary of another host's live run"

# That run is over: what it left is abandoned.
sqlite_sql shoot "update runs set finished_ms = heartbeat_ms, exit_code = -1 where id = 'otherhost0000001'"
wsp render shoot 2>over.err || { cat over.err >&2; fail "render failed"; }
[ ! -e "$temporary" ] || fail "the temporary of a finished run was kept"
echo ok
