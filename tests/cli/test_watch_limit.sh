# When the kernel refuses a watch (its limit of inotify watches is reached),
# the watcher says which folder and why, and scans that source instead: a
# photo dropped into the folder it could not watch is still processed. The
# limit is lowered for the watcher alone, in a user namespace of its own.
source "$(dirname "$0")/watch_lib.sh"
unshare --user --map-root-user sh -c 'echo 2 >/proc/sys/user/max_inotify_watches' 2>/dev/null ||
  skip "no user namespace in which to lower the limit of inotify watches"

make_project 300
mkdir -p proj/ceremony proj/reception
sample --out stock --count 1 --megapixels 1
# The project folder and one of its two subfolders can be watched; not both.
cat >limited <<SH
#!/bin/sh
exec unshare --user --map-root-user sh -c 'echo 2 >/proc/sys/user/max_inotify_watches && exec "\$0" "\$@"' "$WSP_BIN" "\$@"
SH
chmod +x limited
WSP_BIN=$work/limited start_watch w watch proj
wait_for w.jsonl '.event == "watch.polling"'
folder=$(events w.jsonl '.event == "watch.polling"' | jq -r '.folder')
case "$folder" in */proj/ceremony | */proj/reception) ;; *) fail "the folder refused: $folder" ;; esac
expect_grep "cannot be watched: the kernel's limit of inotify watches is reached" w.err "the warning"
expect_grep "max_user_watches" w.err "the setting named"

cp stock/IMG_0001.JPG "$folder/"
wait_for w.jsonl '.event == "publish.completed" and .images == 1' 20
stop_watch
expect_eq "$code" 130 "exit code"
echo ok
