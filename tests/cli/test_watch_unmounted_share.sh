# A source that is a share's mount point, seen while the share is not
# mounted, is an empty folder: its photos are not all deleted. Neither the
# watcher (at start, or --once) nor `run` marks them missing; the watcher
# waits for the share and takes it up again once it is back.
source "$(dirname "$0")/watch_lib.sh"

make_project 300 share
sample --out stock --count 3 --megapixels 1
cp stock/IMG_0001.JPG stock/IMG_0002.JPG proj/share/
wsp run proj >/dev/null 2>run.err || { cat run.err >&2; fail "the first run"; }
mkdir stash && mv proj/share/* stash/  # unmounted: the bare mount point is left

wsp_code --json watch --once proj >once.jsonl 2>once.err
expect_eq "$code" 0 "--once exit code"
expect_grep "not there (deleted or unmounted)" once.err "--once's message"
wsp_code --json run proj >run2.jsonl 2>run2.err
expect_grep "share: empty, though the catalog has photos there" run2.err "run's warning"
expect_eq "$(sql proj "select count(*) from images where status='missing'")" 0 "photos marked missing"

start_watch w watch proj
wait_for w.jsonl '.event == "watch.waiting"'
expect_grep "share: gone (deleted or unmounted); waiting" w.err "the watcher's message"
mv stash/* proj/share/  # mounted again
wait_for w.jsonl '.event == "watch.recovered"' 10
wait_for w.jsonl '.event == "watch.caught_up"'
cp stock/IMG_0003.JPG proj/share/
wait_for w.jsonl '.event == "publish.completed" and .images == 3'
expect_eq "$(sql proj "select count(*) from images where status='missing'")" 0 "photos marked missing"
stop_watch
expect_eq "$code" 130 "exit code"
echo ok
