# lib.sh — what bench/run.sh and bench/peer_vm.sh share: the knobs, a temp dir removed at
# exit with the server stopped by PID, free ports, reading the tools' JSON lines, and the
# list of commands a run prints. Source it after setting BUILD (and TMP_PREFIX, the temp
# dir's name).

BUILD=$(cd "$BUILD" && pwd)
LOAD=$BUILD/dm_load
READ=$BUILD/dm_readbench
INGEST_SECONDS=${INGEST_SECONDS:-20}
SERIES=${SERIES:-10000}
CONNS=${CONNS:-4}
BATCH=${BATCH:-5000}
BACKFILL_SERIES=${BACKFILL_SERIES:-1000}
BACKFILL_DAYS=${BACKFILL_DAYS:-2}
READ_REQUESTS=${READ_REQUESTS:-2000}
FANOUT_ROUNDS=${FANOUT_ROUNDS:-100}

TMP=$(mktemp -d "/tmp/${TMP_PREFIX:-diamond-bench}.XXXXXX")
PID=""
COMMANDS=()
cleanup() {
  if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
    kill -TERM "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# json FIELD < line: one field of dm_load's / dm_readbench's JSON line
json() { python3 -c 'import json, sys; print(json.loads(sys.stdin.read().strip().splitlines()[-1])[sys.argv[1]])' "$1"; }

capture() { # capture VAR CMD...: records the command, runs it, its stdout into VAR
  local __var=$1 __out
  shift
  COMMANDS+=("$*")
  __out=$("$@") || echo "$(basename "$0"): exit status $? from: $*" >&2
  printf -v "$__var" '%s' "$__out"
}
