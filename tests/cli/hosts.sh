# "Hosts" for the scenarios where several machines share one project folder
# and one PostgreSQL catalog. Sourced after lib.sh. Each worker runs in its own
# user, UTS (host name), PID, network and mount namespaces where `unshare`
# allows it here, else as a plain process; `hosts_kind` says which, and the
# test prints it. With hosts_mounts=own (set before hosts_start) each host
# sees the share at a place of its own, as each machine mounts a share where it
# likes: a bind mount in its mount namespace, or a symbolic link for a plain
# process; by default all see it where it is. A network namespace
# has no way to 127.0.0.1 of this machine: the catalog is reached through the
# PostgreSQL server's Unix socket, in a folder every host sees.
#
#   hosts_start SHARE           picks the kind of host; SHARE is the folder every host sees
#   on_host NAME OUT ERR CMD... starts CMD in the background on host NAME, in the
#                               share's folder as that host sees it, where every
#                               `@share` in CMD's words becomes that place; stdout
#                               to OUT, stderr to ERR; sets host_holder (wait on it)
#                               and host_worker (the worker's pid, to kill)
#   host_run_filter NAME        an SQL condition on `runs` that picks that host's runs
#
# As plain processes the hosts share one host name, and a run on this host
# hands back the claims of a run of this host whose pid is gone (the next run
# there need not wait for them). Another host's dead worker cannot be seen that
# way: its claims wait for their leases to expire. So that a killed worker is
# another host's here too, a plain process's holder keeps it a zombie (its pid
# still taken) until the holder is told to let go (hosts_release).

hosts_kind=processes
hosts_mounts=${hosts_mounts:-same}
hosts_flags=()
declare -A host_pids=()
hosts_started=()

# A scenario that stops early leaves no worker behind writing into its folder.
hosts_cleanup() {
  local pid
  for pid in "${hosts_started[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  for pid in "${hosts_started[@]}"; do wait "$pid" 2>/dev/null || true; done
}

hosts_start() {
  hosts_share=$(realpath "$1")
  mkdir -p "$work/hosts"
  local previous
  eval "previous=($(trap -p EXIT))"
  trap "hosts_cleanup; ${previous[2]:-}" EXIT
  local candidates=("--user --map-root-user --uts --pid --fork --kill-child --mount --net"
    "--uts --pid --fork --kill-child --mount --net")
  local flags probe
  # WSP_TEST_HOSTS=processes tries the plain processes where namespaces work too.
  [ "${WSP_TEST_HOSTS:-}" = processes ] && candidates=()
  for flags in "${candidates[@]}"; do
    mkdir -p "$work/hosts/probe"
    # shellcheck disable=SC2086
    if probe=$(timeout 20 unshare $flags sh -c 'hostname wsp-probe && mount --bind "$1" "$2" && test -d "$2" &&
                 echo "$(hostname), pid $$, $(($(wc -l </proc/net/dev) - 2)) network interface(s)"' sh "$hosts_share" \
                 "$work/hosts/probe" 2>/dev/null) && [ "${probe%%,*}" = wsp-probe ]; then
      read -ra hosts_flags <<<"$flags"
      hosts_kind=namespaces
      echo "hosts: namespaces (unshare $flags): probe saw $probe" >&2
      return
    fi
  done
  if [ "${WSP_TEST_HOSTS:-}" = processes ]; then echo "hosts: plain processes (WSP_TEST_HOSTS=processes)" >&2
  else echo "hosts: plain processes (unshare cannot make UTS, PID, mount and network namespaces here)" >&2; fi
}

on_host() {
  local name=$1 out=$2 err=$3
  shift 3
  local place=$hosts_share
  [ "$hosts_mounts" = own ] && place="$work/hosts/$name"
  if [ "$hosts_kind" = namespaces ]; then
    [ "$place" = "$hosts_share" ] || mkdir -p "$place"
    unshare "${hosts_flags[@]}" sh -c 'hostname "wsp-host-$1" && { [ "$2" = "$3" ] || mount --bind "$2" "$3"; } &&
      cd "$3" && shift 3 && exec "$@"' sh "$name" "$hosts_share" "$place" "${@//@share/$place}" >"$out" 2>"$err" &
  else
    [ "$place" = "$hosts_share" ] || ln -sfn "$hosts_share" "$place"
    rm -f "$work/hosts/$name.pid"
    python3 -c '
import os, signal, sys
os.chdir(sys.argv[2])
worker = os.fork()
if worker == 0:
    os.execvp(sys.argv[3], sys.argv[3:])
with open(sys.argv[1] + ".tmp", "w") as out:
    out.write(f"{worker}\n")
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
# A worker killed by a signal stays a zombie until SIGTERM, its pid still
# taken: what a worker dead on another host looks like to this one.
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
info = os.waitid(os.P_PID, worker, os.WEXITED | os.WNOWAIT)
if info.si_code in (os.CLD_KILLED, os.CLD_DUMPED):
    signal.sigwait({signal.SIGTERM})
_, status = os.waitpid(worker, 0)
sys.exit(128 + os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status))
 ' "$work/hosts/$name.pid" "$place" "${@//@share/$place}" >"$out" 2>"$err" &
  fi
  host_holder=$!
  hosts_started+=("$host_holder")
  host_worker=""
  local _
  for _ in $(seq 200); do
    if [ "$hosts_kind" = namespaces ]; then
      host_worker=$(cat "/proc/$host_holder/task/$host_holder/children" 2>/dev/null | awk '{print $1}') || true
    else
      host_worker=$(cat "$work/hosts/$name.pid" 2>/dev/null) || true
    fi
    [ -n "$host_worker" ] && break
    kill -0 "$host_holder" 2>/dev/null || break
    sleep 0.05
  done
  host_pids[$name]=$host_worker
  [ -z "$host_worker" ] || hosts_started+=("$host_worker")
}

host_run_filter() {
  if [ "$hosts_kind" = namespaces ]; then
    echo "host = 'wsp-host-$1'"
  else
    echo "pid = ${host_pids[$1]:?no worker started on host $1}"
  fi
}

# Lets a plain process's holder reap its killed worker.
hosts_release() { [ "$hosts_kind" = namespaces ] || kill -TERM "$1" 2>/dev/null || true; }
