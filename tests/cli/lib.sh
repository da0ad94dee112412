# Shared by the CLI scenario tests: each test sources this, works in its own
# temporary folder and fails on the first unmet expectation.
set -euo pipefail

: "${WSP_BIN:?WSP_BIN must name the wsportfolio binary}"
: "${WSP_SAMPLE:?WSP_SAMPLE must name the make-sample-shoot binary}"
pg_cluster="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/pg_cluster.sh"
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
# One read-only query on the catalog of project $1, rows as the sqlite3 shell
# prints them (columns joined by |), through `wsportfolio catalog query`: the
# same scenario reads its catalog alike on SQLite and on PostgreSQL.
sql() { (cd "$1" && "$WSP_BIN" --no-progress catalog query -C . "$2"); }
# Straight into the SQLite file: for what only SQLite has (pragmas) and for the
# scenarios that change the catalog behind the tool's back.
sqlite_sql() { sqlite3 -batch -noheader "$1/.wsportfolio/catalog.db" "$2"; }

# A database of its own for this scenario on the test PostgreSQL server (the
# ctest fixture's, else one started here and stopped at exit), made the
# catalog of every command that follows through WSPORTFOLIO_CATALOG_URL.
use_postgres() {
  require psql "create the scenario's PostgreSQL database"
  local admin=${WSP_TEST_POSTGRES:-}
  if [ -z "$admin" ]; then
    own_cluster=$(mktemp -u /tmp/wsp-pg.XXXXXX)
    trap 'bash "$pg_cluster" stop "$own_cluster"; rm -rf "$work"' EXIT
    admin=$(bash "$pg_cluster" start "$own_cluster") ||
      unavailable "a PostgreSQL 15 server is needed to run this scenario on PostgreSQL"
  fi
  local name="wsp_cli_$$_$RANDOM"
  psql "$admin" -qAtc "CREATE DATABASE $name" >/dev/null || fail "cannot create database $name"
  export WSPORTFOLIO_CATALOG_URL=${admin/\/postgres\?//$name?}
}
expect_eq() { [ "$1" = "$2" ] || fail "$3: expected '$2', got '$1'"; }
expect_grep() { grep -q -- "$1" "$2" || { cat "$2" >&2; fail "$3: '$1' not found in $2"; }; }
expect_no_grep() { if grep -q -- "$1" "$2"; then cat "$2" >&2; fail "$3: '$1' found in $2"; fi; }

# A scenario sourced by its PostgreSQL twin (tests/cli/test_pg_*.sh) runs on PostgreSQL.
if [ "${WSP_CATALOG_BACKEND:-sqlite}" = postgres ]; then use_postgres; fi
