# The folders of lib/ use each other only as ARCHITECTURE.md's table of
# dependencies says: every folder has a row, and every `#include "folder/...`
# in a folder's files names the folder itself or one its row lists.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
root=${WSP_SOURCE_DIR:-$here/../..}

rows=$(sed -n '/^## Dependencies between folders/,/^## /p' "$root/ARCHITECTURE.md" | grep '^| `')
[ -n "$rows" ] || fail "ARCHITECTURE.md has no table of dependencies between folders"
checked=0
for dir in "$root"/lib/*/; do
  folder=$(basename "$dir")
  row=$(echo "$rows" | grep "^| \`$folder\` |" || true)
  [ -n "$row" ] || fail "lib/$folder has no row in ARCHITECTURE.md's table of dependencies"
  allowed=$(echo "$row" | cut -d'|' -f3)
  echo "$allowed" | grep -q 'every folder' && continue
  while IFS=: read -r file used; do
    [ "$used" = "$folder" ] && continue
    echo "$allowed" | grep -q "\`$used\`" ||
      fail "${file#"$root"/} includes $used/, which lib/$folder may not use (ARCHITECTURE.md: $allowed)"
    checked=$((checked + 1))
  done < <(grep -o '#include "[a-z_]*/' "$dir"*.[ch]pp /dev/null | sed -E 's|#include "([a-z_]+)/|\1|')
done
[ "$checked" -gt 20 ] || fail "only $checked includes across folders were checked: the test reads nothing"
echo ok
