# Shared by the CLI scenario tests: each test sources this, works in its own
# temporary folder and fails on the first unmet expectation.
set -euo pipefail

: "${WSP_BIN:?WSP_BIN must name the wsportfolio binary}"
: "${WSP_SAMPLE:?WSP_SAMPLE must name the make-sample-shoot binary}"
cli_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
pg_cluster="$(cd "$cli_dir/.." && pwd)/pg_cluster.sh"
work=$(mktemp -d "${TMPDIR:-/tmp}/wsp-cli.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*" >&2; exit 125; }
# Skips for a tool the test needs that is missing, except in CI (CI=true),
# where scripts/install-deps installs every tool and a missing one is a failure.
unavailable() {
  [ "${CI:-}" = true ] && fail "$* (in CI: scripts/install-deps and scripts/test install it)"
  skip "$*"
}
require() { command -v "$1" >/dev/null || unavailable "$1 is needed to $2"; }
wsp() { "$WSP_BIN" --no-progress "$@"; }
# Runs wsportfolio, records its exit code in $code instead of stopping the test.
wsp_code() { set +e; "$WSP_BIN" --no-progress "$@"; code=$?; set -e; }
sample() { "$WSP_SAMPLE" "$@" >/dev/null; }
# One read-only query on the catalog of project $1, rows as the sqlite3 shell
# prints them (columns joined by |), through `wsportfolio catalog query`: the
# same scenario reads its catalog alike on SQLite and on PostgreSQL.
sql() { (cd "$1" && "$WSP_BIN" --no-progress catalog query -C . "$2"); }
# Straight into the SQLite file: for what only SQLite has (pragmas) and for the
# scenarios that change the catalog behind the tool's back.
sqlite_sql() { sqlite3 -batch -noheader "$1/.wsportfolio/catalog.db" "$2"; }

# A database of its own for this scenario on the test PostgreSQL server (the
# ctest fixture's, else one started here and stopped at exit), made the
# catalog of every command that follows through WSPORTFOLIO_CATALOG_URL.
use_postgres() {
  require psql "create the scenario's PostgreSQL database"
  local admin=${WSP_TEST_POSTGRES:-}
  if [ -z "$admin" ]; then
    own_cluster=$(mktemp -u /tmp/wsp-pg.XXXXXX)
    trap 'bash "$pg_cluster" stop "$own_cluster"; rm -rf "$work"' EXIT
    admin=$(bash "$pg_cluster" start "$own_cluster") ||
      unavailable "a PostgreSQL 15 server is needed to run this scenario on PostgreSQL"
  fi
  local name="wsp_cli_$$_$RANDOM"
  psql "$admin" -qAtc "CREATE DATABASE $name" >/dev/null || fail "cannot create database $name"
  export WSPORTFOLIO_CATALOG_URL=${admin/\/postgres\?//$name?}
}
# Starts the fake Chat Completions server (fake_openai.js) for the rest of the
# test; $port is its port. Every request is answered by the function the node
# module $1 exports; further arguments are the module's.
fake_openai() {
  require node "the fake OpenAI server"
  node "$cli_dir/fake_openai.js" "$@" &
  fake_openai_pid=$!
  trap 'kill $fake_openai_pid 2>/dev/null; rm -rf "$work"' EXIT
  for _ in $(seq 100); do [ -s port ] && break; sleep 0.1; done
  [ -s port ] || fail "the fake OpenAI server did not start"
  port=$(cat port)
}

# pad_jpeg FILE MB: makes a JPEG MB megabytes larger with APP15 segments of
# random bytes (at most 65533 each) after its SOI: a large original whose
# pixels stay small to decode. Needs python3.
pad_jpeg() {
  python3 - "$1" "$2" <<'PY'
import os, sys
path, megabytes = sys.argv[1], int(sys.argv[2])
data = open(path, "rb").read()
assert data[:2] == b"\xff\xd8"
left, segments = megabytes << 20, []
while left > 0:
    size = min(65533, left)
    segments.append(b"\xff\xef" + (size + 2).to_bytes(2, "big") + os.urandom(size))
    left -= size
open(path, "wb").write(data[:2] + b"".join(segments) + data[2:])
PY
}

# An XMP sidecar at $1 as Lightroom Classic writes it: the packet with its
# padding, rating $2, colour label $3 if given (may be empty), develop
# settings (exposure +0.35, a two-point tone curve), the keyword "Smith
# wedding" and any further keywords $4..., and the hierarchical keyword
# People|Anna.
lightroom_sidecar() {
  local bom=$'\xef\xbb\xbf' label=${3:+$'\n   xmp:Label="'$3'"'} more="" keyword
  for keyword in "${@:4}"; do more+=$'\n     <rdf:li>'"$keyword"'</rdf:li>'; done
  cat >"$1" <<XMP
<?xpacket begin="$bom" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="Adobe XMP Core 7.0-c000 1.000000, 0000/00/00-00:00:00        ">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:crs="http://ns.adobe.com/camera-raw-settings/1.0/"
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:lr="http://ns.adobe.com/lightroom/1.0/"
   xmp:Rating="$2"$label
   crs:Version="15.3"
   crs:Exposure2012="+0.35"
   crs:WhiteBalance="As Shot">
   <crs:ToneCurvePV2012>
    <rdf:Seq>
     <rdf:li>0, 0</rdf:li>
     <rdf:li>255, 255</rdf:li>
    </rdf:Seq>
   </crs:ToneCurvePV2012>
   <dc:subject>
    <rdf:Bag>
     <rdf:li>Smith wedding</rdf:li>$more
    </rdf:Bag>
   </dc:subject>
   <lr:hierarchicalSubject>
    <rdf:Bag>
     <rdf:li>People|Anna</rdf:li>
    </rdf:Bag>
   </lr:hierarchicalSubject>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
$(printf '%100s')
<?xpacket end="w"?>
XMP
}

expect_eq() { [ "$1" = "$2" ] || fail "$3: expected '$2', got '$1'"; }
expect_grep() { grep -q -- "$1" "$2" || { cat "$2" >&2; fail "$3: '$1' not found in $2"; }; }
expect_no_grep() { if grep -q -- "$1" "$2"; then cat "$2" >&2; fail "$3: '$1' found in $2"; fi; }

# A scenario sourced by its PostgreSQL twin (tests/cli/test_pg_*.sh) runs on PostgreSQL.
if [ "${WSP_CATALOG_BACKEND:-sqlite}" = postgres ]; then use_postgres; fi
