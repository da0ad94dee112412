# A published render that cannot be read as an image any more cannot be
# checked for GPS positions or serial numbers: the privacy scan reports it as a
# finding of its own, naming the file, instead of passing it over.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
require jq "read the findings"

sample --out shoot --count 2 --megapixels 1
wsp run shoot 2>/dev/null || fail "run failed"
cd shoot
public=.wsportfolio/public
published_jpg=$(cd $public && ls renders/*.jpg | head -1)
# Not an image at all any more, under its old name.
printf 'these bytes are no JPEG\n%.0s' $(seq 100) >"$public/$published_jpg"

wsp_code --json verify >faults.jsonl 2>faults.err
expect_eq "$code" 3 "verify exits 3 on findings"
expect_eq "$(jq -r 'select(.event == "verify.finding" and .kind == "published.privacy") | .file' faults.jsonl)" \
  "site: $published_jpg" "the file that could not be scanned is a privacy finding"
expect_grep "could not be checked" faults.jsonl "the finding says why"
echo ok
