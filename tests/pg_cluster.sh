#!/usr/bin/env bash
# A throwaway PostgreSQL 15 server for the tests, in a folder of its own,
# listening only on a Unix socket there (no port to collide on).
#   pg_cluster.sh start DIR [PORT]  creates DIR, starts the server, writes DIR/url
#                             (an admin URL for the `postgres` database); with
#                             PORT it also listens on 127.0.0.1:PORT and the URL
#                             goes there (the benchmark's)
#   pg_cluster.sh stop DIR    stops it and removes DIR
# WSP_PG_DURABLE=1 keeps PostgreSQL's own fsync and synchronous commits, which
# the tests turn off for speed, so that a benchmark measures what a studio runs.
# initdb refuses to run as root: as root (CI) the server runs as `nobody`.
set -euo pipefail
action=${1:?start or stop}
dir=$(realpath -m "${2:?the cluster folder}")
# The server's user may not enter the caller's folder.
cd /
bin=$(pg_config --bindir 2>/dev/null || true)
[ -x "$bin/initdb" ] || bin=/usr/lib/postgresql/15/bin
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u nobody -- "$@"; else "$@"; fi
}

case $action in
start)
  [ -x "$bin/initdb" ] || { echo "PostgreSQL 15 server binaries not found (Debian: postgresql-15)" >&2; exit 3; }
  # A server left behind by an interrupted run is replaced.
  [ -d "$dir/data" ] && { as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true; rm -rf "$dir"; }
  mkdir -p "$dir"
  [ "$(id -u)" -eq 0 ] && chown nobody "$dir"
  as_owner "$bin/initdb" -D "$dir/data" -U wsp --auth=trust -E SQL_ASCII --locale=C --no-sync >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; exit 1; }
  port=${3:-}
  listen="-c listen_addresses=''"
  [ -n "$port" ] && listen="-c listen_addresses=127.0.0.1 -c port=$port"
  speed="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
  [ "${WSP_PG_DURABLE:-}" = 1 ] && speed=""
  as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "$listen -c unix_socket_directories='$dir' $speed -c max_connections=300" \
    start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
  encoded=$(printf '%s' "$dir" | sed 's|/|%2F|g')
  if [ -n "$port" ]; then echo "postgresql://wsp@127.0.0.1:$port/postgres" >"$dir/url"
  else echo "postgresql://wsp@/postgres?host=$encoded" >"$dir/url"; fi
  cat "$dir/url"
  ;;
stop)
  [ -d "$dir/data" ] && as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
  ;;
*) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
