# SIGINT during ingest: exit 130, nothing half-recorded, and the next run
# finishes the work.
source "$(dirname "$0")/lib.sh"
require strace "slow the file reads down"

sample --out shoot --count 80 --megapixels 2
# Ingest reads a small shoot faster than a signal can be aimed at it: strace
# delays every file opened (a slow disk, injected at the system-call edge), so
# the signal lands while work is committed and more is in flight.
ASAN_OPTIONS=detect_leaks=0 strace -f -qq -o /dev/null -e trace=openat -e inject=openat:delay_enter=40000 \
  "$WSP_BIN" --no-progress --json ingest -j 1 shoot >events.jsonl 2>/dev/null & tracer=$!
# Interrupt once some work is committed, or give up waiting after 60 s.
for _ in $(seq 600); do grep -q '"outcome":"added"' events.jsonl 2>/dev/null && break; sleep 0.1; done
pid=$(pgrep -P "$tracer" -f ingest || true)
[ -n "$pid" ] || fail "ingest is not running under strace"
kill -INT "$pid" 2>/dev/null || true
set +e; wait $tracer; code=$?; set -e
[ "$code" -ne 0 ] || fail "ingest finished before the signal, even with slowed reads"
expect_eq "$code" 130 "exit code after SIGINT"
expect_eq "$(sql shoot "pragma integrity_check")" ok "integrity after interruption"
done_before=$(sql shoot "select count(*) from jobs where state='done'")
reported=$(grep -c '"outcome":"added"' events.jsonl)
expect_eq "$done_before" "$reported" "everything reported was committed"

wsp ingest shoot 2>/dev/null
expect_eq "$(sql shoot "select count(*) from images where status='active'")" 80 "the next run completes"
expect_eq "$(sql shoot "select count(*) from runs where finished_ms is null")" 0 "runs closed"
echo ok
