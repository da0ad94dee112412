# The openai provider end to end against a fake Chat Completions server (node,
# on 127.0.0.1) that publishes its rate-limit counters as OpenAI does: with
# requests_per_minute set, the requests arrive evenly spaced; when the server
# says none remain until a reset far away (a daily limit), the run does not
# wait for it: it ends at once, the photos are tagged locally and stay due,
# and the next run, once the server allows again, asks for exactly those.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
require jq "read the events"

cat >answers.js <<'JS'
const fs = require('fs');
module.exports = (n) => {
  fs.appendFileSync('requests.jsonl', JSON.stringify({n, at: Date.now()}) + '\n');
  // The mode is read per request, so that the test can change it between runs.
  const mode = fs.readFileSync('mode', 'utf8').trim();
  return {headers: {'x-ratelimit-limit-requests': '10000',
                    'x-ratelimit-remaining-requests': mode === 'spent' ? '0' : '9000',
                    'x-ratelimit-reset-requests': mode === 'spent' ? '6m0s' : '20ms'},
          content: {scene: 'detail', confidence: 0.9, alt_text: 'Rings on a cushion', keywords: ['rings'],
                    people: 0, eyes_closed: false}};
};
JS
echo spent >mode
fake_openai answers.js

sample --out shoot --count 5 --megapixels 1
cat >shoot/wsportfolio.yaml <<YAML
tagging:
  providers: [openai, local]
  openai:
    model: fake-vision
    base_url: "http://127.0.0.1:$port/v1"
    concurrency: 1
    requests_per_minute: 240
YAML

# The first answer (its photo is tagged) says no request remains for six minutes.
started=$(date +%s)
(cd shoot && timeout 120 "$WSP_BIN" --no-progress --json run) >run1.jsonl 2>run1.err || true
elapsed=$(( $(date +%s) - started ))
[ "$elapsed" -lt 60 ] || fail "the run waited ${elapsed}s for the server's reset"
expect_eq "$(wc -l <requests.jsonl)" 1 "nothing more is sent before the reset"
expect_eq "$(jq -r 'select(.event == "tag.completed") | .due_for_provider' run1.jsonl)" 4 "the other photos stay due"
expect_grep "rate limit reached" run1.err "the reason is said"
expect_eq "$(sql shoot "SELECT count(*) FROM jobs WHERE stage = 'tag' AND state = 'pending'")" 4 "pending in the catalog"

# The server allows again: exactly the photos kept due are asked, evenly spaced (240 a minute: 250 ms apart).
echo open >mode
(cd shoot && wsp --json tag) >tag2.jsonl 2>tag2.err || { cat tag2.err >&2; fail "tag failed"; }
expect_eq "$(wc -l <requests.jsonl)" 5 "the four photos asked again"
expect_eq "$(jq -r 'select(.event == "tag.completed") | .tagged' tag2.jsonl)" 4 "and tagged"
expect_eq "$(jq -r 'select(.event == "tag.completed") | .due_for_provider' tag2.jsonl)" 0 "none due any more"
closest=$(jq -s '[.[1:] | .[] | .at] | [range(1; length) as $i | .[$i] - .[$i - 1]] | min' requests.jsonl)
[ "$closest" -ge 200 ] || fail "requests ${closest} ms apart, under the 250 ms of 240 a minute"
(cd shoot && wsp --json tag show) >show.jsonl 2>/dev/null
expect_eq "$(jq -r .basis show.jsonl | sort -u)" openai "every photo on the provider's word"
