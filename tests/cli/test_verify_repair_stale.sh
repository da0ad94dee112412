# A stale published file (its photo no longer in the portfolio) that was
# damaged at the target: verify --repair must not lose track of it, so that
# `publish --prune` still deletes it.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"

sample --out shoot --count 3 --megapixels 1
wsp -q run shoot 2>/dev/null || fail "run failed"
public=shoot/.wsportfolio/public
stale=$(cd $public && ls renders/img-0003-* | head -1)
(cd shoot && wsp -q tag set IMG_0003.JPG --rating -1 && wsp -q publish) 2>/dev/null || fail "publish failed"
[ -f "$public/$stale" ] || fail "the rejected photo's file should be kept until --prune"
printf 'x' >>"$public/$stale"

wsp_code -q verify --repair shoot 2>/dev/null
expect_eq "$code" 3 "verify finds the damaged file"
wsp -q publish --prune shoot 2>/dev/null || fail "publish --prune failed"
[ ! -e "$public/$stale" ] || fail "$stale survived --prune after verify --repair"
expect_eq "$(sql shoot "select count(*) from published where path = '$stale'")" 0 "record of the pruned file"
echo ok
