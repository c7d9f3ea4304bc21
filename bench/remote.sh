#!/usr/bin/env bash
# remote.sh BUILD_DIR — the embedded default (memory + WAL, LMDB, blob files) beside the
# remote engines (Redis + DynamoDB + S3, here redis-server, dynalite and s3rver on loopback)
# in one run, on the same dm_load workload: ingest points/s (RUNS runs each, interleaved,
# all shown and the median), Redis commands and round trips per ingest batch, table writes
# per point after /admin/flush, estimated USD per million points, and reads of 24 h served
# from the table plus the cache. Prints a markdown table and the exact commands; every
# process it starts is stopped by PID at exit. docs/benchmarks.md explains it.
#
# Knobs (environment): SERIES=2000 HOURS=12 RUNS=3 CONNS=4 BATCH=5000 READ_SERIES=100
#   READ_REQUESTS=500 ONLY=both|embedded (embedded: skip the remote half) KEEP_LOGS=DIR
#   (copy every process's log there at exit).
# A run writes RUNS x SERIES x 60 x HOURS points to each server: SERIES series, one point a
# minute, HOURS whole hours per run starting on an hour, days in the past (closed windows),
# so every series-window gets exactly 60 points.
set -euo pipefail

BUILD=${1:-build}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
# shellcheck disable=SC2034 # read by lib.sh
TMP_PREFIX=diamond-remote
: "${SERIES:=2000}" "${READ_REQUESTS:=500}"
# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"
HOURS=${HOURS:-12}
RUNS=${RUNS:-3}
READ_SERIES=${READ_SERIES:-100}
READ_SERIES=$(( (READ_SERIES + 9) / 10 * 10 )) # dm_readbench reads hosts x 10 names
ONLY=${ONLY:-both}
DIAMONDD=$BUILD/diamondd
LOGS=$TMP/logs
mkdir -p "$LOGS"
at_exit() {
  stop_bg
  if [ -n "${KEEP_LOGS:-}" ]; then mkdir -p "$KEEP_LOGS" && cp -r "$LOGS"/. "$KEEP_LOGS"/; fi
  cleanup
}
trap at_exit EXIT
FAILURES=()
out=""


for b in "$DIAMONDD" "$LOAD" "$READ"; do
  [ -x "$b" ] || { echo "remote.sh: $b is missing: build first (cmake --build $BUILD)" >&2; exit 2; }
done
case $ONLY in both) MODES=(embedded remote) ;; embedded) MODES=(embedded) ;;
  *) echo "remote.sh: ONLY must be both or embedded" >&2; exit 2 ;; esac


declare -A URL HP
POST_S=0
post() { # post MODE PATH: POST an /admin call, dies unless 2xx; its wall time in POST_S
  local code t0 t1
  COMMANDS+=("curl -sS -X POST ${URL[$1]}$2")
  t0=$(date +%s.%N)
  code=$(curl -sS -o "$TMP/post.out" -w '%{http_code}' -X POST --max-time 600 "${URL[$1]}$2") ||
    die "POST $2 ($1): curl failed"
  t1=$(date +%s.%N)
  [[ $code == 2* ]] || die "POST $2 ($1): $code $(cat "$TMP/post.out")"
  POST_S=$(python3 -c "print('%.2f' % ($t1 - $t0))")
}
metrics() { # metrics MODE FILE: a /metrics dump
  curl -fsS --max-time 30 "${URL[$1]}/metrics" >"$2" || die "GET /metrics ($1) failed"
}
delta() { # delta BEFORE AFTER NAME [LABEL_RE]: the change of a /metrics sum
  python3 -c "print('%.10g' % ($(prom_sum "$2" "$3" "${4:-}") - $(prom_sum "$1" "$3" "${4:-}")))"
}
calc() { python3 -c "print($1)"; }

start_diamondd() { # start_diamondd MODE ARGS...: starts, waits for /readyz
  local mode=$1 port
  shift
  port=$(free_port)
  mkdir -p "$TMP/$mode"
  HP[$mode]=127.0.0.1:$port
  URL[$mode]=http://127.0.0.1:$port
  start_bg "$LOGS/diamondd-$mode.log" "$DIAMONDD" "$@" --data-dir "$TMP/$mode/data" \
    --http "127.0.0.1:$port" --graphite off --set graphite.udp=off
  wait_http "${URL[$mode]}/healthz" "$BG_PID" 150 || die "diamondd ($mode) did not start"
  for _ in $(seq 150); do
    if curl -fsS -o /dev/null "${URL[$mode]}/readyz" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  die "diamondd ($mode) not ready: $(curl -sS "${URL[$mode]}/readyz")"
}

echo "== diamond remote-engine benchmark: $(nproc) cores, $(uname -sr), build $BUILD"
echo "   temp dir \$TMP = $TMP"

# --- the remote engines on free loopback ports ------------------------------------------
if [ "$ONLY" = both ]; then
  NM=$ROOT/tests/node_modules
  if [ ! -d "$NM/dynalite" ] || [ ! -d "$NM/s3rver" ]; then
    COMMANDS+=("(cd tests && npm ci)")
    (cd "$ROOT/tests" && npm ci --no-audit --no-fund) >"$LOGS/npm.log" 2>&1 || die "npm ci in tests/ failed"
  fi
  command -v redis-server >/dev/null || die "redis-server is not installed"
  command -v node >/dev/null || die "node is not installed"
  REDIS_PORT=$(free_port)
  mkdir -p "$TMP/redis" "$TMP/s3rver"
  start_bg "$LOGS/redis.log" redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$TMP/redis" \
    --save '' --appendonly yes --appendfsync everysec
  REDIS_PID=$BG_PID
  rcli() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"; }
  for _ in $(seq 100); do
    [ "$(rcli ping 2>/dev/null)" = PONG ] && break
    kill -0 "$REDIS_PID" 2>/dev/null || die "redis-server did not start"
    sleep 0.1
  done
  [ "$(rcli ping 2>/dev/null)" = PONG ] || die "redis-server does not answer PING"
  DYN_PORT=$(free_port)
  start_bg "$LOGS/dynalite.log" node "$NM/dynalite/cli.js" --host 127.0.0.1 --port "$DYN_PORT" \
    --createTableMs 100
  wait_http "http://127.0.0.1:$DYN_PORT/" "$BG_PID" 150 || die "dynalite did not start"
  S3_PORT=$(free_port)
  start_bg "$LOGS/s3rver.log" node --openssl-legacy-provider "$NM/s3rver/bin/s3rver.js" \
    --directory "$TMP/s3rver" --port "$S3_PORT" --address 127.0.0.1 --silent
  wait_http "http://127.0.0.1:$S3_PORT/" "$BG_PID" 150 || die "s3rver did not start"
  export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER # s3rver accepts only these
  COMMANDS+=("export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER")
  CONF=$TMP/remote.ini
  cat >"$CONF" <<EOF
[cache]
engine = redis
redis = 127.0.0.1:$REDIS_PORT
[table]
engine = dynamodb
endpoint = http://127.0.0.1:$DYN_PORT
region = us-east-1
name = diamond_bench
[blob]
engine = s3
endpoint = http://127.0.0.1:$S3_PORT
region = us-east-1
bucket = diamond-bench
prefix = dm/
EOF
  COMMANDS+=("$DIAMONDD --config $CONF --data-dir $TMP/remote/data --create-storage")
  "$DIAMONDD" --config "$CONF" --data-dir "$TMP/remote/data" --create-storage \
    >"$LOGS/create-storage.log" 2>&1 || die "diamondd --create-storage failed"
  sed 's/^/   /' "$LOGS/create-storage.log"
fi

# The automatic flusher waits an hour on both servers: a run's windows are then flushed
# once each, by the POST /admin/flush that follows the run (timed), not piecemeal while the
# run still adds points to them (backfill runs through an hour of data in well under a second).
FLUSHER=(--set flusher.interval_ms=3600000)
start_diamondd embedded "${FLUSHER[@]}"
if [ "$ONLY" = both ]; then start_diamondd remote --config "$CONF" "${FLUSHER[@]}"; fi

redis_snap() { # redis_snap FILE: INFO stats + commandstats (the INFO itself is 1 command)
  rcli INFO stats commandstats >"$1" || die "redis-cli INFO failed"
}
redis_field() { # redis_field FILE FIELD
  awk -F: -v f="$2" '{sub(/\r$/, "")} $1 == f {print $2}' "$1"
}

# --- 1-4: ingest RUNS x (SERIES series x HOURS h), each run on its own hours, then flush ---
PTS_RUN=$(( SERIES * 60 * HOURS ))
now=$(date +%s)
base=$(( now - RUNS * HOURS * 3600 - 2 * 86400 ))
base=$(( base - base % 3600 ))
for m in "${MODES[@]}"; do metrics "$m" "$TMP/m0-$m"; done
declare -A PPS P50 P99 PTS REQ FLUSH_S E2E RCMD RREAD RBYTES RCMDS RTRIP RREPL
for ((k = 0; k < RUNS; k++)); do
  start=$(( base + k * HOURS * 3600 ))
  order=("${MODES[@]}")
  if (( k % 2 == 1 )) && [ "${#MODES[@]}" = 2 ]; then order=(remote embedded); fi
  for m in "${order[@]}"; do
    if [ "$m" = remote ]; then redis_snap "$TMP/r$k-0"; metrics remote "$TMP/r$k-m0"; fi
    run out "$LOAD" --url "${HP[$m]}" --conns "$CONNS" --batch "$BATCH" --series "$SERIES" \
      --points "$PTS_RUN" --start-time "$start"
    if [ "$m" = remote ]; then redis_snap "$TMP/r$k-1"; metrics remote "$TMP/r$k-m1"; fi
    PPS[$m,$k]=$(json points_per_sec <<<"$out")
    P50[$m,$k]=$(json p50_ms <<<"$out")
    P99[$m,$k]=$(json p99_ms <<<"$out")
    PTS[$m,$k]=$(json points <<<"$out")
    REQ[$m,$k]=$(json requests <<<"$out")
    [ "${PTS[$m,$k]}" = "$PTS_RUN" ] || die "$m run $k: ${PTS[$m,$k]} of $PTS_RUN points acknowledged"
    post "$m" /admin/flush
    FLUSH_S[$m,$k]=$POST_S
    # shellcheck disable=SC2034 # read through a nameref (med, runs)
    E2E[$m,$k]=$(calc "'%.0f' % (${PTS[$m,$k]} / ($(json seconds <<<"$out") + $POST_S))")
    echo "   run $((k + 1)) $m: ${PPS[$m,$k]} points/s (${PTS[$m,$k]} points, ${REQ[$m,$k]} batches," \
      "p50 ${P50[$m,$k]} ms, p99 ${P99[$m,$k]} ms), then /admin/flush ${POST_S} s"
    if [ "$m" = remote ]; then
      a=$TMP/r$k-0 b=$TMP/r$k-1
      RCMD[$k]=$(( $(redis_field "$b" total_commands_processed) - $(redis_field "$a" total_commands_processed) - 1 ))
      RREAD[$k]=$(( $(redis_field "$b" total_reads_processed) - $(redis_field "$a" total_reads_processed) ))
      RTRIP[$k]=$(delta "$TMP/r$k-m0" "$TMP/r$k-m1" diamond_redis_round_trips_total)
      RREPL[$k]=$(delta "$TMP/r$k-m0" "$TMP/r$k-m1" diamond_redis_replies_total)
      RBYTES[$k]=$(( $(redis_field "$b" total_net_input_bytes) - $(redis_field "$a" total_net_input_bytes) ))
      # per command: calls during the run (the INFO of the first snapshot left out)
      RCMDS[$k]=$(python3 - "$a" "$b" <<'PY'
import re, sys
def calls(f):
    d = {}
    for line in open(f):
        m = re.match(r"cmdstat_([^:]+):calls=(\d+)", line)
        if m: d[m.group(1)] = int(m.group(2))
    return d
a, b = calls(sys.argv[1]), calls(sys.argv[2])
d = {k: v - a.get(k, 0) - (1 if k == "info" else 0) for k, v in b.items()}
print(" ".join("%s=%d" % (k, v) for k, v in sorted(d.items(), key=lambda x: -x[1]) if v > 0))
PY
)
    fi
  done
done
for m in "${MODES[@]}"; do metrics "$m" "$TMP/m1-$m"; done

sum_runs() { # sum_runs ARRAY MODE
  local -n arr=$1
  local s=0 k
  for ((k = 0; k < RUNS; k++)); do s=$(( s + ${arr[$2,$k]} )); done
  echo "$s"
}
declare -A TOTPTS WIN COST RT_PTS RT_WIN
for m in "${MODES[@]}"; do
  TOTPTS[$m]=$(sum_runs PTS "$m")
  WIN[$m]=$(delta "$TMP/m0-$m" "$TMP/m1-$m" diamond_flush_windows_total)
  COST[$m]=$(delta "$TMP/m0-$m" "$TMP/m1-$m" diamond_estimated_cost_usd_total)
done

# --- 3b: the real-time path: one hour of SERIES series (60 points each) in a window that is
# recent enough to be flushed blind (its start within 2 window + grace + max_future of now;
# a back-filled window older than that is merged: read first, see docs/benchmarks.md) ------
now=$(date +%s)
hour0=$(( now - now % 3600 ))
if (( now - hour0 < 3000 )); then RT_START=$(( hour0 - 3600 )) # the previous hour, closed
else RT_START=$hour0; fi # the last 10 min of an hour: the current window, up to max_future ahead
for m in "${MODES[@]}"; do
  run out "$LOAD" --url "${HP[$m]}" --conns "$CONNS" --batch "$BATCH" --series "$SERIES" \
    --points $(( SERIES * 60 )) --start-time "$RT_START"
  post "$m" /admin/flush
  RT_PTS[$m]=$(json points <<<"$out")
  metrics "$m" "$TMP/m1b-$m"
  RT_WIN[$m]=$(delta "$TMP/m1-$m" "$TMP/m1b-$m" diamond_flush_windows_total)
  echo "   real-time hour $m: ${RT_PTS[$m]} points, ${RT_WIN[$m]} windows flushed"
done

# --- 5: reads of 24 h: the older hours flushed to the table, the newest in the cache (the
# open hour, and the one before it in the first half of an hour) -------------------------
declare -A RD RD_NB
for m in "${MODES[@]}"; do
  now=$(date +%s)
  hour0=$(( now - now % 3600 ))
  rstart=$(( now - 86400 ))
  rstart=$(( rstart - rstart % 60 + 60 )) # first point inside [end - 24 h, end]
  cache_from=$hour0
  if (( now - hour0 < 1800 )); then cache_from=$(( hour0 - 3600 )); fi
  na=$(( (cache_from - rstart) / 60 ))
  nb=$(( (now - cache_from) / 60 + 1 ))  # up to the current minute
  run out "$LOAD" --url "${HP[$m]}" --conns "$CONNS" --batch "$BATCH" --series "$READ_SERIES" \
    --points $(( na * READ_SERIES )) --start-time "$rstart"
  post "$m" /admin/flush
  run out "$LOAD" --url "${HP[$m]}" --conns 1 --batch "$BATCH" --series "$READ_SERIES" \
    --points $(( nb * READ_SERIES )) --start-time "$cache_from"
  run out "$READ" --url "${HP[$m]}" --hosts $(( READ_SERIES / 10 )) --names 10 --range 86400 \
    --end "$now" --requests "$READ_REQUESTS" --conns 1
  RD[$m]=$out
  RD_NB[$m]=$nb
  want=$(( na + nb ))
  got=$(json points_per_request <<<"$out")
  if [ "$(calc "int(round($got)) == $want")" != True ]; then
    FAILURES+=("read $m: $got points per 24 h read, wrote $want ($na in the table, $nb in the cache)")
  fi
  echo "   read $m: $(json p50_ms <<<"$out") ms p50, $(json p99_ms <<<"$out") ms p99, $got points a read"
done
for m in "${MODES[@]}"; do metrics "$m" "$TMP/m2-$m"; done

# --- the table ----------------------------------------------------------------------------
med() { # med ARRAY MODE
  local -n arr=$1
  local v=() k
  for ((k = 0; k < RUNS; k++)); do v+=("${arr[$2,$k]}"); done
  median "${v[@]}"
}
runs() { # runs ARRAY MODE: "a / b / c"
  local -n arr=$1
  local v=() k
  for ((k = 0; k < RUNS; k++)); do v+=("$(python3 -c "print(format(int(float('${arr[$2,$k]}')), ','))")"); done
  local IFS=/
  echo "${v[*]}" | sed 's|/| / |g'
}
fmt() { python3 -c "print(format(int(float('$1')), ','))"; }
col() { # col EXPR_FOR_MODE...: one cell per mode
  local m
  for m in "${MODES[@]}"; do printf ' %s |' "$("$@" "$m")"; done
}
c_ingest() { echo "**$(fmt "$(med PPS "$1")")** ($(runs PPS "$1"))"; }
c_e2e() { echo "$(fmt "$(med E2E "$1")") ($(runs E2E "$1"))"; }
c_lat() { echo "$(med P50 "$1") / $(med P99 "$1") ms"; }
c_flush() { local s=0 k; for ((k = 0; k < RUNS; k++)); do s=$(calc "$s + ${FLUSH_S[$1,$k]}"); done; echo "$(calc "'%.2f' % $s") s"; }
c_win() { echo "$(calc "'%.5f' % (${WIN[$1]} / ${TOTPTS[$1]})") (${WIN[$1]} windows; 1/60 = 0.01667)"; }
c_cost() { echo "\$$(calc "'%.4f' % (${COST[$1]} / ${TOTPTS[$1]} * 1e6)")"; }
c_read() { echo "$(json p50_ms <<<"${RD[$1]}") / $(json p99_ms <<<"${RD[$1]}") ms ($(json points_per_request <<<"${RD[$1]}") points)"; }

hdr="| measure |"
sep="|---|"
for m in "${MODES[@]}"; do
  case $m in embedded) hdr+=" embedded (memory + WAL, LMDB, blob dir) |" ;;
    remote) hdr+=" Redis + dynalite + s3rver |" ;; esac
  sep+="---|"
done

cat <<EOF

## Results ($(nproc) cores, $(uname -sr), $(date -u +%Y-%m-%d))

Workload: $RUNS runs x $SERIES series x $HOURS h x 60 points (one a minute, $(fmt "$PTS_RUN") points a
run), $CONNS connections x $BATCH-point batches, 2+ days in the past (closed windows);
runs interleaved, each followed by POST /admin/flush; flusher.interval_ms = 1 h on both.

$hdr
$sep
| ingest points/s: **median** (run 1 / 2 / 3) |$(col c_ingest)
| ingest + its /admin/flush, points/s: median (run 1 / 2 / 3) |$(col c_e2e)
| ingest request latency p50 / p99 (median of the runs) |$(col c_lat)
| /admin/flush after each run, summed |$(col c_flush)
| table windows per point (diamond_flush_windows_total / points) |$(col c_win)
| estimated USD per million points ingested (diamond_estimated_cost_usd_total) |$(col c_cost)
| read 1 series x 24 h, p50 / p99 ($READ_REQUESTS requests over $READ_SERIES series) |$(col c_read)
EOF

table_rows() { # table_rows BEFORE AFTER POINTS SERIES_WINDOWS LABEL: the table's writes per point
  local a=$1 b=$2 pts=$3 sw=$4 l=$5 op n wreq wu ru win ops=""
  for op in $(grep -o 'diamond_remote_requests_total{backend="table",op="[A-Za-z]*"' "$b" | sed 's/.*op="//; s/"//' | sort -u); do
    n=$(delta "$a" "$b" diamond_remote_requests_total "backend=\"table\",op=\"$op\"")
    if [ "$(calc "$n > 0")" = True ]; then ops+="$op $(fmt "$n"), "; fi
  done
  wreq=$(delta "$a" "$b" diamond_remote_requests_total 'backend="table",op="(BatchWriteItem|PutItem|UpdateItem|DeleteItem|TransactWriteItems)"')
  wu=$(delta "$a" "$b" diamond_table_write_units_total)
  ru=$(delta "$a" "$b" diamond_table_read_units_total)
  win=$(delta "$a" "$b" diamond_flush_windows_total)
  echo "| $l: table requests by op | ${ops%, } |"
  echo "| $l: **table write requests per point** (BatchWriteItem + PutItem + UpdateItem) | **$(calc "'%.6f' % ($wreq / $pts)")** ($(fmt "$wreq") for $(fmt "$pts") points) |"
  echo "| $l: **items (write units) per point** (diamond_table_write_units_total) | **$(calc "'%.5f' % ($wu / $pts)")** ($(calc "'%.0f' % $wu") units; 1/60 = 0.01667; read units $(calc "'%.0f' % $ru")) |"
  echo "| $l: windows flushed per point (diamond_flush_windows_total) | $(calc "'%.5f' % ($win / $pts)") ($(fmt "$win") windows for $(fmt "$sw") series-windows written) |"
  echo "| $l: estimated USD per million points | \$$(calc "'%.4f' % ($(delta "$a" "$b" diamond_estimated_cost_usd_total) / $pts * 1e6)") |"
}

if [ "$ONLY" = both ]; then
  a=$TMP/m0-remote b=$TMP/m1-remote
  echo
  echo "Remote engines in detail (counters on /metrics and Redis INFO; backfill: from before run 1 to after the last run's flush):"
  echo
  echo "| measure | value |"
  echo "|---|---|"
  for ((k = 0; k < RUNS; k++)); do
    nb=${REQ[remote,$k]}
    echo "| run $((k + 1)) ($nb batches): **Redis round trips / batch** (diamond_redis_round_trips_total); commands sent / batch (diamond_redis_replies_total); commands Redis ran / batch, inside the EVALSHA scripts too (INFO total_commands_processed) | **$(calc "'%.2f' % (${RTRIP[$k]} / $nb)")**; $(calc "'%.0f' % (${RREPL[$k]} / $nb)"); $(calc "'%.0f' % (${RCMD[$k]} / $nb)") |"
    echo "| run $((k + 1)): bytes Redis received / batch; its read events / batch (total_reads_processed) | $(fmt "$(calc "${RBYTES[$k]} / $nb")") B; $(calc "'%.1f' % (${RREAD[$k]} / $nb)") |"
  done
  echo "| run 1: commands Redis ran, by type (INFO commandstats; those the scripts call included) | ${RCMDS[0]} |"
  table_rows "$a" "$b" "${TOTPTS[remote]}" $(( SERIES * HOURS * RUNS )) "backfill ($RUNS runs)"
  table_rows "$b" "$TMP/m1b-remote" "${RT_PTS[remote]}" "$SERIES" "real-time hour"
  for be in table blob; do
    n=$(delta "$a" "$TMP/m2-remote" diamond_remote_requests_total "backend=\"$be\"")
    e=$(delta "$a" "$TMP/m2-remote" diamond_remote_errors_total "backend=\"$be\"")
    r=$(delta "$a" "$TMP/m2-remote" diamond_remote_retries_total "backend=\"$be\"")
    c=$(delta "$a" "$TMP/m2-remote" diamond_estimated_cost_usd_total "backend=\"$be\"")
    echo "| whole run, $be: requests; errors; retries; estimated USD | $(fmt "$n"); $(fmt "$e"); $(fmt "$r"); \$$(calc "'%.6f' % $c") |"
  done
  echo "| read 24 h: points a read from the cache (written after the flush: the open hour, and the hour before in its first 30 min) | ${RD_NB[remote]} of $(json points_per_request <<<"${RD[remote]}") |"
  for m in "${MODES[@]}"; do
    echo "| diamondd ($m) log: warn; error lines | $(grep -c 'level=warn' "$LOGS/diamondd-$m.log" || true); $(grep -c 'level=error' "$LOGS/diamondd-$m.log" || true) |"
  done
fi

echo
echo "Commands (\$TMP = the temp dir, removed at the end; ports vary):"
printf '%s\n' "${COMMANDS[@]}" | awk '!seen[$0]++' | sed "s|$TMP|\$TMP|g; s|^|    |"

if [ "${#FAILURES[@]}" -gt 0 ]; then
  printf 'FAILED: %s\n' "${FAILURES[@]}" >&2
  die "${#FAILURES[@]} check(s) failed"
fi
