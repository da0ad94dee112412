# A batch that fails because another program holds the catalog's write lock
# past the busy wait (30 s) is tried again: once the lock is released, the
# photo reaches the gallery without a restart.
source "$(dirname "$0")/watch_lib.sh"
require sqlite3 "hold the catalog's lock"

make_project 300
sample --out stock --count 1 --megapixels 1
start_watch w watch proj
wait_for w.jsonl '.event == "watch.started"'

# Another program takes the write lock and keeps it until told to let go.
mkfifo locker.in
sqlite3 proj/.wsportfolio/catalog.db <locker.in >locker.out 2>locker.err &
locker=$!
exec 5>locker.in
echo "BEGIN IMMEDIATE; SELECT 'locked';" >&5
for _ in $(seq 100); do grep -q locked locker.out 2>/dev/null && break; sleep 0.1; done
expect_grep locked locker.out "the lock taken"

cp stock/IMG_0001.JPG proj/
wait_for w.jsonl '.event == "watch.batch_failed"' 60
expect_grep "database is locked" w.err "the failure's reason"
echo "COMMIT;" >&5
exec 5>&-
wait "$locker"

wait_for w.jsonl '.event == "publish.completed" and .images == 1' 60
expect_eq "$(sql proj "select status from images where path='IMG_0001.JPG'")" active "the photo in the catalog"
expect_grep "img-0001" proj/.wsportfolio/public/index.html "the gallery"
stop_watch
expect_eq "$code" 130 "exit code"
echo ok
