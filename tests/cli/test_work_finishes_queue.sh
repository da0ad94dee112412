# `work` on a project another process ingested: it renders and tags what is
# queued, publishes what it finished, and ends with 0 once nothing is left;
# it never scans the sources (a photo copied in after the ingest waits for
# the machine that ingests).
source "$(dirname "$0")/work_lib.sh"

sample --out shoot --count 6 --megapixels 0.5
wsp ingest shoot 2>/dev/null
images=$(sql shoot "select count(*) from images where status='active'")
expect_eq "$images" 6 "images ingested"
cp shoot/IMG_0001.JPG shoot/ARRIVED_LATER.JPG

wsp_code --json work shoot >w.jsonl 2>w.err
[ "$code" -eq 0 ] || { cat w.err >&2; fail "work exited $code"; }
expect_eq "$(sql shoot "select count(*) from events where kind='image.rendered'")" "$images" "one render per photo"
expect_eq "$(sql shoot "select count(distinct image_id) from events where kind='image.rendered'")" "$images" \
  "every photo rendered"
expect_eq "$(sql shoot "select count(*) from jobs where stage='tag' and state='done'")" "$images" "every photo tagged"
expect_eq "$(sql shoot "select count(*) from images where path like '%ARRIVED_LATER%'")" 0 "nothing ingested"
expect_eq "$(sql shoot "select count(*) from jobs where state='running'")" 0 "no job left running"
expect_eq "$(sql shoot "select command || ' ' || exit_code from runs where command like 'work%'")" "work 0" \
  "the worker's run, finished"
expect_eq "$(jq '.images | length' shoot/.wsportfolio/public/manifest.json)" "$images" \
  "the worker published what it rendered"

# Nothing is left: a second worker ends at once, doing nothing.
wsp_code --json work shoot >again.jsonl 2>again.err
expect_eq "$code" 0 "exit code of a worker with nothing to do"
expect_eq "$(count_events again.jsonl '.event == "item"')" 0 "items worked on by the second worker"
expect_eq "$(sql shoot "select count(*) from events where kind='image.rendered'")" "$images" "renders after it"
echo ok
