# A PostgreSQL URL that carries a password is refused wherever it is given
# (catalog.url in the config, WSPORTFOLIO_CATALOG_URL, catalog migrate --to),
# and the password appears in no output, human or --json.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"

secret=hunter2-wedding-db
sample --out shoot --count 2 --megapixels 1
cat >shoot/wsportfolio.yaml <<YAML
catalog:
  url: "postgresql://studio:$secret@db.example/portfolio"
YAML
for command in "config check" "config show" "run"; do
  # shellcheck disable=SC2086
  wsp_code --json $command shoot >out.txt 2>err.txt
  expect_eq "$code" 2 "$command: exit code"
  expect_grep "catalog.url" err.txt "$command: the key named"
  expect_grep "password" err.txt "$command: the reason"
  expect_no_grep "$secret" err.txt "$command: stderr"
  expect_no_grep "$secret" out.txt "$command: stdout"
done
[ ! -e shoot/.wsportfolio/catalog.db ] || fail "a catalog was made despite the refused URL"

rm shoot/wsportfolio.yaml
for url in "postgresql://studio:$secret@db.example/portfolio" "postgresql://studio@db.example/p?password=$secret" \
  "host=db.example dbname=portfolio password=$secret"; do
  WSPORTFOLIO_CATALOG_URL=$url wsp_code --json run shoot >out.txt 2>err.txt
  [ "$code" -ne 0 ] || fail "ran with $url"
  expect_grep "password" err.txt "the reason"
  expect_no_grep "$secret" err.txt "stderr"
  expect_no_grep "$secret" out.txt "stdout"
done
[ ! -e shoot/.wsportfolio/catalog.db ] || fail "the SQLite catalog was used instead of the refused URL"
echo ok
