# `run`, `ingest` and `watch` narrowed to a folder of the project that no
# source covers refuse with exit 2, naming the folder, and process nothing.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"

mkdir -p proj/shoot proj/elsewhere
printf 'version: 1\nsources:\n  - path: ./shoot\n' >proj/wsportfolio.yaml
sample --out proj/elsewhere --count 1 --megapixels 1
cp proj/elsewhere/IMG_0001.JPG proj/shoot/

for command in "run" "ingest" "watch --once"; do
  wsp_code -c proj/wsportfolio.yaml $command proj/elsewhere 2>err.txt
  expect_eq "$code" 2 "$command outside the sources: exit code"
  expect_grep "elsewhere: not inside any source of the project" err.txt "$command names the folder"
done
[ ! -e proj/.wsportfolio/catalog.db ] || expect_eq "$(sql proj "select count(*) from images")" 0 "images taken"
wsp -q -c proj/wsportfolio.yaml run proj/shoot 2>/dev/null || fail "run inside the sources failed"
expect_eq "$(sql proj "select count(*) from images")" 1 "images taken from the source"
echo ok
