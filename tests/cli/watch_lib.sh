# Shared by the `watch` scenario tests: a project with a short stability wait,
# a watcher in the background with --json, and waiting for its events.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require jq "read the events"

watcher=""
trap '[ -z "$watcher" ] || kill -KILL "$watcher" 2>/dev/null || true; rm -rf "$work"' EXIT

# make_project STABLE_MS [SOURCE]: proj/ with a config; photos are dropped in
# proj/ itself, or in proj/SOURCE when given.
make_project() {
  mkdir -p proj
  {
    echo "version: 1"
    if [ -n "${2:-}" ]; then printf 'sources:\n  - path: ./%s\n' "$2"; mkdir -p "proj/$2"; fi
    printf 'watch:\n  stable_ms: %s\n' "$1"
  } >proj/wsportfolio.yaml
}

# start_watch NAME ARGS...: events go to NAME.jsonl, messages to NAME.err.
start_watch() {
  local name=$1
  shift
  "$WSP_BIN" --no-progress --json "$@" >"$name.jsonl" 2>"$name.err" &
  watcher=$!
}

# A jq filter that fails (mistyped, or applied to a field of the wrong type)
# ends the test from inside a $(...): swallowed, it would make every "count is
# 0" check pass.
test_shell=$$
trap 'exit 1' TERM

# events FILE FILTER: the events that the jq FILTER selects, one per line,
# among the lines written completely so far (the watcher may be writing one).
events() {
  [ -e "$1" ] || return 0
  local lines
  lines=$(wc -l <"$1")
  if ! head -n "$lines" "$1" | jq -c "select($2)"; then
    echo "FAIL: jq cannot apply the filter '$2' to $1" >&2
    kill -TERM "$test_shell"
    exit 1
  fi
}
count() { events "$1" "$2" | wc -l; }

# wait_for FILE FILTER [SECONDS]: until an event matches; fails on timeout or
# when the watcher died.
wait_for() {
  local file=$1 filter=$2 seconds=${3:-30}
  for _ in $(seq $((seconds * 10))); do
    [ "$(count "$file" "$filter")" -gt 0 ] && return 0
    if ! kill -0 "$watcher" 2>/dev/null; then
      cat "${file%.jsonl}.err" >&2
      fail "the watcher exited while waiting for $filter"
    fi
    sleep 0.1
  done
  cat "${file%.jsonl}.err" >&2
  fail "no event $filter within $seconds s"
}

# wait_count FILE FILTER N [SECONDS]: until N events match.
wait_count() {
  local file=$1 filter=$2 n=$3 seconds=${4:-30}
  for _ in $(seq $((seconds * 10))); do
    [ "$(count "$file" "$filter")" -ge "$n" ] && return 0
    kill -0 "$watcher" 2>/dev/null || { cat "${file%.jsonl}.err" >&2; fail "the watcher exited"; }
    sleep 0.1
  done
  cat "${file%.jsonl}.err" >&2
  fail "fewer than $n events $filter within $seconds s"
}

# wait_idle FILE N: until N batches have been processed.
wait_idle() { wait_count "$1" '.event == "watch.idle"' "$2"; }

# barrier FILE PHOTO NAME: writes PHOTO to proj/NAME through a writer that
# keeps it open, so that only the stability wait can take it, and waits until
# the watcher ingests it. Whatever the watcher would take of the files written
# before has been taken by then: a check made afterwards that something did
# not happen is not a guess about how long to sleep.
barrier() {
  local file=$1 photo=$2 name=$3 fd
  exec {fd}>"proj/$name"
  cat "$photo" >&"$fd"
  wait_for "$file" ".event == \"item\" and .stage == \"ingest\" and .file == \"$name\""
}

# batch_names FILE: each batch's file names, one batch a line.
batch_names() { events "$1" '.event == "watch.batch"' | jq -c '.paths | map(split("/") | last)'; }

# stop_watch: SIGTERM, and the exit code in $code.
stop_watch() {
  kill -TERM "$watcher"
  set +e
  wait "$watcher"
  code=$?
  set -e
  watcher=""
}
