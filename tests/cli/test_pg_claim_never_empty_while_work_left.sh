# A claim that comes back empty tells the stage engine that its stage is over
# (pipeline/engine.cpp), so a claim must not come back empty while photos are
# still claimable. Eight workers claim 300 photos on PostgreSQL
# (tools/claim_bench.cpp counts every empty claim after which photos were
# still claimable). Fails today: the claim locks its candidates FOR UPDATE SKIP
# LOCKED with a snapshot taken before the lock, then drops in a second
# statement those another worker claimed meanwhile, and returns what is left,
# which is often nothing; a worker on another host then ends its stage early.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
require jq "read the report"
bench=$(dirname "$WSP_SAMPLE")/claim-bench
[ -x "$bench" ] || fail "$bench is not built (CMake target claim-bench)"
use_postgres

set +e
"$bench" --catalog "$WSPORTFOLIO_CATALOG_URL" --workers 8 --items 300 >report.json 2>report.err; code=$?
set -e
[ "$code" -eq 0 ] || { cat report.err report.json >&2; fail "claim-bench exited $code"; }
echo "$(jq -c '{claims_per_second, claimed_per_worker, empty_claims_with_work_left}' report.json)" >&2
expect_eq "$(jq -r .empty_claims_with_work_left report.json)" 0 "claims that came back empty while photos were claimable"
echo ok
