# A watermark text with characters that Pango markup gives a meaning to
# ("&", "<") is drawn as written: config check accepts it, and every variant
# wide enough to be marked renders, unlike the same photo without a mark.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"

sample --out shoot --count 1 --megapixels 1
for text in 'Smith & Jones Photography' 'Ana <3 Ben'; do
  rm -rf shoot/.wsportfolio
  cat >shoot/wsportfolio.yaml <<YAML
render:
  widths: [640]
  formats: { webp: { enabled: false } }
  placeholder: none
  watermark: { text: "$text", position: bottom-right, opacity: 1.0, min_width: 0 }
YAML
  (cd shoot && wsp config check) >check.out 2>&1 || { cat check.out >&2; fail "config check refused '$text'"; }
  wsp ingest shoot 2>/dev/null
  wsp_code render shoot 2>render.err
  cat render.err >&2
  expect_eq "$code" 0 "exit code of render with the watermark '$text'"
  expect_no_grep 'markup' render.err "no markup error for '$text'"
  marked=shoot/.wsportfolio/$(sql shoot "select path from variants where format='jpeg'")
  [ -f "$marked" ] || fail "no JPEG variant for '$text'"
  cp "$marked" marked.jpg

  # The same photo without the watermark differs where the mark is.
  rm -rf shoot/.wsportfolio
  sed -i '/watermark/d' shoot/wsportfolio.yaml
  wsp ingest shoot 2>/dev/null
  wsp render shoot 2>/dev/null
  plain=shoot/.wsportfolio/$(sql shoot "select path from variants where format='jpeg'")
  difference=$(vips subtract marked.jpg "$plain" diff.v && vips abs diff.v absdiff.v && vips max absdiff.v)
  echo "largest difference with '$text': $difference" >&2
  [ "${difference%.*}" -gt 60 ] || fail "the watermark '$text' was not drawn"
done
