# Two ingest processes on one project at once leave a consistent catalog: every
# file once, no lost or doubled rows, integrity intact, and both succeed.
source "$(dirname "$0")/lib.sh"

sample --out shoot --count 24 --megapixels 1
"$WSP_BIN" --no-progress ingest -j 1 shoot 2>a.txt & first=$!
"$WSP_BIN" --no-progress ingest -j 1 shoot 2>b.txt & second=$!
wait $first || fail "first ingest exited $?: $(cat a.txt)"
wait $second || fail "second ingest exited $?: $(cat b.txt)"

expect_eq "$(sql shoot "select count(*) from images")" 24 "one row per file"
expect_eq "$(sql shoot "select count(distinct path) from images")" 24 "no doubled paths"
expect_eq "$(sql shoot "select count(*) from images where status='active'")" 24 "all active"
expect_eq "$(sql shoot "select count(*) from jobs where stage='ingest' and state='done'")" 24 "one ingest job per image"
expect_eq "$(sql shoot "pragma integrity_check")" ok "integrity"
expect_eq "$(sql shoot "select count(*) from runs where finished_ms is null")" 0 "both runs finished"
echo ok
