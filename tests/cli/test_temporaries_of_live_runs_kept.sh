# A temporary whose process id names no process on this host is taken for a
# killed write and removed, but only while no other run is alive on the
# catalog: on a folder several hosts share, that id may be a live process of
# another machine, writing a sidecar or a download copy it has not renamed
# into place yet. Once no other run is alive, the same temporaries go.
source "$(dirname "$0")/watch_lib.sh"

make_project 300
sample --out proj --count 2 --megapixels 0.5
cat >>proj/wsportfolio.yaml <<'YAML'
publish:
  targets:
    - { name: site, type: local, path: ./public }
  gallery: { downloads: originals }
YAML
(cd proj && wsp run && wsp tag --xmp) 2>run.err || { cat run.err >&2; fail "the first run failed"; }
[ -f proj/IMG_0001.xmp ] || fail "no sidecar written"
ls proj/.wsportfolio/originals/*.jpg >/dev/null 2>&1 || fail "no download copy made"

# Another process at work on the project: a watcher, caught up and waiting.
start_watch w watch proj
wait_for w.jsonl '.event == "watch.caught_up"'

# Temporaries as another host's process 999999 would be writing them now.
sidecar_temp=proj/.IMG_0001.xmp.tmp-999999
copy_temp=proj/.wsportfolio/originals/.copy-in-progress.jpg.tmp-999999
echo "a sidecar being written" >"$sidecar_temp"
echo "a copy being made" >"$copy_temp"
kill -0 999999 2>/dev/null && fail "process 999999 exists on this host: the test cannot tell"

(cd proj && wsp tag --xmp) 2>xmp.err || { cat xmp.err >&2; fail "tag --xmp failed"; }
(cd proj && wsp publish --dry-run) >/dev/null 2>dry.err || { cat dry.err >&2; fail "publish --dry-run failed"; }
[ -f "$sidecar_temp" ] || fail "a sidecar temporary was removed while another run was alive"
[ -f "$copy_temp" ] || fail "a download copy's temporary was removed while another run was alive"

stop_watch
(cd proj && wsp tag --xmp) 2>xmp2.err || { cat xmp2.err >&2; fail "the second tag --xmp failed"; }
(cd proj && wsp publish --dry-run) >/dev/null 2>dry2.err || { cat dry2.err >&2; fail "the second dry run failed"; }
[ -f "$sidecar_temp" ] && fail "the abandoned sidecar temporary stays once no other run is alive"
[ -f "$copy_temp" ] && fail "the abandoned copy temporary stays once no other run is alive"
echo ok
