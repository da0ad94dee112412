# Two machines mount the same share at different places and share one
# PostgreSQL catalog: what the catalog records is relative to the project, so
# the second machine's `run` finds the first one's work done, including the
# gallery the first published into the project's own folder (nothing to put,
# nothing refused as "not published by wsportfolio").
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
hosts_mounts=own
source "$here/hosts.sh"
require jq "read the events"
require unshare "give each worker a host of its own"
require python3 "hold the workers started as plain processes"
[ -n "${WSPORTFOLIO_CATALOG_URL:-}" ] || use_postgres

mkdir share
sample --out share/shoot --count 6 --megapixels 0.3
hosts_start share

for host in a b; do
  on_host "$host" "$work/$host.jsonl" "$work/$host.err" "$WSP_BIN" --no-progress --json -j 1 run @share/shoot
  set +e
  wait "$host_holder"; code=$?
  set -e
  [ "$code" -eq 0 ] || { cat "$work/$host.err" >&2; fail "the run on host $host exited $code"; }
done

field() { jq -r "select(.event == \"$1\") | .$2" "$work/$3.jsonl"; }
expect_eq "$(field render.completed rendered a)" 6 "photos rendered by the first host"
expect_eq "$(field render.completed rendered b)" 0 "photos rendered again by the second host"
expect_eq "$(sql share/shoot "select count(*) from images")" 6 "images in the catalog"
published() { jq -r "select(.event == \"publish.completed\") | .$1" "$work/$2.jsonl"; }
expect_eq "$(published put a)" 26 "files the first host published (6 photos x 4 variants, the page and its files)"
expect_eq "$(published failed b)" 0 "files the second host's publish refused"
expect_eq "$(published unchanged b)" 26 "files the second host found published already"
expect_eq "$(published put b)" 0 "files the second host published again"
echo "ok ($hosts_kind)"
