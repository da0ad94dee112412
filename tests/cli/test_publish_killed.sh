# kill -9 at random moments of publish, then a publish that finishes: every
# file the catalog records as published is in the target with its hash, no
# temporary file is left, and the next publish writes nothing.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
require jq "read the events"

sample --out shoot --count 8 --megapixels 1
wsp ingest shoot 2>/dev/null
(cd shoot && wsp render && wsp tag) 2>/dev/null
public=shoot/.wsportfolio/public

landed=0 rounds=${WSP_PUBLISH_KILL_ROUNDS:-8}
for round in $(seq "$rounds"); do
  rm -rf "$public"
  sqlite_sql shoot "delete from published"
  (cd shoot && exec "$WSP_BIN" --no-progress publish) >/dev/null 2>"kill-$round.err" & pid=$!
  sleep "$(printf '0.%03d' $((RANDOM % 600)))"
  kill -9 "$pid" 2>/dev/null || true
  # Only a publish that died of the signal was cut short; one that had already
  # exited (a zombie still takes the signal) was not.
  if wait "$pid" 2>/dev/null; then :; elif [ $? -eq 137 ]; then landed=$((landed + 1)); fi
  # What the catalog says landed did land, byte for byte.
  while read -r path sha; do
    [ -f "$public/$path" ] || fail "round $round: recorded $path is not in the target"
    expect_eq "$(sha256sum "$public/$path" | cut -d' ' -f1)" "$sha" "round $round: sha256 of $path"
  done < <(sql shoot "select path || ' ' || sha256 from published")
done
# And once while a file is being written: as soon as a temporary file of this
# process shows up in the target.
rm -rf "$public"
sqlite_sql shoot "delete from published"
(cd shoot && exec "$WSP_BIN" --no-progress publish) >/dev/null 2>kill-writing.err & pid=$!
SECONDS=0
while [ "$SECONDS" -lt 30 ] && kill -0 "$pid" 2>/dev/null; do
  if compgen -G "$public/.*.tmp-$pid" >/dev/null || compgen -G "$public/renders/.*.tmp-$pid" >/dev/null; then
    kill -9 "$pid" 2>/dev/null || true
    break
  fi
done
if wait "$pid" 2>/dev/null; then :; elif [ $? -eq 137 ]; then landed=$((landed + 1)); fi
rounds=$((rounds + 1))
echo "kill -9 landed in $landed of $rounds publishes; $(sql shoot "select count(*) from published") files recorded" \
  "before the last publish" >&2
[ "$landed" -gt 0 ] || fail "no kill -9 landed while a publish was working: the test tested nothing"

(cd shoot && wsp --json publish) >final.jsonl 2>final.err || { cat final.err >&2; fail "the publish after the kills failed"; }
expect_eq "$(sql shoot "pragma integrity_check")" ok "catalog integrity"
while read -r path sha; do
  expect_eq "$(sha256sum "$public/$path" | cut -d' ' -f1)" "$sha" "sha256 of $path"
done < <(sql shoot "select path || ' ' || sha256 from published")
# The marker that names the folder a publish target is the tool's, not the gallery's.
(cd "$public" && find . -type f ! -path ./.wsportfolio-target.json | sed 's|^\./||' | sort) >on-disk.txt
sql shoot "select path from published order by path" | sort >recorded.txt
diff recorded.txt on-disk.txt >&2 || fail "the target and the record differ"
leftovers=$(find "$public" -name '.*.tmp-*')
[ -z "$leftovers" ] || fail "temporary files left behind: $leftovers"
(cd shoot && wsp --json publish) >again.jsonl 2>/dev/null
expect_eq "$(jq -r 'select(.event == "publish.completed") | "\(.put) \(.replaced) \(.deleted)"' again.jsonl)" "0 0 0" \
  "the publish after that writes nothing"
echo ok
