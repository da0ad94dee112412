# Three machines share one project folder (each mounts it at its own place)
# and one PostgreSQL catalog, and all three `run` the same 60-photo shoot at
# once: each photo is decoded and rendered exactly once among them, each is
# tagged once, nothing fails, the catalog's paths are the project's (not one
# host's mount point), and each host's own name is in the runs table.
# The hosts are namespaces where unshare allows (see hosts.sh), else plain
# processes; the output says which.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/hosts.sh"
require jq "read the events"
require unshare "give each worker a host of its own"
require python3 "hold the workers started as plain processes"
[ -n "${WSPORTFOLIO_CATALOG_URL:-}" ] || use_postgres
case $WSPORTFOLIO_CATALOG_URL in
  *host=%2F*) ;;
  *) fail "the catalog must be reached through a Unix socket: a network namespace cannot reach 127.0.0.1" ;;
esac

images=60
mkdir share
sample --out share/shoot --count "$images" --megapixels 0.3
hosts_start share

declare -A holders
for host in a b c; do
  on_host "$host" "$work/$host.jsonl" "$work/$host.err" "$WSP_BIN" --no-progress --json -j 1 run @share/shoot
  holders[$host]=$host_holder
done
for host in a b c; do
  set +e
  wait "${holders[$host]}"; code=$?
  set -e
  [ "$code" -eq 0 ] || { cat "$work/$host.err" >&2; fail "the run on host $host exited $code"; }
done

field() { jq -r "select(.event == \"$1\") | .$2" "$work/$3.jsonl"; }
decodes=0 rendered=0
for host in a b c; do
  echo "host $host: rendered $(field render.completed rendered "$host"), decoded $(field render.completed decodes "$host"), tagged $(field tag.completed tagged "$host")" >&2
  decodes=$((decodes + $(field render.completed decodes "$host")))
  rendered=$((rendered + $(field render.completed rendered "$host")))
  expect_eq "$(field render.completed failed "$host")" 0 "renders failed on host $host"
done
expect_eq "$decodes" "$images" "decodes on the three hosts together"
expect_eq "$rendered" "$images" "photos rendered on the three hosts together"

expect_eq "$(sql share/shoot "select count(*) from images")" "$images" \
  "images in the catalog (one per photo, whichever host's mount point saw it)"
expect_eq "$(sql share/shoot "select count(*) from images where status = 'active' and path like 'IMG_%'")" "$images" \
  "images recorded by their path in the project"
per_image() {
  sql share/shoot "select count(*) from images i where i.status = 'active' and
    (select count(*) from events e where e.image_id = i.id and e.kind = '$1') = 1"
}
expect_eq "$(per_image image.rendered)" "$images" "photos with exactly one image.rendered event"
expect_eq "$(sql share/shoot "select count(*) from events where kind = 'image.rendered'")" "$images" \
  "image.rendered events"
expect_eq "$(per_image image.tagged)" "$images" "photos with exactly one image.tagged event"
expect_eq "$(sql share/shoot "select count(*) from renders")" "$images" "renders committed"
expect_eq "$(sql share/shoot "select count(*) from jobs where stage = 'render' and state = 'done' and attempts = 1")" \
  "$images" "render jobs claimed once and done"
expect_eq "$(sql share/shoot "select count(*) from jobs where state <> 'done'")" 0 "jobs not done (failed, running, pending)"
expect_eq "$(sql share/shoot "select count(*) from events where kind like '%failed%'")" 0 "failure events"
expect_eq "$(sql share/shoot "select count(*) from runs where command = 'run' and (finished_ms is null or exit_code <> 0)")" 0 \
  "runs not finished, or finished with an error"
runs=$(sql share/shoot "select count(*) from runs where command = 'run'")
expect_eq "$runs" 3 "runs recorded"
if [ "$hosts_kind" = namespaces ]; then
  for host in a b c; do
    expect_eq "$(sql share/shoot "select count(*) from runs where command = 'run' and host = 'wsp-host-$host'")" 1 \
      "runs recorded under host wsp-host-$host"
  done
  expect_eq "$(sql share/shoot "select count(distinct host) from runs where command = 'run'")" 3 "distinct hosts in runs"
fi

# What the hosts wrote to the share: every file a render refers to, and nothing else.
manifest=share/shoot/.wsportfolio/manifest.json
expect_eq "$(jq '.images | length' "$manifest")" "$images" "the manifest lists every photo"
jq -r '.images[].variants[].path' "$manifest" | sort >listed.txt
(cd share/shoot/.wsportfolio && find renders -type f | sort) >on-disk.txt
diff listed.txt on-disk.txt >&2 || fail "renders/ on the share differs from what the manifest lists"
echo "ok ($hosts_kind)"
