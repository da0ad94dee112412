# Eight workers, each with its own connection, claim and commit 300 queued
# photos on a SQLite file and on PostgreSQL (tools/claim_bench.cpp, what
# `scripts/bench claims` measures): every photo is claimed exactly once and
# done, none lost, on both backends.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
require jq "read the report"
bench=$(dirname "$WSP_SAMPLE")/claim-bench
[ -x "$bench" ] || fail "$bench is not built (CMake target claim-bench)"

check() {
  local backend=$1 report=$2
  echo "$backend: $(jq -c '{claims_per_second, claim_ms_p50, claim_ms_p99, claimed_per_worker}' "$report")" >&2
  expect_eq "$(jq -r .backend "$report")" "$backend" "backend measured"
  expect_eq "$(jq -r .duplicates "$report")" 0 "$backend: photos claimed twice"
  expect_eq "$(jq -r .lost "$report")" 0 "$backend: photos never done"
  expect_eq "$(jq -r '.errors | length' "$report")" 0 "$backend: worker errors"
  expect_eq "$(jq -r '.claimed_per_worker | add' "$report")" 300 "$backend: claims made by the eight workers together"
  expect_eq "$(jq -r '.claimed_per_worker | length' "$report")" 8 "$backend: workers"
}

set +e
"$bench" --catalog "$work/bench.db" --workers 8 --items 300 >sqlite.json 2>sqlite.err; code=$?
set -e
[ "$code" -eq 0 ] || { cat sqlite.err sqlite.json >&2; fail "claim-bench on SQLite exited $code"; }
check sqlite sqlite.json

use_postgres
set +e
"$bench" --catalog "$WSPORTFOLIO_CATALOG_URL" --workers 8 --items 300 >postgres.json 2>postgres.err; code=$?
set -e
[ "$code" -eq 0 ] || { cat postgres.err postgres.json >&2; fail "claim-bench on PostgreSQL exited $code"; }
check postgresql postgres.json

# The tool refuses a catalog that already holds photos: its counts would be wrong.
set +e
"$bench" --catalog "$WSPORTFOLIO_CATALOG_URL" --workers 1 --items 1 >again.json 2>again.err; code=$?
set -e
expect_eq "$code" 2 "claim-bench on a catalog that holds photos"
expect_grep "already holds photos" again.err "the refusal"
echo ok
