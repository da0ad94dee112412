# kill -9 at random moments of `run`, then one uninterrupted run: the catalog is
# intact, every image has exactly one finished render, renders/ holds exactly
# what the manifest lists (no half-written or orphaned file), and the renders
# are byte-identical to those of a run that was never interrupted.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
require jq "read the manifest"

images=${WSP_CRASH_IMAGES:-16}
sample --out shoot --count "$images" --megapixels "${WSP_CRASH_MEGAPIXELS:-1}"
cp -a shoot twin

# A temporary file is only open for a few milliseconds of each image: a dozen
# kills give a fair chance of catching one.
rounds=${WSP_CRASH_ROUNDS:-12} landed=0  # the benchmark runs many more (scripts/bench crash)
for round in $(seq "$rounds"); do
  "$WSP_BIN" --no-progress run shoot >/dev/null 2>"kill-$round.err" & pid=$!
  sleep "$(printf '0.%03d' $((RANDOM % 1000)))"
  sleep "$(printf '0.%03d' $((200 + RANDOM % 300)))"   # 0.2 to 1.5 s in all
  kill -9 "$pid" 2>/dev/null || true
  # Only a run that died of the signal was cut short; one that had already
  # exited (a zombie still takes the signal) was not.
  if wait "$pid" 2>/dev/null; then :; elif [ $? -eq 137 ]; then landed=$((landed + 1)); fi
done
# And once while an output file is being written: kill as soon as a temporary
# file of this process shows up in renders/.
"$WSP_BIN" --no-progress run shoot >/dev/null 2>kill-writing.err & pid=$!
SECONDS=0
while [ "$SECONDS" -lt 30 ] && kill -0 "$pid" 2>/dev/null; do
  if compgen -G "shoot/.wsportfolio/renders/.*.tmp-$pid" >/dev/null; then
    kill -9 "$pid" 2>/dev/null || true
    break
  fi
done
if wait "$pid" 2>/dev/null; then :; elif [ $? -eq 137 ]; then landed=$((landed + 1)); fi
rounds=$((rounds + 1))
echo "kill -9 landed in $landed of $rounds runs; $(sql shoot "select count(*) from renders") renders committed," \
  "$(find shoot/.wsportfolio/renders -type f 2>/dev/null | wc -l) files in renders/ before the last run" >&2
[ "$landed" -gt 0 ] || fail "no kill -9 landed while a run was working: the test tested nothing"

wsp_code run shoot 2>final.err
expect_eq "$code" 0 "the uninterrupted run after the kills"

expect_eq "$(sql shoot "pragma integrity_check")" ok "catalog integrity"
active=$(sql shoot "select count(*) from images where status='active'")
expect_eq "$active" "$images" "every image ingested"
expect_eq "$(sql shoot "select count(*) from jobs where state='running'")" 0 "no job left running"
expect_eq "$(sql shoot "select count(*) from images i where i.status='active' and not exists (select 1 from jobs j
  where j.image_id = i.id and j.stage='render' and j.state='done')")" 0 "every image's render job is done"
expect_eq "$(sql shoot "select count(*) from renders r join images i on i.id = r.image_id where i.status='active'")" \
  "$active" "one render per image"
expect_eq "$(sql shoot "select count(*) from (select image_id from renders group by image_id having count(*) > 1)")" 0 \
  "no image rendered twice"

manifest=shoot/.wsportfolio/manifest.json
expect_eq "$(jq '.images | length' "$manifest")" "$active" "the manifest lists every image"
jq -r '.images[].variants[].path' "$manifest" | sort >listed.txt
(cd shoot/.wsportfolio && find renders -type f | sort) >on-disk.txt
if ! diff listed.txt on-disk.txt >renders.diff; then
  cat renders.diff >&2
  fail "renders/ holds files the manifest does not list (left by the killed runs) or misses some"
fi
leftovers=$(cd shoot/.wsportfolio && find . -name '*.tmp-*' | sort)
[ -z "$leftovers" ] || fail "temporary files left behind by the killed runs: $leftovers"
while read -r path sha; do
  expect_eq "$(sha256sum "shoot/.wsportfolio/$path" | cut -d' ' -f1)" "$sha" "sha256 of $path"
done < <(jq -r '.images[].variants[] | "\(.path) \(.sha256)"' "$manifest")

# The same shoot rendered in one go gives the same bytes.
wsp_code run twin 2>twin.err
expect_eq "$code" 0 "the twin's run"
renders_of() { jq -r '.images[] | .source as $s | .variants[] | "\($s) \(.format) \(.width) \(.sha256)"' "$1" | sort; }
renders_of "$manifest" >interrupted.txt
renders_of twin/.wsportfolio/manifest.json >uninterrupted.txt
diff interrupted.txt uninterrupted.txt >&2 || fail "renders differ from an uninterrupted run"
echo ok
