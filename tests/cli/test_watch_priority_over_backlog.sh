# A photo that arrives in a watched folder while `run` renders a backlog of
# 200 goes ahead of it: it reaches the gallery (the published manifest)
# before half of the backlog is rendered, counted in the catalog the moment
# the photo appears there.
source "$(dirname "$0")/watch_lib.sh"

backlog=200
make_project 300
mkdir -p proj/backlog proj/incoming
sample --out proj/backlog --count "$backlog" --megapixels 0.3 --seed 1
sample --out stock --count 1 --megapixels 0.3 --seed 2
renders() { sql proj "select count(*) from renders"; }

start_watch w -c proj/wsportfolio.yaml watch proj/incoming
wait_for w.jsonl '.event == "watch.started"'

# One image at a time, so that the backlog takes many seconds.
"$WSP_BIN" --no-progress --json -j 1 run proj >run.jsonl 2>run.err &
runner=$!
trap '[ -z "$watcher" ] || kill -KILL "$watcher" 2>/dev/null || true; kill -KILL "$runner" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 600); do
  [ "$(renders)" -ge 5 ] && break
  kill -0 "$runner" 2>/dev/null || { cat run.err >&2; fail "run ended before rendering"; }
  sleep 0.1
done
[ "$(renders)" -ge 5 ] || fail "the run did not start rendering within 60 s"

cp stock/IMG_0001.JPG proj/incoming/.TETHER_0001.JPG.part
mv proj/incoming/.TETHER_0001.JPG.part proj/incoming/TETHER_0001.JPG
manifest=proj/.wsportfolio/public/manifest.json
in_gallery() { [ -f "$manifest" ] && jq -e 'any(.images[]; .source == "TETHER_0001.JPG")' "$manifest" >/dev/null 2>&1; }
for _ in $(seq 1200); do
  if in_gallery; then
    rendered=$(renders)
    break
  fi
  kill -0 "$watcher" 2>/dev/null || { cat w.err >&2; fail "the watcher exited"; }
  sleep 0.1
done
in_gallery || { cat w.err >&2; fail "the tethered photo never reached the gallery"; }
echo "the tethered photo was published with $rendered of $((backlog + 1)) photos rendered" >&2
[ "$rendered" -lt $((backlog / 2)) ] ||
  fail "the tethered photo waited behind the backlog: published only once $rendered photos were rendered"
kill -0 "$runner" 2>/dev/null || fail "the run had finished: nothing was there to jump ahead of"

kill -TERM "$runner" 2>/dev/null || true
wait "$runner" || true
stop_watch
expect_eq "$(sql proj "select count(*) from images where path like '%TETHER_0001.JPG' and priority > 0")" 1 \
  "the tethered photo queued ahead of the backlog"
echo ok
