# `status` judges whether a run is alive by its heartbeat on the catalog's
# clock, which every host shares: a host whose clock is ten minutes ahead
# (faketime) still sees another process's live worker as running, not stale.
export WSP_CATALOG_BACKEND=postgres
source "$(dirname "$0")/work_lib.sh"
require faketime "run status with its clock ahead"

sample --out shoot --count 1 --megapixels 0.5
wsp run shoot 2>first.err || { cat first.err >&2; fail "the first run failed"; }
start_worker w work --forever shoot
wait_event w.jsonl '.event == "work.waiting"'

state_of_worker() {
  jq -r 'select(.event == "status.run" and (.command | startswith("work"))) | .state' "$1"
}
(cd shoot && wsp --json status) >now.jsonl 2>now.err || { cat now.err >&2; fail "status failed"; }
expect_eq "$(state_of_worker now.jsonl)" running "the worker, seen on the same clock"
(cd shoot && NO_FAKE_STAT=1 FAKETIME_DONT_FAKE_MONOTONIC=1 faketime -f "+10m" "$WSP_BIN" --no-progress --json status) \
  >ahead.jsonl 2>ahead.err || { cat ahead.err >&2; fail "status with the clock ahead failed"; }
expect_eq "$(state_of_worker ahead.jsonl)" running "the worker, seen from a clock ten minutes ahead"

# The ages it prints are on the catalog's clock too: a host ten minutes ahead
# or behind shows the worker's heartbeat seconds old, not ten minutes, nor
# negative.
for offset in +10m -10m; do
  (cd shoot && NO_FAKE_STAT=1 FAKETIME_DONT_FAKE_MONOTONIC=1 faketime -f "$offset" "$WSP_BIN" --no-progress status) \
    >"status$offset.txt" 2>"status$offset.err" || { cat "status$offset.err" >&2; fail "status at $offset failed"; }
  line=$(grep 'work --forever pid' "status$offset.txt") || { cat "status$offset.txt" >&2; fail "no worker listed at $offset"; }
  for age in "$(sed -n 's/.*, since \([^ ]*\) ago,.*/\1/p' <<<"$line")" \
             "$(sed -n 's/.*, heartbeat \([^ ]*\) ago .*/\1/p' <<<"$line")"; do
    [[ "$age" =~ ^[0-9]+s$ ]] && [ "${age%s}" -lt 60 ] ||
      fail "an age of '$age' printed from a clock $offset off (expected seconds, not negative): $line"
  done
done
stop_worker "$worker"
expect_eq "$code" 130 "exit code after SIGTERM"
echo ok
