# Three hosts run one 60-photo shoot on a shared PostgreSQL catalog and one
# of them is killed (kill -9) while it holds render claims. Its claims are
# nobody else's until their leases expire on the database's clock: the two
# others, and a fourth host whose clock is ten minutes ahead (faketime) started
# right after the kill, take none of them; once they have expired a later run
# renders them. In the end every photo is rendered and committed exactly once
# (no photo lost, none rendered twice) and every file the manifest lists is on
# the share. The hosts are namespaces where unshare allows (see hosts.sh),
# else plain processes; the output says which.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/hosts.sh"
require jq "read the events"
require faketime "run a worker with its clock ahead"
require unshare "give each worker a host of its own"
require python3 "hold the workers started as plain processes"
[ -n "${WSPORTFOLIO_CATALOG_URL:-}" ] || use_postgres

images=60
mkdir share
sample --out share/shoot --count "$images" --megapixels 0.3
hosts_start share
q() { sql share/shoot "$1"; }
# Waits up to $1 seconds for the query $2 to print something other than 0 or nothing.
wait_for() {
  local deadline=$((SECONDS + $1)) value
  while [ "$SECONDS" -lt "$deadline" ]; do
    value=$(q "$2" 2>/dev/null) || true
    [ -n "$value" ] && [ "$value" != 0 ] && { echo "$value"; return; }
    sleep 0.1
  done
  fail "$3 within $1 s"
}

declare -A holders
for host in a b c; do
  on_host "$host" "$work/$host.jsonl" "$work/$host.err" "$WSP_BIN" --no-progress --json -j 1 run @share/shoot
  holders[$host]=$host_holder
done
victim=$(wait_for 60 "select id from runs where command = 'run' and $(host_run_filter a)" "host a's run registered")
# Mid-run: some photos committed, and host a working on its own.
wait_for 120 "select count(*) >= 5 from jobs where stage = 'render' and state = 'done'" "five photos rendered" >/dev/null
wait_for 120 "select count(*) from jobs where lease_owner = '$victim' and stage = 'render' and state = 'running'" \
  "host a holding a render claim" >/dev/null
before=$(q "select image_id from jobs where lease_owner = '$victim' and stage = 'render' and state = 'running'" |
  paste -sd, -)
kill -KILL "${host_pids[a]}"
# A namespace's holder ends with its worker; a plain process's keeps it a zombie until released.
[ "$hosts_kind" = processes ] || wait "${holders[a]}" 2>/dev/null || true

# The dead worker cannot give anything back: the claims it still holds are the ones it held when it died.
# What it held a moment before is its own still, or was committed by it before it died.
expect_eq "$(q "select count(*) from jobs j where j.image_id in ($before) and j.stage = 'render' and
  coalesce(j.lease_owner, '') <> '$victim' and not exists (select 1 from events e where e.image_id = j.image_id and
  e.kind = 'image.rendered' and e.run_id = '$victim')")" 0 "host a's claims taken by others while its leases were live"
held=$(q "select image_id from jobs where lease_owner = '$victim' and stage = 'render' and state = 'running' order by image_id")
[ -n "$held" ] || fail "kill -9 landed while host a held no render claim: the test tested nothing"
held_list=$(echo "$held" | paste -sd, -)
held_count=$(echo "$held" | wc -l)
expires=$(q "select max(lease_expires_ms) from jobs where lease_owner = '$victim' and state = 'running'")
echo "host a killed holding $held_count render claim(s) (images $held_list), $(q "select $expires - wsp_now_ms()") ms before they expire" >&2

# A host whose clock is ten minutes ahead joins at once: only the files'
# times stay as the share has them (NO_FAKE_STAT), timers keep real time.
on_host d "$work/d.jsonl" "$work/d.err" env NO_FAKE_STAT=1 FAKETIME_DONT_FAKE_MONOTONIC=1 faketime -f +10m \
  "$WSP_BIN" --no-progress --json -j 1 run @share/shoot
holders[d]=$host_holder
for host in b c d; do
  set +e
  wait "${holders[$host]}"; code=$?
  set -e
  [ "$code" -eq 0 ] || { cat "$work/$host.err" >&2; fail "the run on host $host exited $code"; }
  if [ "$host" = d ]; then
    left=$(q "select $expires - wsp_now_ms()")
    if [ "$left" -gt 0 ]; then
      expect_eq "$(q "select count(*) from jobs where image_id in ($held_list) and stage = 'render' and
        state = 'running' and lease_owner = '$victim'")" "$held_count" \
        "host a's claims still its own when the host ahead finished, $left ms before they expire"
    else
      echo "note: the host ahead finished after host a's leases expired; the events' times are checked below" >&2
    fi
  fi
done
expect_eq "$(q "select count(*) from events where kind = 'image.rendered' and image_id in ($held_list) and
  at_ms < $expires")" 0 "host a's photos committed by another host before its leases expired"

# The later run waits on the database's clock, not on a fixed sleep.
wait_for 120 "select wsp_now_ms() > $expires" "host a's leases expired on the database's clock" >/dev/null
on_host e "$work/e.jsonl" "$work/e.err" "$WSP_BIN" --no-progress --json -j 1 run @share/shoot
set +e
wait "$host_holder"; code=$?
set -e
[ "$code" -eq 0 ] || { cat "$work/e.err" >&2; fail "the run after the leases expired exited $code"; }
hosts_release "${holders[a]}"

field() { jq -r "select(.event == \"$1\") | .$2" "$work/$3.jsonl"; }
for host in b c d e; do
  echo "host $host: rendered $(field render.completed rendered "$host"), decoded $(field render.completed decodes "$host")" >&2
done

per_image() {
  q "select count(*) from images i where i.status = 'active' and
    (select count(*) from events e where e.image_id = i.id and e.kind = '$1') = 1"
}
expect_eq "$(q "select count(*) from images")" "$images" "images in the catalog"
expect_eq "$(per_image image.rendered)" "$images" "photos with exactly one image.rendered event"
expect_eq "$(q "select count(*) from events where kind = 'image.rendered'")" "$images" "image.rendered events"
expect_eq "$(per_image image.tagged)" "$images" "photos with exactly one image.tagged event"
expect_eq "$(q "select count(*) from renders")" "$images" "renders committed"
expect_eq "$(q "select count(*) from jobs where stage = 'render' and state = 'done' and attempts = 1")" \
  "$((images - held_count))" "render jobs claimed once (all but host a's)"
expect_eq "$(q "select count(*) from jobs where stage = 'render' and state = 'done' and attempts = 2 and
  image_id in ($held_list)")" "$held_count" "host a's render jobs claimed twice: by it, then after its leases expired"
expect_eq "$(q "select count(*) from jobs where state <> 'done'")" 0 "jobs not done (failed, running, pending)"
expect_eq "$(q "select count(*) from events where kind like '%failed%'")" 0 "failure events"
expect_eq "$(q "select count(*) from runs where command = 'run' and id <> '$victim' and
  (finished_ms is null or exit_code <> 0)")" 0 "runs other than host a's not finished, or with an error"

manifest=share/shoot/.wsportfolio/manifest.json
expect_eq "$(jq '.images | length' "$manifest")" "$images" "the manifest lists every photo"
while read -r path sha; do
  [ -f "share/shoot/.wsportfolio/$path" ] || fail "$path, listed by the manifest, is not on the share"
  expect_eq "$(sha256sum "share/shoot/.wsportfolio/$path" | cut -d' ' -f1)" "$sha" "sha256 of $path"
done < <(jq -r '.images[].variants[] | "\(.path) \(.sha256)"' "$manifest")
echo "ok ($hosts_kind)"
