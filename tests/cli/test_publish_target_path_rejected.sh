# A local target must be a folder of its own: the project folder itself, a
# source folder, a folder holding a source, or the state folder is a config
# error (exit 2) naming the file and line, before anything is read.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"

sample --out proj/shoot --count 1 --megapixels 1
for path in . ./ ./shoot shoot/ .wsportfolio "$PWD/proj"; do
  printf 'version: 1\nsources:\n  - path: ./shoot\npublish:\n  targets:\n    - name: site\n      type: local\n      path: %s\n' \
    "$path" >proj/wsportfolio.yaml
  wsp_code run proj 2>err.txt
  expect_eq "$code" 2 "target path '$path': exit code"
  expect_grep "wsportfolio.yaml:8: publish.targets\[0\].path" err.txt "target path '$path': file, line and key"
  [ ! -e proj/.wsportfolio/catalog.db ] || fail "target path '$path': work was done"
done

# The default source is the project folder: then any folder inside it may be a target, but not the project.
printf 'version: 1\npublish:\n  targets:\n    - { name: site, type: local, path: . }\n' >proj/wsportfolio.yaml
wsp_code run proj 2>err.txt
expect_eq "$code" 2 "target '.' with the default source: exit code"
expect_grep "wsportfolio.yaml:4: publish.targets\[0\].path" err.txt "file, line and key"

printf 'version: 1\nsources:\n  - path: ./shoot\npublish:\n  targets:\n    - { name: site, type: local, path: ./shoot/web }\n' \
  >proj/wsportfolio.yaml
wsp -q run proj 2>err.txt || { cat err.txt >&2; fail "a target inside a source is refused"; }
expect_eq "$(sql proj "select count(*) from images")" 1 "photos"
echo ok
