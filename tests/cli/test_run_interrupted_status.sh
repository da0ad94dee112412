# SIGINT while `run` renders: exit 130, and `status` counts every photo not yet
# rendered as pending render work (never claimed ones included) and every
# photo not yet tagged as pending tagging, so that nobody takes the
# interrupted shoot for finished.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
require jq "read status --json"

sample --out shoot --count 16 --megapixels 2
"$WSP_BIN" --no-progress -j 1 run shoot >/dev/null 2>run.err & pid=$!
# Interrupt once the first render is committed.
SECONDS=0
until [ "$(sql shoot "select count(*) from renders" 2>/dev/null || echo 0)" -ge 1 ]; do
  [ "$SECONDS" -lt 60 ] || { kill -9 "$pid"; fail "no render committed within 60 s"; }
  kill -0 "$pid" 2>/dev/null || { cat run.err >&2; fail "run ended before it was interrupted"; }
  sleep 0.05
done
kill -INT "$pid"
set +e; wait "$pid"; code=$?; set -e
expect_eq "$code" 130 "exit status of the interrupted run"

active=$(sql shoot "select count(*) from images where status='active'")
expect_eq "$active" 16 "every photo ingested before the interruption"
rendered=$(sql shoot "select count(*) from jobs where stage='render' and state='done'")
[ "$rendered" -lt "$active" ] || skip "the run finished rendering before the signal landed"

wsp --json status shoot >status.jsonl
stage_count() { jq -r --arg s "$1" "select(.event == \"status.stage\" and .stage == \$s) | .$2 // 0" status.jsonl; }
expect_eq "$(stage_count render pending)" "$((active - rendered))" "render pending after the interruption"
expect_eq "$(stage_count render running)" 0 "render running after the interruption"
expect_eq "$(stage_count tag pending)" "$active" "tag pending after the interruption"
wsp status shoot >status.txt
expect_grep "^render  *$((active - rendered))  *0  *$rendered " status.txt "the status table's render row"
echo ok
