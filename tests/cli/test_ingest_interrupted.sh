# SIGINT during ingest: exit 130, nothing half-recorded, and the next run
# finishes the work.
source "$(dirname "$0")/lib.sh"

sample --out shoot --count 80 --megapixels 2
"$WSP_BIN" --no-progress --json ingest -j 1 shoot >events.jsonl 2>/dev/null & pid=$!
# Interrupt once some work is committed, or give up waiting after 20 s.
for _ in $(seq 200); do grep -q '"outcome":"added"' events.jsonl 2>/dev/null && break; sleep 0.1; done
kill -INT $pid 2>/dev/null || true
set +e; wait $pid; code=$?; set -e
if [ "$code" -eq 0 ]; then skip "ingest finished before the signal"; fi
expect_eq "$code" 130 "exit code after SIGINT"
expect_eq "$(sql shoot "pragma integrity_check")" ok "integrity after interruption"
done_before=$(sql shoot "select count(*) from jobs where state='done'")
reported=$(grep -c '"outcome":"added"' events.jsonl)
expect_eq "$done_before" "$reported" "everything reported was committed"

wsp ingest shoot 2>/dev/null
expect_eq "$(sql shoot "select count(*) from images where status='active'")" 80 "the next run completes"
expect_eq "$(sql shoot "select count(*) from runs where finished_ms is null")" 0 "runs closed"
echo ok
