# init writes a config that round-trips through check; show masks secrets;
# a broken config is refused with file:line, the key and a suggestion.
source "$(dirname "$0")/lib.sh"

wsp init project 2>/dev/null
[ -f project/wsportfolio.yaml ] || fail "init wrote no config"
wsp -c project/wsportfolio.yaml config check 2>check.txt
expect_grep "ok" check.txt "check passes"
wsp_code init project 2>again.txt
expect_eq "$code" 2 "init refuses to overwrite"

export OPENAI_API_KEY="sk-test-this-must-never-appear"
(cd project && wsp config show >../show.txt)
expect_grep "tagging.openai.api_key_env = OPENAI_API_KEY (set)" show.txt "secret reference shown as set"
expect_no_grep "sk-test-this-must-never-appear" show.txt "secret value hidden"
expect_grep "(wsportfolio.yaml:[0-9]*) *render.widths = \[480, 960, 1600, 2400\]" show.txt "origin with line"
expect_grep "(derived) *project.slug = project" show.txt "derived slug"

printf 'version: 1\nrender:\n  widths: [480, 960]\n  fromats: {}\n' >project/wsportfolio.yaml
wsp_code -c project/wsportfolio.yaml config check 2>bad.txt
expect_eq "$code" 2 "exit code for a bad config"
expect_grep "wsportfolio.yaml:4: render.fromats: unknown key 'fromats' (did you mean 'formats'?)" bad.txt "error names line, key, suggestion"

printf 'tagging:\n  openai:\n    api_key: sk-inline-secret\n' >project/wsportfolio.yaml
wsp_code -c project/wsportfolio.yaml config check 2>secret.txt
expect_eq "$code" 2 "inline secret refused"
expect_no_grep "sk-inline-secret" secret.txt "inline secret not echoed"

# A config error stops ingest before any work.
mkdir -p project/shoot
wsp_code -c project/wsportfolio.yaml ingest project/shoot 2>/dev/null
expect_eq "$code" 2 "ingest with a bad config"
[ ! -e project/.wsportfolio ] || fail "state folder created despite a bad config"
echo ok
