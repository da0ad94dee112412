# `run --priority rush` on a folder of a project whose backlog is queued
# already: its photos, catalogued before at normal priority, are raised without
# being read again and rendered before the backlog.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
require jq "read the events"

mkdir proj
echo "version: 1" >proj/wsportfolio.yaml
sample --out proj/backlog --count 6 --megapixels 0.3 --seed 1
sample --out proj/vip --count 3 --megapixels 0.3 --seed 2
wsp ingest proj 2>/dev/null
expect_eq "$(sql proj "select count(*) from images where priority > 0")" 0 "the backlog is queued at normal priority"

wsp --json -j 1 -c proj/wsportfolio.yaml run --priority rush proj/vip >run.jsonl 2>run.err ||
  { cat run.err >&2; fail "run --priority rush failed"; }
expect_eq "$(jq -r 'select(.event == "ingest.completed") | .bytes_read' run.jsonl)" 0 "nothing read again"
expect_eq "$(sql proj "select count(*) from images where path like 'vip/%' and priority > 0")" 3 "the rush is recorded"
jq -r 'select(.event == "item" and .stage == "render") | .file' run.jsonl >rendered.txt
expect_eq "$(wc -l <rendered.txt)" 9 "the backlog is rendered too"
expect_eq "$(head -n 3 rendered.txt | grep -c '^vip/')" 3 "the rush is rendered first"

wsp_code run --priority urgent proj 2>bad.err
expect_eq "$code" 2 "an unknown level is a usage error"
expect_grep "urgent" bad.err "the level named"
echo ok
