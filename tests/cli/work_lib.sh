# Shared by the `work` scenario tests: workers in the background with --json,
# and waiting on their events or on the catalog.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require jq "read the events"

workers=()
trap 'for p in "${workers[@]}"; do kill -KILL "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT

# start_worker NAME ARGS...: `wsportfolio --json ARGS` in the background,
# events in NAME.jsonl, messages in NAME.err; its pid in $worker.
start_worker() {
  local name=$1
  shift
  "$WSP_BIN" --no-progress --json "$@" >"$name.jsonl" 2>"$name.err" &
  worker=$!
  workers+=("$worker")
}

# count_events FILE FILTER: the complete lines of FILE that the jq FILTER selects.
count_events() {
  [ -e "$1" ] || { echo 0; return; }
  head -n "$(wc -l <"$1")" "$1" | jq -c "select($2)" | wc -l
}

# wait_event FILE FILTER [SECONDS] [N]: until N (1) events match; fails on timeout.
wait_event() {
  local file=$1 filter=$2 seconds=${3:-60} n=${4:-1}
  for _ in $(seq $((seconds * 10))); do
    [ "$(count_events "$file" "$filter")" -ge "$n" ] && return 0
    sleep 0.1
  done
  cat "${file%.jsonl}.err" >&2
  fail "fewer than $n events $filter in $file within $seconds s"
}

# wait_sql PROJECT QUERY VALUE [SECONDS]: until the catalog query gives VALUE.
wait_sql() {
  local got=""
  for _ in $(seq $((${4:-60} * 5))); do
    got=$(sql "$1" "$2")
    [ "$got" = "$3" ] && return 0
    sleep 0.2
  done
  fail "$2: expected $3, still $got"
}

# stop_worker PID: SIGTERM, and its exit code in $code.
stop_worker() {
  kill -TERM "$1"
  set +e
  wait "$1"
  code=$?
  set -e
}
