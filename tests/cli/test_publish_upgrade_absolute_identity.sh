# Earlier versions kept a local target's record under its absolute path; now a
# target inside the project is named relative to it. After the upgrade,
# verify (read-only) still reads the old record, and the first publish takes
# the record over: nothing is published again, nothing refused, and the
# record is kept under the relative identity from then on.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
require jq "read the events"
require sqlite3 "write the catalog as an earlier version left it"

sample --out shoot --count 3 --megapixels 0.3
wsp run shoot 2>run.err || { cat run.err >&2; fail "run failed"; }
expect_eq "$(sql shoot "select distinct target from published")" "local:.wsportfolio/public" \
  "the identity of the target inside the project"
files=$(sql shoot "select count(*) from published")
[ "$files" -gt 10 ] || fail "the gallery's files are recorded ($files)"

# The record as an earlier version left it.
former="local:$(cd shoot && pwd -P)/.wsportfolio/public"
sqlite_sql shoot "update published set target = '$former'"

# verify reads the former record: a file missing from the target is found.
public=shoot/.wsportfolio/public
missing=$(cd "$public" && find renders -type f | sort | head -1)
mv "$public/$missing" moved-away
(cd shoot && wsp_code --json verify --fast) >verify.jsonl 2>verify.err
expect_eq "$(jq -r 'select(.event == "verify.finding" and .kind == "published.missing") | .file' verify.jsonl)" \
  "site: $missing" "the file missing from the target, found through the former record"
mv moved-away "$public/$missing"

# A dry run reads the former record too, and writes nothing: it plans no
# upload and leaves the record where it is.
(cd shoot && wsp --json publish --dry-run) >dry.jsonl 2>dry.err || { cat dry.err >&2; fail "the dry run failed"; }
expect_eq "$(jq -r 'select(.event == "publish.plan") | .plan.put' dry.jsonl)" 0 "the dry run plans nothing to publish again"
expect_eq "$(sql shoot "select distinct target from published")" "$former" "the record left under its former key by the dry run"

(cd shoot && wsp --json publish) >upgrade.jsonl 2>upgrade.err || { cat upgrade.err >&2; fail "publish failed"; }
completed() { jq -r "select(.event == \"publish.completed\") | .$1" upgrade.jsonl; }
expect_eq "$(completed put) $(completed replaced) $(completed failed)" "0 0 0" "nothing published again, nothing refused"
expect_eq "$(completed unchanged)" "$files" "every recorded file found published"
expect_eq "$(sql shoot "select target, count(*) from published group by target")" "local:.wsportfolio/public|$files" \
  "the record taken over under the relative identity"
echo ok
