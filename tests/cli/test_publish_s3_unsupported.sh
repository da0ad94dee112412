# An s3 target in the config gets a clear per-target message, and the local
# targets are still published; a local target inside the sources is not
# scanned; --target narrows to one, an unknown name is a usage error.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
require jq "read the events"

sample --out shoot --count 2 --megapixels 1
cat >shoot/wsportfolio.yaml <<'YAML'
publish:
  targets:
    - { name: cdn, type: s3, bucket: portfolios, endpoint: "https://s3.example.com", access_key_env: S3_KEY, secret_key_env: S3_SECRET }
    - { name: site, type: local, path: ./site }
YAML
cd shoot
wsp_code --json run >../run.jsonl 2>../run.err
cd ..
expect_eq "$code" 1 "an unpublished target is a failure"
expect_grep "target 'cdn': s3 targets are not supported in this version yet" run.err "the s3 target's message"
[ -f shoot/site/index.html ] || fail "the local target was not published"
[ ! -e shoot/.wsportfolio/public ] || fail "the default target is used although targets are configured"
expect_eq "$(jq -r 'select(.event == "publish.completed") | .target' run.jsonl)" site "site completed"

cd shoot
wsp_code publish --target site 2>../one.err
cd ..
expect_eq "$code" 0 "publishing the local target alone"
expect_no_grep "s3" one.err "the other target is left alone"
# The local target lies inside the source folder, and is never scanned as a source.
cd shoot
wsp_code run 2>../run2.err
cd ..
expect_eq "$(sql shoot "select count(*) from images")" 2 "nothing of the target folder ./site was ingested"
cd shoot
wsp_code publish --target nope 2>../nope.err
cd ..
expect_eq "$code" 2 "an unknown target is a usage error"
expect_grep "no such target in publish.targets (cdn, site)" nope.err "names the targets"
echo ok
