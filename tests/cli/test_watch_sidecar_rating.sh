# A rating saved in the photographer's culling tool while the watcher runs
# reaches the gallery within the hot folder's latency, and is metadata only:
# nothing is ingested, rendered or tagged again for it.
source "$(dirname "$0")/watch_lib.sh"

make_project 300
cat >>proj/wsportfolio.yaml <<'YAML'
publish:
  targets:
    - { name: proofs, type: local, path: ./proofs }
    - { name: best, type: local, path: ./best, select: { min_rating: 3 } }
YAML
sample --out proj --count 3 --megapixels 1
wsp run proj >/dev/null 2>run.err || { cat run.err >&2; fail "the first run"; }
shown() { jq -r '.images[].source' "proj/$1/manifest.json" | sort | tr '\n' ' '; }
expect_eq "$(shown best)" "" "nothing is rated yet"

sidecar() {  # FILE RATING, written as Photo Mechanic saves: a temporary, then a rename
  cat >"$1.pmtmp" <<XMP
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:photomechanic="http://ns.camerabits.com/photomechanic/1.0/"
    xmp:Rating="$2" photomechanic:Tagged="True"/>
 </rdf:RDF>
</x:xmpmeta>
XMP
  mv "$1.pmtmp" "$1"
}
work_events='.event == "item" and (.stage == "ingest" or .stage == "render" or .stage == "tag")'

start_watch w watch proj
wait_for w.jsonl '.event == "watch.caught_up"'
before=$(count w.jsonl "$work_events")
published=$(count w.jsonl '.event == "publish.completed"')

started=$(date +%s.%N)
sidecar proj/IMG_0002.xmp 4
wait_count w.jsonl '.event == "publish.completed"' $((published + 1)) 10
elapsed=$(echo "$(date +%s.%N) - $started" | bc)
expect_eq "$(shown best)" "IMG_0002.JPG " "the new rating reaches the portfolio"
echo "rating to gallery: $elapsed s" >&2
[ "$(echo "$elapsed < 2.0" | bc)" = 1 ] || fail "the rating took $elapsed s to reach the gallery"

sidecar proj/IMG_0003.xmp -1
wait_count w.jsonl '.event == "publish.completed"' $((published + 2)) 10
expect_eq "$(shown proofs)" "IMG_0001.JPG IMG_0002.JPG " "a reject in the tool leaves the proofing gallery"

expect_eq "$(count w.jsonl "$work_events")" "$before" "nothing was ingested, rendered or tagged for a sidecar"
expect_eq "$(sql proj "select sum(attempts) from jobs")" "$(sql proj "select count(*) from jobs")" \
  "every job ran once, in the first run"
stop_watch
echo ok
