# The openai provider end to end against a fake Chat Completions server (node,
# on 127.0.0.1): `tag --estimate` sends nothing; a run sends each photo's
# analysis image once, at most 512 px and without any metadata (the sample
# photos carry EXIF with GPS and serials), with the key only in the
# Authorization header; the answers become scenes, keywords and alt text;
# status shows the provider's calls, tokens and cost; a second run asks
# nothing; the key is in no output and no catalog row.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
require jq "read the events"
require exiftool "check what the server received"

key="sk-cli-test-0f1e2d3c4b5a69788796a5b4"
mkdir received
cat >answers.js <<'JS'
// Keeps what each request sent: the image, and what the checks below read.
const fs = require('fs');
module.exports = (n, req, body) => {
  const request = JSON.parse(body);
  const url = request.messages[1].content[1].image_url.url;
  fs.writeFileSync(`received/${n}.jpg`, Buffer.from(url.replace('data:image/jpeg;base64,', ''), 'base64'));
  fs.appendFileSync('requests.jsonl', JSON.stringify({path: req.url, headers: req.headers, url: req.url,
    prefix: url.slice(0, 23), detail: request.messages[1].content[1].image_url.detail,
    scenes: request.response_format.json_schema.schema.properties.scene.enum, body_has_key: body.includes(process.argv[3])}) + '\n');
  return {content: {scene: 'portrait', confidence: 0.93, alt_text: 'The bride laughing under an oak tree',
                    keywords: ['oak tree', 'veil'], people: 1, eyes_closed: false}};
};
JS
fake_openai answers.js "$key"

sample --out shoot --count 4 --megapixels 2
cat >shoot/wsportfolio.yaml <<YAML
project: { timezone: Europe/Paris }
tagging:
  providers: [openai, local]
  openai:
    model: fake-vision
    api_key_env: WSP_TEST_OPENAI_KEY
    base_url: "http://127.0.0.1:$port/v1"
    prices: { input_per_million: 100, output_per_million: 1000 }
YAML
export WSP_TEST_OPENAI_KEY="$key"

(cd shoot && wsp ingest) 2>ingest.err >/dev/null
(cd shoot && wsp --json tag --estimate) >estimate.jsonl 2>estimate.err
expect_eq "$(jq -r 'select(.event == "tag.estimate") | .calls' estimate.jsonl)" 4 "the estimate counts the due photos"
expect_eq "$(jq -r 'select(.event == "tag.estimate") | .provider' estimate.jsonl)" openai "and names the provider"
[ ! -e requests.jsonl ] || fail "tag --estimate sent a request"

(cd shoot && wsp --json run) >run.jsonl 2>run.err || { cat run.err >&2; fail "run failed"; }
expect_eq "$(wc -l <requests.jsonl)" 4 "one request per photo"
expect_eq "$(jq -r .path requests.jsonl | sort -u)" /v1/chat/completions "the Chat Completions endpoint"
expect_eq "$(jq -r '.headers.authorization' requests.jsonl | sort -u)" "Bearer $key" "the key in its header"
expect_eq "$(jq -r '.body_has_key' requests.jsonl | sort -u)" false "the key not in the body"
expect_eq "$(jq -r '.prefix' requests.jsonl | sort -u)" "data:image/jpeg;base64," "a JPEG data URL"
expect_eq "$(jq -r '.detail' requests.jsonl | sort -u)" low "low detail"
expect_eq "$(jq -c '.scenes' requests.jsonl | sort -u)" \
  '["getting_ready","ceremony","portrait","detail","candid","reception"]' "the scenes as the schema's enum"
for image in received/*.jpg; do
  exiftool -j -a -G1 "$image" >meta.json
  width=$(jq -r '.[0]."File:ImageWidth"' meta.json)
  height=$(jq -r '.[0]."File:ImageHeight"' meta.json)
  [ "$width" -le 512 ] && [ "$height" -le 512 ] || fail "$image is ${width}x$height, more than 512 px"
  groups=$(jq -r '.[0] | keys[] | split(":")[0]' meta.json | sort -u | grep -v -x -e SourceFile -e ExifTool \
    -e System -e File -e JFIF -e Composite || true)
  [ -z "$groups" ] || fail "$image carries metadata: $groups"
done

(cd shoot && wsp --json tag show) >show.jsonl 2>/dev/null
expect_eq "$(jq -r .scene show.jsonl | sort -u)" portrait "the provider's scene"
expect_eq "$(jq -r .basis show.jsonl | sort -u)" openai "on the provider's word"
expect_eq "$(jq -r .alt show.jsonl | sort -u)" "The bride laughing under an oak tree" "the provider's alt text"
expect_eq "$(jq -r '.keywords | index("oak tree") != null' show.jsonl | sort -u)" true "the provider's keywords"

(cd shoot && wsp --json status) >status.jsonl 2>status.err
expect_eq "$(jq -r 'select(.event == "status.provider") | "\(.provider) \(.calls) \(.failures) \(.input_tokens) \(.circuit)"' \
  status.jsonl)" "openai 4 0 4000 closed" "status shows the provider's calls, tokens and circuit"
expect_eq "$(jq -r 'select(.event == "status.provider") | .cost' status.jsonl)" 0.8 "and its cost"

# Unchanged photos are never sent twice, even when their tags are redone.
sed -i 's/timezone: Europe\/Paris/timezone: Europe\/Berlin/' shoot/wsportfolio.yaml
(cd shoot && wsp --json tag) >tag2.jsonl 2>tag2.err
expect_eq "$(jq -r 'select(.event == "tag.completed") | .tagged' tag2.jsonl)" 4 "re-tagged"
expect_eq "$(wc -l <requests.jsonl)" 4 "from the cache, with no call"

for output in ingest.err estimate.jsonl estimate.err run.jsonl run.err show.jsonl status.jsonl status.err tag2.jsonl \
  tag2.err; do
  expect_no_grep "$key" "$output" "the key in $output"
done
for file in shoot/.wsportfolio/catalog.db*; do
  if grep -a -q -- "$key" "$file"; then fail "the key is in $file"; fi
done
