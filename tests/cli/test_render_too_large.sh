# WebP holds at most 16383 px a side. A 100x30000 strip still renders, as a
# JPEG only; a width over the limit with WebP enabled is a config error at its
# line, before any work.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"

mkdir shoot
vips black strip.v 100 30000 --bands 3
vips linear strip.v strip2.v "1 1 1" "90 160 60" --uchar
vips copy strip2.v "shoot/strip.jpg[Q=90]"
cat >shoot/wsportfolio.yaml <<'YAML'
render:
  widths: [480]
  placeholder: none
YAML
wsp ingest shoot 2>/dev/null
wsp_code render shoot 2>render.err
cat render.err >&2
expect_eq "$code" 0 "exit code of render"
expect_no_grep 'too large' render.err "no variant fails as too large"
expect_grep 'strip.jpg: no WebP variant at 100x30000' render.err "a note names the photo and the variant left out"
expect_eq "$(sql shoot "select format || ':' || width || 'x' || height from variants" | paste -sd,)" \
  "jpeg:100x30000" "variants of the strip"
jpeg=shoot/.wsportfolio/$(sql shoot "select path from variants where format='jpeg'")
expect_eq "$(vipsheader -f height "$jpeg")" 30000 "height of the JPEG variant"

cat >too-wide.yaml <<'YAML'
project: { title: t }
render:
  widths: [960, 16384]
YAML
wsp_code -c too-wide.yaml config check >check.out 2>&1
cat check.out >&2
expect_eq "$code" 2 "exit code of config check"
expect_grep 'too-wide.yaml:3: render.widths' check.out "the error names the file, line and key"
expect_grep 'WebP' check.out "the error names the format"
