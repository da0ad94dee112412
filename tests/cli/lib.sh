# Shared by the CLI scenario tests: each test sources this, works in its own
# temporary folder and fails on the first unmet expectation.
set -euo pipefail

: "${WSP_BIN:?WSP_BIN must name the wsportfolio binary}"
: "${WSP_SAMPLE:?WSP_SAMPLE must name the make-sample-shoot binary}"
work=$(mktemp -d "${TMPDIR:-/tmp}/wsp-cli.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*" >&2; exit 125; }
# Skips for a tool the test needs that is missing, except in CI (CI=true),
# where scripts/install-deps installs every tool and a missing one is a failure.
unavailable() {
  [ "${CI:-}" = true ] && fail "$* (in CI: scripts/install-deps and scripts/test install it)"
  skip "$*"
}
require() { command -v "$1" >/dev/null || unavailable "$1 is needed to $2"; }
wsp() { "$WSP_BIN" --no-progress "$@"; }
# Runs wsportfolio, records its exit code in $code instead of stopping the test.
wsp_code() { set +e; "$WSP_BIN" --no-progress "$@"; code=$?; set -e; }
sample() { "$WSP_SAMPLE" "$@" >/dev/null; }
sql() { sqlite3 -batch -noheader "$1/.wsportfolio/catalog.db" "$2"; }
expect_eq() { [ "$1" = "$2" ] || fail "$3: expected '$2', got '$1'"; }
expect_grep() { grep -q -- "$1" "$2" || { cat "$2" >&2; fail "$3: '$1' not found in $2"; }; }
expect_no_grep() { if grep -q -- "$1" "$2"; then cat "$2" >&2; fail "$3: '$1' found in $2"; fi; }
