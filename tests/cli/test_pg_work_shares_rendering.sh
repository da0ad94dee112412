# Two machines' helpers and the ingesting run share one shoot on a PostgreSQL
# catalog: two `work --forever` wait (LISTEN), `run` ingests and renders, the
# workers wake on its NOTIFYs and claim renders too; every photo is rendered
# exactly once, by more than one process, and all of it is tagged and
# published. SIGTERM then ends each worker with 130, its claims handed back.
export WSP_CATALOG_BACKEND=postgres
source "$(dirname "$0")/work_lib.sh"

sample --out all --count 24 --megapixels 2
mkdir shoot
mv all/IMG_0001.JPG shoot/
wsp run shoot 2>first.err || { cat first.err >&2; fail "the first run failed"; }
start_worker a -j 1 work --forever shoot; a=$worker
start_worker b -j 1 work --forever shoot; b=$worker
wait_event a.jsonl '.event == "work.waiting"'
wait_event b.jsonl '.event == "work.waiting"'
mv all/*.JPG shoot/
wsp -j 1 --json run shoot >run.jsonl 2>run.err || { cat run.err >&2; fail "run failed"; }
images=$(sql shoot "select count(*) from images where status='active'")
expect_eq "$images" 24 "images ingested"
wait_sql shoot "select count(*) from jobs where stage='tag' and state='done'" "$images" 120
wait_sql shoot "select count(*) from jobs where state='running'" 0
for _ in $(seq 300); do
  [ "$(jq '.images | length' shoot/.wsportfolio/public/manifest.json)" = "$images" ] && break
  sleep 0.2
done
expect_eq "$(jq '.images | length' shoot/.wsportfolio/public/manifest.json)" "$images" "every photo published"

expect_eq "$(sql shoot "select count(*) from events where kind='image.rendered'")" "$images" "one render per photo"
expect_eq "$(sql shoot "select count(distinct image_id) from events where kind='image.rendered'")" "$images" \
  "every photo rendered"
sql shoot "select r.command, count(*) from events e join runs r on r.id = e.run_id where e.kind = 'image.rendered' \
  group by r.id, r.command order by r.command" >share.txt
cat share.txt >&2
[ "$(wc -l <share.txt)" -ge 2 ] || fail "one process rendered everything: the rendering was not shared"
grep -q '^work --forever|' share.txt || fail "no worker rendered anything"

stop_worker "$a"
expect_eq "$code" 130 "exit code of the first worker after SIGTERM"
stop_worker "$b"
expect_eq "$code" 130 "exit code of the second worker after SIGTERM"
expect_eq "$(sql shoot "select count(*) from runs where finished_ms is null")" 0 "every run and worker closed"
expect_eq "$(sql shoot "select count(*) from runs where command = 'work --forever' and exit_code = 130")" 2 \
  "both workers recorded as interrupted"
echo ok
