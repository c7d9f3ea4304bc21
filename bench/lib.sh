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

# die MESSAGE: the message, the last lines of every log in $LOGS (the scripts that run
# several processes set it: bench/remote.sh, bench/graphite.sh), exit 1
die() {
  echo "$(basename "$0"): $*" >&2
  local f
  for f in "${LOGS:-/nonexistent}"/*.log; do
    [ -s "$f" ] || continue
    echo "--- last lines of $(basename "$f")" >&2
    tail -n 25 "$f" >&2
  done
  exit 1
}

# run VAR CMD...: like capture, but a failure prints the client's stderr and dies
run() { # run VAR CMD...: records CMD, runs it, its stdout into VAR; dies on failure
  local __var=$1 __out __rc=0
  shift
  COMMANDS+=("$*")
  __out=$("$@" 2>"$TMP/client.err") || __rc=$?
  printf -v "$__var" '%s' "$__out"
  if [ "$__rc" != 0 ]; then
    printf '%s\n' "$__out" >&2
    cat "$TMP/client.err" >&2
    die "exit status $__rc from: $*"
  fi
}

# --- for scripts that run several processes at once (bench/remote.sh) --------------------
# start_bg records each process in BG_PIDS; stop_bg stops them newest first (SIGTERM, then
# SIGKILL after 10 s), each by its PID. Call stop_bg from the script's EXIT trap.
BG_PIDS=()
start_bg() { # start_bg LOG CMD...: runs CMD in the background, stdout+stderr to LOG; sets BG_PID
  local log=$1 a line=""
  shift
  for a in "$@"; do # quoted only where the shell needs it (--save '')
    if [[ -z $a || $a =~ [^A-Za-z0-9_./:=,+@%-] ]]; then line+=" $(printf '%q' "$a")"; else line+=" $a"; fi
  done
  COMMANDS+=("${line# }")
  "$@" >"$log" 2>&1 &
  BG_PID=$!
  BG_PIDS+=("$BG_PID")
}
stop_pid() { # stop_pid PID: SIGTERM, wait up to 10 s, then SIGKILL; never by name
  local p=$1
  kill -0 "$p" 2>/dev/null || { wait "$p" 2>/dev/null || true; return 0; }
  kill -TERM "$p" 2>/dev/null || true
  for _ in $(seq 100); do
    kill -0 "$p" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
}
stop_bg() {
  local i
  for ((i = ${#BG_PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${BG_PIDS[i]}"; done
  BG_PIDS=()
}

wait_http() { # wait_http URL PID [TRIES]: until URL answers at all (any status), 0.1 s apart
  for _ in $(seq "${3:-100}"); do
    if curl -s -o /dev/null --max-time 2 "$1"; then return 0; fi
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# prom_sum FILE NAME [LABEL_RE]: the sum of a /metrics dump's samples of metric NAME whose
# labels (the text between the braces, "" when none) match the extended regex LABEL_RE
prom_sum() {
  awk -v m="$2" -v re="${3:-}" '
    /^#/ { next }
    { name = $1; labels = ""
      i = index($1, "{")
      if (i > 0) { name = substr($1, 1, i - 1); labels = substr($1, i + 1, length($1) - i - 1) }
      if (name == m && (re == "" || labels ~ re)) s += $2 }
    END { printf "%.10g\n", s + 0 }' "$1"
}

median() { python3 -c 'import statistics, sys; print("%.0f" % statistics.median(map(float, sys.argv[1:])))' "$@"; }
