# `run` renders every good image of a shoot once; run again, it renders nothing;
# a new render.widths re-renders every image without re-ingesting any, and the
# files of the old widths leave renders/.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
require jq "read the manifest"

# The value of `field` in the one `event` line of a JSON Lines file.
event_field() { jq -r --arg e "$2" "select(.event == \$e) | .$3" "$1"; }
manifest=shoot/.wsportfolio/manifest.json

# Every variant the manifest lists exists with its size and hash; every JPEG is
# progressive; renders/ holds nothing else.
check_manifest() {
  local label=$1 listed=0 path sha bytes
  while read -r path sha bytes; do
    listed=$((listed + 1))
    [ -f "shoot/.wsportfolio/$path" ] || fail "$label: $path is in the manifest but not on disk"
    expect_eq "$(sha256sum "shoot/.wsportfolio/$path" | cut -d' ' -f1)" "$sha" "$label: sha256 of $path"
    expect_eq "$(stat -c %s "shoot/.wsportfolio/$path")" "$bytes" "$label: size of $path"
    case $path in
      *.jpg)
        LC_ALL=C grep -qaP '\xFF\xC2' "shoot/.wsportfolio/$path" || fail "$label: $path is not progressive (no SOF2)"
        if LC_ALL=C grep -qaP '\xFF\xC0' "shoot/.wsportfolio/$path"; then fail "$label: $path has a baseline SOF0"; fi ;;
    esac
  done < <(jq -r '.images[].variants[] | "\(.path) \(.sha256) \(.bytes)"' "$manifest")
  [ "$listed" -gt 0 ] || fail "$label: the manifest lists no variant"
  jq -r '.images[].variants[].path' "$manifest" | sort >listed.txt
  (cd shoot/.wsportfolio && find renders -type f | sort) >on-disk.txt
  diff listed.txt on-disk.txt >/dev/null || { diff listed.txt on-disk.txt >&2 || true; fail "$label: renders/ differs from the manifest"; }
}

sample --out shoot --count 5 --megapixels 1 --with-bad-files
jq -r '.files[].name' shoot/.shoot.json | sort >good.txt
good=$(wc -l <good.txt)

wsp_code --json run shoot >run1.jsonl 2>run1.err
[ "$code" -le 1 ] || { cat run1.err >&2; fail "first run exited $code"; }
expect_eq "$(event_field run1.jsonl render.completed rendered)" "$good" "first run renders every good image"
expect_eq "$(event_field run1.jsonl render.completed failed)" 0 "first run: no render failure"
expect_eq "$(event_field run1.jsonl render.completed decodes)" "$good" "first run: one decode per image"
jq -r '.images[].source' "$manifest" | sort >rendered.txt
diff good.txt rendered.txt >&2 || fail "the manifest lists exactly the good images"
check_manifest "first run"
# Upright: frames shot with the camera turned (orientation 6 or 8) are portrait.
while read -r name orientation; do
  size=$(jq -r --arg n "$name" '.images[] | select(.source == $n) | "\(.width) \(.height)"' "$manifest")
  read -r w h <<<"$size"
  case $orientation in
    6 | 8) [ "$h" -gt "$w" ] || fail "$name (orientation $orientation) rendered ${w}x$h, not portrait" ;;
    1) [ "$w" -gt "$h" ] || fail "$name rendered ${w}x$h, not landscape" ;;
  esac
done < <(jq -r '.files[] | "\(.name) \(.orientation)"' shoot/.shoot.json)

# The run ends with where its time went, stage by stage, for people and scripts.
expect_eq "$(jq -r 'select(.event == "run.completed") | [.stages[].stage] | join(" ")' run1.jsonl)" \
  "ingest render tag publish" "the stages timed by the first run"
expect_eq "$(jq -r 'select(.event == "run.completed") | .code' run1.jsonl)" "$code" "run.completed's exit status"
jq -e --argjson n "$good" 'select(.event == "run.completed") | .stages[] | select(.stage == "render")
  | .items == $n and .work_seconds > 0 and .seconds >= .commit_seconds' run1.jsonl >/dev/null ||
  fail "run.completed: the render stage's items and timers"
expect_grep '^run: [0-9.]* s: ingest [0-9.]* s, render [0-9.]* s (work [0-9.]*, claim [0-9.]*, commit [0-9.]*), tag' \
  run1.err "the timing summary at the end of run"

wsp_code --json run shoot >run2.jsonl 2>run2.err
[ "$code" -le 1 ] || { cat run2.err >&2; fail "second run exited $code"; }
expect_eq "$(event_field run2.jsonl render.completed rendered)" 0 "second run renders nothing"
expect_eq "$(event_field run2.jsonl render.completed decodes)" 0 "second run decodes nothing"
check_manifest "second run"

# The config `init` writes holds the defaults: nothing to redo.
wsp init shoot 2>/dev/null
wsp_code --json run shoot >run3.jsonl 2>run3.err
expect_eq "$(event_field run3.jsonl render.completed rendered)" 0 "the default config renders nothing new"

sed -i 's/^\(  widths: \)\[480, 960, 1600, 2400\]/\1[320, 800]/' shoot/wsportfolio.yaml
grep -q '^  widths: \[320, 800\]' shoot/wsportfolio.yaml || fail "could not edit render.widths"
cp "$manifest" manifest-before.json
wsp_code --json run shoot >run4.jsonl 2>run4.err
[ "$code" -le 1 ] || { cat run4.err >&2; fail "run with new widths exited $code"; }
expect_eq "$(event_field run4.jsonl ingest.completed added)" 0 "new widths: nothing added"
expect_eq "$(event_field run4.jsonl ingest.completed changed)" 0 "new widths: nothing changed"
expect_eq "$(event_field run4.jsonl ingest.completed bytes_read)" 0 "new widths: no source read by ingest"
expect_eq "$(event_field run4.jsonl render.completed rendered)" "$good" "new widths re-render every image"
expect_eq "$(event_field run4.jsonl render.completed decodes)" "$good" "new widths: one decode per image"
expect_eq "$(jq -r '[.images[].variants[].width] | unique | join(",")' "$manifest")" "320,800" "only the new widths"
check_manifest "new widths"
for old in $(jq -r '.images[].variants[].path' manifest-before.json); do
  [ ! -e "shoot/.wsportfolio/$old" ] || fail "$old of the old widths is still in renders/"
done

wsp_code --json run shoot >run5.jsonl 2>run5.err
expect_eq "$(event_field run5.jsonl render.completed rendered)" 0 "nothing changed: nothing rendered"
expect_eq "$(event_field run5.jsonl render.completed decodes)" 0 "nothing changed: nothing decoded"
check_manifest "last run"
echo ok
