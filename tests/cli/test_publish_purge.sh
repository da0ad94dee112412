# The CDN purge after a publish (Cloudflare's API, faked on 127.0.0.1): a first
# publish purges nothing; a changed page is purged by its public URLs with the
# Bearer token; a purge that keeps failing leaves the publish in place, names
# the URLs that may be stale, exits 1, and the next publish purges them again,
# as it does after a publish killed before the CDN answered.
# The API token appears in no output and not in the catalog.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
require python3 "the fake CDN"
require jq "read the calls"
export no_proxy=127.0.0.1,localhost NO_PROXY=127.0.0.1,localhost

python3 "$here/fake_cloudflare.py" port calls.jsonl &
cdn_pid=$!
trap 'kill $cdn_pid 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do [ -f port ] && break; sleep 0.1; done
[ -f port ] || fail "the fake CDN did not start"
touch calls.jsonl

sample --out shoot --count 3 --megapixels 1
cat >shoot/wsportfolio.yaml <<YAML
publish:
  targets:
    - { name: site, type: local, path: ./site, public_url: "https://photos.example.com/anna" }
  purge: { type: cloudflare, zone_id: 023e105f4ecef8ad, api_token_env: CF_TOKEN,
           api_base: "http://127.0.0.1:$(cat port)/client/v4" }
YAML
export CF_TOKEN=cf-token-Zq81xPz7
calls() { wc -l <calls.jsonl; }

(cd shoot && wsp -v --json run) >first.jsonl 2>first.err || { cat first.err >&2; fail "run failed"; }
expect_eq "$(calls)" 0 "nothing published before: nothing to purge"

(cd shoot && wsp tag set IMG_0002.JPG --alt "Anna laughing at the speeches") 2>/dev/null
(cd shoot && wsp -v --json publish) >alt.jsonl 2>alt.err || { cat alt.err >&2; fail "publish failed"; }
expect_eq "$(calls)" 1 "one purge request"
call=$(tail -1 calls.jsonl)
expect_eq "$(jq -r .path <<<"$call")" /client/v4/zones/023e105f4ecef8ad/purge_cache "the purge_cache endpoint"
expect_eq "$(jq -r .authorization <<<"$call")" "Bearer $CF_TOKEN" "the Bearer token"
expect_eq "$(jq -r .content_type <<<"$call")" application/json "a JSON body"
expect_eq "$(jq -r '.body | fromjson | .files | join(" ")' <<<"$call")" \
  "https://photos.example.com/anna/ https://photos.example.com/anna/index.html" "the changed page's URLs only"
expect_eq "$(jq -r 'select(.event == "publish.completed") | .purged' alt.jsonl)" 2 "two URLs purged"

# The CDN fails: the page is published all the same, the URLs are named and kept for next time.
touch fail
(cd shoot && wsp tag set IMG_0002.JPG --alt "Ben's speech") 2>/dev/null
before=$(calls)
cd shoot
wsp_code -v --json publish >../failed.jsonl 2>../failed.err
cd ..
expect_eq "$code" 1 "a failed purge fails the publish"
expect_eq "$(( $(calls) - before ))" 4 "the purge was tried once and retried 3 times (pipeline.retries)"
grep -q "Ben&#39;s speech\|Ben&#x27;s speech\|Ben's speech" shoot/site/index.html || fail "the publish was undone"
expect_grep "may still be served old" failed.err "the failure is said"
expect_grep "https://photos.example.com/anna/index.html" failed.err "the stale URLs are named"
expect_eq "$(jq -r 'select(.event == "publish.completed") | .stale_urls | length' failed.jsonl)" 2 "stale URLs in JSON"
expect_eq "$(sql shoot "select url from purge_pending order by url" | tr '\n' ' ')" \
  "https://photos.example.com/anna/ https://photos.example.com/anna/index.html " "recorded for the next publish"

# The next publish, with nothing else changed, purges them again.
rm fail
before=$(calls)
(cd shoot && wsp -v --json publish) >retry.jsonl 2>retry.err || { cat retry.err >&2; fail "the retrying publish failed"; }
expect_eq "$(( $(calls) - before ))" 1 "one purge request for what was left stale"
expect_eq "$(tail -1 calls.jsonl | jq -r '.body | fromjson | .files | join(" ")')" \
  "https://photos.example.com/anna/ https://photos.example.com/anna/index.html" "the stale URLs purged"
expect_eq "$(sql shoot "select count(*) from purge_pending")" 0 "nothing left to purge"

before=$(calls)
(cd shoot && wsp --json publish) >quiet.jsonl 2>quiet.err || { cat quiet.err >&2; fail "unchanged publish failed"; }
expect_eq "$(calls)" "$before" "nothing changed: nothing purged"

# Killed while the CDN has not answered: the pages are live, and what they owe
# the CDN is on record, so the next publish purges it.
touch stall
(cd shoot && wsp tag set IMG_0003.JPG --alt "The first dance") 2>/dev/null
before=$(calls)
(cd shoot && exec "$WSP_BIN" --no-progress publish) >/dev/null 2>killed.err &
publisher=$!
for _ in $(seq 1 300); do [ "$(calls)" -gt "$before" ] && break; sleep 0.1; done
[ "$(calls)" -gt "$before" ] || fail "the publish never reached the CDN"
kill -9 "$publisher"
wait "$publisher" 2>/dev/null || true
rm stall
expect_eq "$(sql shoot "select url from purge_pending order by url" | tr '\n' ' ')" \
  "https://photos.example.com/anna/ https://photos.example.com/anna/index.html " "owed to the CDN after a kill -9"
before=$(calls)
(cd shoot && wsp publish) 2>after-kill.err || { cat after-kill.err >&2; fail "the publish after the kill failed"; }
expect_eq "$(( $(calls) - before ))" 1 "the owed purge is sent"
expect_eq "$(sql shoot "select count(*) from purge_pending")" 0 "nothing owed any more"

sqlite3 shoot/.wsportfolio/catalog.db .dump >dump.sql
for file in first.jsonl first.err alt.jsonl alt.err failed.jsonl failed.err retry.jsonl retry.err dump.sql; do
  expect_no_grep "$CF_TOKEN" "$file" "the API token in $file"
done
echo ok
