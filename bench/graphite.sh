#!/usr/bin/env bash
# graphite.sh BUILD_DIR — the Graphite benchmarks (issue 9): diamond beside the reference
# Graphite (Debian's carbon-cache + graphite-web under gunicorn) and VictoriaMetrics's
# Graphite listener, in one run, every figure the median of RUNS runs taken here:
#
#   1. render: 100 series x 24 h at 60 s (1,440 points each, ending now) written to all
#      three through plaintext TCP; /render of `bench.host*.cpu`, `sumSeries(...)` and the
#      plain one with maxDataPoints=500, p50/p99 over sequential requests (wrk, one
#      connection, a fixed URL) on diamond and graphite-web (reading whisper files, the
#      carbon cache drained first); VictoriaMetrics 1.79 has no /render, so its line is a
#      PromQL /api/v1/query_range of the same series and their sum(), step 60 s.
#   2. ingest: plaintext over TCP and over UDP (dm_load --format graphite [--udp]) into
#      each server; sent points/s and the fraction stored (diamond: points it accepted into
#      the WAL; carbon: points in its whisper files; VM: rows added to its storage).
#   3. find: FIND_HOSTS x FIND_NAMES names (1 M by default, one point each) loaded into
#      diamond and VictoriaMetrics; load time, diamond's RSS, and /metrics/find p50/p99 of
#      four patterns (plus a wildcard /render on diamond); then diamond again with the
#      default limits.max_query_series, to show the 422 a too-wide pattern answers.
#
# Prints a markdown table and the exact commands; every process is stopped by PID at exit;
# exits 1 when something fails (a non-2xx where a 200 is due, points missing). Knobs
# (environment): RUNS=3 PARTS="render ingest find" RENDER_SECONDS=4 INGEST_SECONDS=5
#   INGEST_SERIES=5000 UDP_RATE=500000 FIND_HOSTS=10000 FIND_NAMES=100 FIND_SECONDS=3
#   FIND_BUDGET=20000 DRAIN_MAX=120 KEEP_LOGS=DIR; QUICK=1 shrinks everything (a smoke run).
# docs/benchmarks.md explains every figure.
set -euo pipefail

BUILD=${1:-build}
HERE=$(cd "$(dirname "$0")" && pwd)
if [ "${QUICK:-0}" = 1 ]; then
  : "${RUNS:=1}" "${RENDER_SECONDS:=1}" "${INGEST_SECONDS:=1}" "${INGEST_SERIES:=200}"
  : "${UDP_RATE:=50000}" "${FIND_HOSTS:=100}" "${FIND_NAMES:=100}" "${FIND_SECONDS:=1}"
  : "${RENDER_SERIES:=10}" "${DRAIN_MAX:=30}"
fi
: "${INGEST_SECONDS:=5}" # before lib.sh, whose default (20) is bench/run.sh's
# shellcheck disable=SC2034 # read by lib.sh
TMP_PREFIX=diamond-graphite
. "$HERE/lib.sh"
DIAMONDD=$BUILD/diamondd
VM=${VM:-/usr/bin/victoria-metrics}
SYS_PY=/usr/bin/python3 # Debian's python: carbon, graphite-web and whisper live there
CARBON=/usr/bin/carbon-cache
GUNICORN=/usr/bin/gunicorn
RUNS=${RUNS:-3}
PARTS=${PARTS:-render ingest find}
RENDER_SERIES=${RENDER_SERIES:-100}
RENDER_SECONDS=${RENDER_SECONDS:-4}
INGEST_SERIES=${INGEST_SERIES:-5000}
UDP_RATE=${UDP_RATE:-500000}
FIND_HOSTS=${FIND_HOSTS:-10000}
FIND_NAMES=${FIND_NAMES:-100}
FIND_SECONDS=${FIND_SECONDS:-3}
FIND_BUDGET=${FIND_BUDGET:-20000}
DRAIN_MAX=${DRAIN_MAX:-120}
LOGS=$TMP/logs
mkdir -p "$LOGS"
at_exit() {
  stop_bg
  if [ -n "${KEEP_LOGS:-}" ]; then mkdir -p "$KEEP_LOGS" && cp -r "$LOGS"/. "$KEEP_LOGS"/; fi
  cleanup
}
trap at_exit EXIT

for b in "$DIAMONDD" "$LOAD" "$VM" "$CARBON" "$GUNICORN" "$SYS_PY"; do
  [ -x "$b" ] || { echo "graphite.sh: $b is missing (build first; scripts/deps.sh --bench)" >&2; exit 2; }
done
command -v wrk >/dev/null || { echo "graphite.sh: wrk is missing (scripts/deps.sh --bench)" >&2; exit 2; }

calc() { python3 -c "print($1)"; }
medf() { python3 -c 'import statistics, sys; print("%.2f" % statistics.median(map(float, sys.argv[1:])))' "$@"; }
enc() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"; }
rss_kib() { awk '$1 == "VmRSS:" {print $2}' "/proc/$1/status"; }
now_s() { date +%s.%N; }
metric_sum() { # metric_sum URL NAME [LABEL_RE]: a /metrics sample sum
  curl -fsS --max-time 30 "$1/metrics" >"$TMP/metrics.txt" || die "GET $1/metrics failed"
  prom_sum "$TMP/metrics.txt" "$2" "${3:-}"
}

# --- servers -----------------------------------------------------------------------------
start_diamondd() { # start_diamondd NAME ARGS...: sets D_URL D_TCP D_UDP D_PID
  local name=$1 port
  shift
  port=$(free_port)
  D_TCP=$(free_port)
  D_UDP=$(free_port)
  D_URL=http://127.0.0.1:$port
  mkdir -p "$TMP/$name"
  start_bg "$LOGS/diamondd-$name.log" "$DIAMONDD" --data-dir "$TMP/$name/data" \
    --http "127.0.0.1:$port" --graphite "127.0.0.1:$D_TCP" --set "graphite.udp=127.0.0.1:$D_UDP" "$@"
  D_PID=$BG_PID
  for _ in $(seq 600); do
    if curl -fsS -o /dev/null "$D_URL/readyz" 2>/dev/null; then return 0; fi
    kill -0 "$D_PID" 2>/dev/null || break
    sleep 0.1
  done
  die "diamondd ($name) did not start"
}

start_vm() { # start_vm NAME: sets V_URL V_GR (graphite TCP+UDP) V_PID
  local name=$1 port
  port=$(free_port)
  V_GR=$(free_port)
  V_URL=http://127.0.0.1:$port
  mkdir -p "$TMP/$name"
  # -search.disableCache: every request computes its answer (diamond and graphite-web cache
  # nothing here); -search.latencyOffset=0s: the newest points are visible at once.
  start_bg "$LOGS/vm-$name.log" "$VM" -storageDataPath="$TMP/$name/data" \
    -httpListenAddr="127.0.0.1:$port" -graphiteListenAddr="127.0.0.1:$V_GR" \
    -retentionPeriod=100y -search.disableCache -search.latencyOffset=0s
  V_PID=$BG_PID
  wait_http "$V_URL/health" "$V_PID" 150 || die "victoria-metrics ($name) did not start"
}

start_carbon() { # start_carbon NAME: sets C_TCP C_UDP C_DIR (whisper) C_QUERY C_PID
  local name=$1 root=$TMP/$1
  C_TCP=$(free_port)
  C_UDP=$(free_port)
  C_QUERY=$(free_port)
  C_DIR=$root/storage/whisper
  mkdir -p "$C_DIR" "$root/storage/lists"
  printf '[all]\npattern = .*\nretentions = 60s:2d\n' >"$root/storage-schemas.conf"
  printf '[default]\npattern = .*\nxFilesFactor = 0\naggregationMethod = average\n' \
    >"$root/storage-aggregation.conf"
  cat >"$root/carbon.conf" <<EOF
[cache]
STORAGE_DIR = $root/storage
LOCAL_DATA_DIR = $C_DIR
WHITELISTS_DIR = $root/storage/lists
CONF_DIR = $root
LOG_DIR = $root
PID_DIR = $root
ENABLE_LOGROTATION = False
USER =
MAX_CACHE_SIZE = inf
MAX_UPDATES_PER_SECOND = inf
MAX_CREATES_PER_MINUTE = inf
LINE_RECEIVER_INTERFACE = 127.0.0.1
LINE_RECEIVER_PORT = $C_TCP
ENABLE_UDP_LISTENER = True
UDP_RECEIVER_INTERFACE = 127.0.0.1
UDP_RECEIVER_PORT = $C_UDP
PICKLE_RECEIVER_INTERFACE = 127.0.0.1
PICKLE_RECEIVER_PORT = 0
CACHE_QUERY_INTERFACE = 127.0.0.1
CACHE_QUERY_PORT = $C_QUERY
LOG_LISTENER_CONNECTIONS = False
LOG_UPDATES = False
LOG_CACHE_HITS = False
WHISPER_AUTOFLUSH = False
CACHE_WRITE_STRATEGY = sorted
EOF
  COMMANDS+=("(carbon.conf: retentions 60s:2d, MAX_CACHE_SIZE/MAX_UPDATES_PER_SECOND/MAX_CREATES_PER_MINUTE = inf, UDP listener on, CACHE_WRITE_STRATEGY = sorted)")
  start_bg "$LOGS/carbon-$name.log" "$SYS_PY" "$CARBON" --config "$root/carbon.conf" \
    --pidfile "$root/carbon.pid" --logdir "$root" --nodaemon start
  C_PID=$BG_PID
  for _ in $(seq 300); do
    if python3 -c "import socket, sys; [socket.create_connection(('127.0.0.1', int(p)), 1).close() for p in sys.argv[1:]]" \
      "$C_TCP" "$C_QUERY" 2>/dev/null; then return 0; fi
    kill -0 "$C_PID" 2>/dev/null || break
    sleep 0.1
  done
  die "carbon-cache ($name) did not start"
}

start_graphite_web() { # start_graphite_web CARBON_NAME: sets W_URL W_PID
  local root=$TMP/$1 port
  port=$(free_port)
  W_URL=http://127.0.0.1:$port
  mkdir -p "$root/web/py"
  cat >"$root/web/py/bench_graphite_settings.py" <<EOF
SECRET_KEY = 'diamond-bench'
GRAPHITE_ROOT = '/usr/share/graphite-web'
STATIC_ROOT = '/usr/share/graphite-web/static'
CONF_DIR = '$root/web'
STORAGE_DIR = '$root/storage'
WHISPER_DIR = '$C_DIR'
STANDARD_DIRS = ['$C_DIR']
LOG_DIR = '$root/web'
INDEX_FILE = '$root/web/index'
LOG_ROTATION = False
LOG_RENDERING_PERFORMANCE = False
LOG_CACHE_PERFORMANCE = False
DEFAULT_XFILES_FACTOR = 0
CARBONLINK_HOSTS = ['127.0.0.1:$C_QUERY']
CARBONLINK_TIMEOUT = 5.0
TAGDB = ''
FUNCTION_PLUGINS = []
USE_WORKER_POOL = False
TIME_ZONE = 'UTC'
DATABASES = {'default': {'NAME': '$root/web/graphite.db', 'ENGINE': 'django.db.backends.sqlite3'}}
EOF
  COMMANDS+=("(graphite-web local settings: WHISPER_DIR = carbon's, CARBONLINK_HOSTS = its cache query port, no memcached, USE_WORKER_POOL = False)")
  start_bg "$LOGS/graphite-web.log" env GRAPHITE_SETTINGS_MODULE=bench_graphite_settings \
    DJANGO_SETTINGS_MODULE=graphite.settings PYTHONPATH="$root/web/py" \
    "$SYS_PY" "$GUNICORN" --bind "127.0.0.1:$port" --workers 2 --timeout 120 \
    --pythonpath "$root/web/py" graphite.wsgi:application
  W_PID=$BG_PID
  for _ in $(seq 600); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$W_URL/version" 2>/dev/null)" = 200 ] && return 0
    kill -0 "$W_PID" 2>/dev/null || break
    sleep 0.1
  done
  die "graphite-web did not start"
}

# whisper_points DIR FROM UNTIL: the non-null points in every .wsp file under DIR in
# (FROM, UNTIL], and the file count
cat >"$TMP/whisper_points.py" <<'EOF'
import os, sys, whisper
root, frm, until = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
n = files = 0
for d, _, fs in os.walk(root):
    for f in fs:
        if f.endswith(".wsp"):
            try:
                _, vals = whisper.fetch(os.path.join(d, f), frm, until)
            except Exception:  # carbon is still creating it: counts next time
                continue
            n += sum(1 for v in vals if v is not None)
            files += 1
print(n, files)
EOF
whisper_points() { "$SYS_PY" "$TMP/whisper_points.py" "$@"; }

vm_count() { # vm_count URL SELECTOR END RANGE_S: points of SELECTOR in (END - RANGE, END]
  curl -fsS -G --max-time 60 "$1/api/v1/query" --data-urlencode "time=$3" \
    --data-urlencode "query=sum(count_over_time($2[$4s]))" |
    python3 -c 'import json, sys; r = json.load(sys.stdin)["data"]["result"]; print(int(float(r[0]["value"][1])) if r else 0)'
}

# wrk_lat URL: one connection, RENDER_SECONDS (or $2) of sequential GETs of one fixed URL;
# prints "p50_ms p99_ms requests non2xx"
wrk_lat() {
  local out
  out=$(wrk -t1 -c1 -d"${2}s" --timeout 60s --latency "$1" 2>&1) || die "wrk failed: $out"
  python3 - "$out" <<'EOF'
import re, sys
out = sys.argv[1]
def ms(v, u):
    return float(v) * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}[u]
pct = {m.group(1): ms(m.group(2), m.group(3))
       for m in re.finditer(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M)}
req = re.search(r"(\d+) requests in", out)
bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
if "50" not in pct or req is None:
    sys.exit("wrk: cannot parse:\n" + out)
print("%.3f %.3f %s %s" % (pct["50"], pct["99"], req.group(1), bad.group(1) if bad else 0))
EOF
}

# lat_runs KEY URL SECONDS: RUNS wrk runs of URL stored as LAT[KEY,r] (interleaving is the
# caller's: it calls this once per run)
declare -A LAT REQS
lat_once() { # lat_once KEY RUN URL SECONDS
  local r p50 p99 n bad
  [ "$2" = 0 ] && COMMANDS+=("wrk -t1 -c1 -d${4}s --timeout 60s --latency '$3'")
  r=$(wrk_lat "$3" "$4") || die "wrk_lat failed for $3"
  read -r p50 p99 n bad <<<"$r"
  [ "$bad" = 0 ] || die "$bad non-2xx answers from $3"
  LAT[$1,p50,$2]=$p50
  LAT[$1,p99,$2]=$p99
  REQS[$1,$2]=$n
}
lat_med() { # lat_med KEY: "p50 / p99 ms (N requests a run)" over the runs
  local k=$1 a=() b=() n=() r
  for ((r = 0; r < RUNS; r++)); do a+=("${LAT[$k,p50,$r]}"); b+=("${LAT[$k,p99,$r]}"); n+=("${REQS[$k,$r]}"); done
  echo "$(medf "${a[@]}") / $(medf "${b[@]}") ms ($(median "${n[@]}") req)"
}

echo "== diamond Graphite benchmark: $(nproc) cores, $(uname -sr), build $BUILD, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "   temp dir \$TMP = $TMP; RUNS=$RUNS PARTS=\"$PARTS\""
vm_version=$(dpkg-query -W -f='${Version}' victoria-metrics 2>/dev/null || echo "?")
carbon_version=$(dpkg-query -W -f='${Version}' graphite-carbon 2>/dev/null || echo "?")
web_version=$(dpkg-query -W -f='${Version}' graphite-web 2>/dev/null || echo "?")
RESULTS=()
row() { RESULTS+=("| $1 | $2 | $3 | $4 |"); }

# --- 1. /render of RENDER_SERIES series x 24 h ---------------------------------------------
part_render() {
  local end start n pts
  end=$(date +%s)
  end=$(( end - end % 60 ))
  start=$(( end - 1439 * 60 ))
  pts=$(( RENDER_SERIES * 1440 ))
  echo "-- render: $RENDER_SERIES series x 1440 points ($start..$end)"
  start_diamondd render
  local d_url=$D_URL d_tcp=$D_TCP d_pid=$D_PID
  start_carbon render
  start_graphite_web render
  start_vm render
  local gen=(--format graphite --names-template 'bench.host{h}.cpu' --series "$RENDER_SERIES"
             --names 1 --conns 1 --points "$pts" --start-time "$start" --quiet)
  run out "$LOAD" --url "127.0.0.1:$d_tcp" "${gen[@]}"
  run out "$LOAD" --url "127.0.0.1:$C_TCP" "${gen[@]}"
  run out "$LOAD" --url "127.0.0.1:$V_GR" "${gen[@]}"
  # every point stored before measuring: diamond's counter, carbon's whisper files (the
  # cache drained: graphite-web then reads whisper, carbonlink answers nothing), VM's rows
  local t0 got
  t0=$(date +%s)
  while :; do
    got=$(metric_sum "$d_url" diamond_points_total 'source="graphite"')
    [ "${got%.*}" -ge "$pts" ] && break
    (( $(date +%s) - t0 > DRAIN_MAX )) && die "diamond stored $got of $pts render points"
    sleep 0.2
  done
  while :; do
    read -r got _ < <(whisper_points "$C_DIR" $(( start - 1 )) "$end")
    [ "$got" -ge "$pts" ] && break
    (( $(date +%s) - t0 > DRAIN_MAX )) && die "carbon wrote $got of $pts render points to whisper"
    sleep 1
  done
  echo "   carbon: all $pts points in whisper files after $(( $(date +%s) - t0 )) s"
  curl -fsS "$V_URL/internal/force_flush" >/dev/null || true
  while :; do
    got=$(vm_count "$V_URL" '{__name__=~"bench[.]host.*[.]cpu"}' "$end" 86400)
    [ "$got" -ge "$pts" ] && break
    (( $(date +%s) - t0 > DRAIN_MAX )) && die "victoria-metrics has $got of $pts render points"
    sleep 0.5
  done
  sleep 3 # diamond's flusher moves the closed hours to the table (grace 1 min, every 1 s)
  local cached
  cached=$(metric_sum "$d_url" diamond_cache_points)
  local from=$(( start - 1 )) q_plain q_sum
  q_plain="target=$(enc 'bench.host*.cpu')&from=$from&until=$end&format=json"
  q_sum="target=$(enc 'sumSeries(bench.host*.cpu)')&from=$from&until=$end&format=json"
  declare -A U
  U[d_plain]="$d_url/render?$q_plain"
  U[d_sum]="$d_url/render?$q_sum"
  U[d_mdp]="$d_url/render?$q_plain&maxDataPoints=500"
  U[w_plain]="$W_URL/render?$q_plain"
  U[w_sum]="$W_URL/render?$q_sum"
  U[w_mdp]="$W_URL/render?$q_plain&maxDataPoints=500"
  local sel='{__name__=~"bench[.]host.*[.]cpu"}' vq="start=$start&end=$end&step=60"
  U[v_plain]="$V_URL/api/v1/query_range?query=$(enc "$sel")&$vq"
  U[v_sum]="$V_URL/api/v1/query_range?query=$(enc "sum($sel)")&$vq"
  # the answers first: every series with every point, on each server
  local k check
  for k in d_plain w_plain d_sum w_sum d_mdp w_mdp; do
    check=$(curl -fsS --max-time 120 "${U[$k]}" | python3 -c '
import json, sys
s = json.load(sys.stdin)
print(len(s), sum(1 for x in s for v, _ in x["datapoints"] if v is not None))') || die "GET ${U[$k]} failed"
    echo "   $k: series, non-null points = $check"
    case $k in
      *plain) [ "$check" = "$RENDER_SERIES $pts" ] || die "$k: want $RENDER_SERIES series and $pts points, got $check" ;;
      *sum) [ "$check" = "1 1440" ] || die "$k: want 1 series of 1440 points, got $check" ;;
    esac
  done
  for k in v_plain v_sum; do
    check=$(curl -fsS --max-time 120 "${U[$k]}" | python3 -c '
import json, sys
r = json.load(sys.stdin)["data"]["result"]
print(len(r), sum(len(x["values"]) for x in r))') || die "GET ${U[$k]} failed"
    echo "   $k: series, points = $check"
  done
  local r
  for ((r = 0; r < RUNS; r++)); do
    for k in d_plain w_plain v_plain d_sum w_sum v_sum d_mdp w_mdp; do
      lat_once "$k" "$r" "${U[$k]}" "$RENDER_SECONDS"
    done
  done
  local in_table=$(( pts - ${cached%.*} ))
  R_TIERS="$in_table points from the LMDB table, ${cached%.*} from the memory cache"
  row "/render \`bench.host*.cpu\` ($RENDER_SERIES series × 1,440 points), p50 / p99" \
    "$(lat_med d_plain)" "$(lat_med w_plain)" "$(lat_med v_plain) (query_range)"
  row "/render \`sumSeries(bench.host*.cpu)\`, p50 / p99" "$(lat_med d_sum)" "$(lat_med w_sum)" \
    "$(lat_med v_sum) (\`sum(...)\` query_range)"
  row "/render \`bench.host*.cpu\` maxDataPoints=500, p50 / p99" "$(lat_med d_mdp)" "$(lat_med w_mdp)" "—"
  stop_bg
}

# --- 2. plaintext ingest over TCP and UDP --------------------------------------------------
# Each (protocol, run) writes its own slot of 45 h / RUNS of history (nothing overwrites),
# all within carbon's 2 days and before now: run r of a protocol starts 46 h - r slots ago;
# TCP and UDP use their own names (ing.tcp..., ing.udp...). A run sends for INGEST_SECONDS
# or until its slot (INGEST_SERIES x slot minutes points) is sent, then waits until the
# server has stored them all,
# or until nothing changed for 5 s (UDP drops), at most DRAIN_MAX.
declare -A SENT SENTPS STORED STOREPS
stored_now() { # stored_now SERVER PROTO FROM UNTIL
  case $1 in
    diamond) metric_sum "$D1_URL" diamond_points_total "source=\"graphite$([ "$2" = udp ] && echo _udp)\"" ;;
    diamond_nosync) metric_sum "$D2_URL" diamond_points_total 'source="graphite"' ;;
    vm) metric_sum "$V_URL" vm_rows_added_to_storage_total ;;
    carbon) whisper_points "$C_DIR/ing/$2" "$3" "$4" | cut -d' ' -f1 ;;
  esac
}
part_ingest() {
  echo "-- ingest: plaintext TCP and UDP, $INGEST_SERIES series, ${INGEST_SECONDS} s a run"
  start_diamondd ingest
  D1_URL=$D_URL D1_TCP=$D_TCP D1_UDP=$D_UDP
  # and one with wal.fsync = off, over TCP: neither carbon nor VM syncs a write to disk
  start_diamondd ingest-nosync --set wal.fsync=off
  D2_URL=$D_URL D2_TCP=$D_TCP
  start_carbon ingest
  start_vm ingest
  local now base proto r srv port start from until before out sent t0 t1 last got prev
  local slot=$(( 45 * 60 / RUNS )) # minutes
  now=$(date +%s)
  base=$(( now - 46 * 3600 ))
  base=$(( base - base % 60 ))
  for proto in tcp udp; do
    for ((r = 0; r < RUNS; r++)); do
      start=$(( base + r * slot * 60 ))
      local servers=(diamond carbon vm)
      [ $proto = tcp ] && servers=(diamond diamond_nosync carbon vm)
      for srv in "${servers[@]}"; do
        case $srv in
          diamond) port=$([ $proto = tcp ] && echo "$D1_TCP" || echo "$D1_UDP") ;;
          diamond_nosync) port=$D2_TCP ;;
          carbon) port=$([ $proto = tcp ] && echo "$C_TCP" || echo "$C_UDP") ;;
          vm) port=$V_GR ;;
        esac
        from=$(( start - 1 ))
        until=$(( start + slot * 60 ))
        before=$(stored_now $srv $proto $from $until)
        local extra=()
        # UDP: 200-point chunks, paced, so a sender does not burst past a socket buffer
        [ $proto = udp ] && extra=(--udp --rate "$UDP_RATE" --batch 200)
        t0=$(now_s)
        run out "$LOAD" --url "127.0.0.1:$port" --format graphite --names-template "ing.$proto.h{h}.m{n}" \
          --series "$INGEST_SERIES" --names 10 --conns 2 --batch 5000 --duration "$INGEST_SECONDS" \
          --points $(( INGEST_SERIES * slot )) --start-time "$start" --quiet "${extra[@]}"
        sent=$(json points <<<"$out")
        SENT[$srv,$proto,$r]=$sent
        SENTPS[$srv,$proto,$r]=$(json points_per_sec <<<"$out")
        if [ "$srv" = vm ]; then curl -fsS "$V_URL/internal/force_flush" >/dev/null 2>&1 || true; fi
        prev=-1
        last=$(now_s)
        while :; do
          got=$(( $(stored_now $srv $proto $from $until | cut -d. -f1) - ${before%.*} ))
          t1=$(now_s)
          if [ "$got" != "$prev" ]; then prev=$got; last=$t1; fi
          [ "$got" -ge "$sent" ] && break
          python3 -c "import sys; sys.exit(0 if $t1 - $last > 5 or $t1 - $t0 > $DRAIN_MAX else 1)" && break
          if [ $srv = vm ]; then curl -fsS "$V_URL/internal/force_flush" >/dev/null 2>&1 || true; fi
          if [ $srv = carbon ]; then sleep 1; else sleep 0.2; fi
        done
        STORED[$srv,$proto,$r]=$got
        STOREPS[$srv,$proto,$r]=$(calc "'%.0f' % ($got / ($last - $t0))")
        echo "   $proto run $r $srv: sent $sent at ${SENTPS[$srv,$proto,$r]}/s, stored $got ($(calc "'%.1f' % (100.0 * $got / max(1, $sent))") %) at ${STOREPS[$srv,$proto,$r]}/s"
        if [ $proto = tcp ] && [ "$got" -lt "$sent" ]; then
          die "$srv stored $got of the $sent points sent over TCP"
        fi
      done
    done
  done
  ing_cell() { # ing_cell SERVER PROTO
    local a=() b=() c=() f=() r
    for ((r = 0; r < RUNS; r++)); do
      a+=("${SENTPS[$1,$2,$r]}")
      b+=("${STOREPS[$1,$2,$r]}")
      f+=("$(calc "100.0 * ${STORED[$1,$2,$r]} / max(1, ${SENT[$1,$2,$r]})")")
    done
    if [ "$2" = tcp ]; then
      echo "sent $(median "${a[@]}")/s; all stored, at $(median "${b[@]}")/s"
    else
      echo "sent $(median "${a[@]}")/s; stored $(medf "${f[@]}") %"
    fi
  }
  row "plaintext TCP ingest, 2 connections, $INGEST_SERIES series (points/s)" \
    "$(ing_cell diamond tcp)" "$(ing_cell carbon tcp)" "$(ing_cell vm tcp)"
  row "the same TCP ingest, diamond with wal.fsync = off (carbon and VM never fsync a write)" \
    "$(ing_cell diamond_nosync tcp)" "—" "—"
  row "plaintext UDP at $UDP_RATE points/s offered, 1,400-byte datagrams" \
    "$(ing_cell diamond udp)" "$(ing_cell carbon udp)" "$(ing_cell vm udp)"
  stop_bg
}

# --- 3. /metrics/find at FIND_HOSTS x FIND_NAMES names --------------------------------------
part_find() {
  local n=$(( FIND_HOSTS * FIND_NAMES )) t0 t1 got at out
  at=$(( $(date +%s) - 7200 ))
  at=$(( at - at % 60 ))
  echo "-- find: $n names (bench.h0..h$(( FIND_HOSTS - 1 )).m0..m$(( FIND_NAMES - 1 )))"
  local gen=(--format graphite --names-template 'bench.h{h}.m{n}' --series "$n" --names "$FIND_NAMES"
             --conns 2 --points "$n" --start-time "$at" --quiet)
  start_diamondd find --set "limits.max_query_series=$FIND_BUDGET"
  local d_url=$D_URL d_pid=$D_PID d_tcp=$D_TCP rss0
  rss0=$(rss_kib "$d_pid")
  t0=$(now_s)
  run out "$LOAD" --url "127.0.0.1:$d_tcp" "${gen[@]}"
  while :; do
    got=$(metric_sum "$d_url" diamond_points_total 'source="graphite"')
    [ "${got%.*}" -ge "$n" ] && break
    python3 -c "import sys; sys.exit(0 if $(now_s) - $t0 > $DRAIN_MAX else 1)" && die "diamond took $got of $n names"
    sleep 0.1
  done
  t1=$(now_s)
  local d_load d_rss d_series
  d_load=$(calc "'%.2f' % ($t1 - $t0)")
  d_series=$(metric_sum "$d_url" diamond_series)
  [ "${d_series%.*}" -ge "$n" ] || die "diamond knows $d_series series names, want $n"
  start_vm find
  t0=$(now_s)
  run out "$LOAD" --url "127.0.0.1:$V_GR" "${gen[@]}"
  while :; do
    curl -fsS "$V_URL/internal/force_flush" >/dev/null 2>&1 || true
    got=$(curl -fsS "$V_URL/api/v1/series/count" | python3 -c 'import json, sys; print(json.load(sys.stdin)["data"][0])')
    [ "$got" -ge "$n" ] && break
    python3 -c "import sys; sys.exit(0 if $(now_s) - $t0 > $DRAIN_MAX else 1)" && die "victoria-metrics has $got of $n series"
    sleep 0.5
  done
  t1=$(now_s)
  local v_load v_rss
  v_load=$(calc "'%.2f' % ($t1 - $t0)")
  local h=$(( FIND_HOSTS > 123 ? 123 : FIND_HOSTS - 1 ))
  local queries=("bench.*" "bench.h$h.*" "bench.h1*.m5" "bench.*.m7")
  local q k i r check base wq
  for i in "${!queries[@]}"; do # the answers first: each must be a 200 with nodes
    q=${queries[$i]}
    for k in d v; do
      if [ $k = d ]; then base=$d_url; else base=$V_URL; fi
      check=$(curl -fsS --max-time 120 "$base/metrics/find?query=$(enc "$q")" |
        python3 -c 'import json, sys; print(len(json.load(sys.stdin)))') || die "$k /metrics/find?query=$q failed"
      [ "$check" -gt 0 ] || die "$k: /metrics/find?query=$q found nothing"
      FINDN[$k,$i]=$check
      if [ $k = d ]; then # how many paths match (format=json lists each; treejson merges by name)
        FINDP[$i]=$(curl -fsS --max-time 120 "$base/metrics/find?format=json&query=$(enc "$q")" |
          python3 -c 'import json, sys; print(len(json.load(sys.stdin)))') || die "find json $q failed"
      fi
      echo "   $k find $q: $check treejson entries$([ $k = d ] && echo ", ${FINDP[$i]} paths")"
    done
  done
  wq="target=$(enc "bench.h12*.m1")&from=$(( at - 60 ))&until=$(( at + 60 ))&format=json"
  check=$(curl -fsS "$d_url/render?$wq" | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))') ||
    die "diamond /render?$wq failed"
  echo "   d render bench.h12*.m1: $check series"
  for ((r = 0; r < RUNS; r++)); do
    for i in "${!queries[@]}"; do
      lat_once "fd$i" "$r" "$d_url/metrics/find?query=$(enc "${queries[$i]}")" "$FIND_SECONDS"
      lat_once "fv$i" "$r" "$V_URL/metrics/find?query=$(enc "${queries[$i]}")" "$FIND_SECONDS"
    done
    lat_once fdr "$r" "$d_url/render?$wq" "$FIND_SECONDS"
  done
  d_rss=$(rss_kib "$d_pid")
  v_rss=$(rss_kib "$V_PID")
  for i in "${!queries[@]}"; do
    local entries="${FINDN[d,$i]} entries"
    [ "${FINDN[d,$i]}" = "${FINDN[v,$i]}" ] || entries="diamond ${FINDN[d,$i]}, VM ${FINDN[v,$i]} entries"
    row "/metrics/find \`${queries[$i]}\` at $n names (${FINDP[$i]} paths match; treejson: $entries), p50 / p99" \
      "$(lat_med "fd$i")" "—" "$(lat_med "fv$i")"
  done
  row "/render \`bench.h12*.m1\` at $n names ($check series × 1 point), p50 / p99" "$(lat_med fdr)" "—" "— (no /render)"
  row "load $n names (one point each, plaintext TCP, 2 connections) until all are stored / indexed" \
    "$d_load s" "—" "$v_load s (until /api/v1/series/count = $n)"
  row "RSS with $n names loaded (VmRSS; at start)" \
    "$(( d_rss / 1024 )) MiB ($(( rss0 / 1024 )) MiB; $(( (d_rss - rss0) * 1024 / n )) B a name)" "—" "$(( v_rss / 1024 )) MiB"
  stop_pid "$d_pid"
  # the same data with the default budget (limits.max_query_series = 1000): too-wide
  # patterns answer 422 with the limit named
  t0=$(now_s)
  COMMANDS+=("(restart on the same data dir, default limits)")
  start_diamondd find
  t1=$(now_s)
  FIND_422=()
  for q in "${queries[@]}"; do
    local code
    code=$(curl -sS -o "$TMP/find.out" -w '%{http_code}' "$D_URL/metrics/find?query=$(enc "$q")")
    if [ "$code" = 200 ]; then FIND_422+=("\`$q\`: 200")
    else FIND_422+=("\`$q\`: $code $(cat "$TMP/find.out")"); fi
    if [ "$code" != 200 ] && [ "$code" != 422 ]; then die "find $q with the default budget: $code"; fi
  done
  FIND_RESTART=$(calc "'%.1f' % ($t1 - $t0)")
  stop_bg
}

declare -A FINDN FINDP
R_TIERS=""
FIND_422=()
FIND_RESTART=""
for p in $PARTS; do
  case $p in
    render) part_render ;;
    ingest) part_ingest ;;
    find) part_find ;;
    *) die "unknown part $p (render ingest find)" ;;
  esac
done

cat <<EOF

## Graphite benchmarks ($(nproc) cores, $(date -u '+%Y-%m-%d %H:%M UTC'), load at the end $(cut -d' ' -f1-3 /proc/loadavg); median of $RUNS runs)

| measure | diamond | graphite-web $web_version + carbon $carbon_version | VictoriaMetrics $vm_version |
|---|---|---|---|
EOF
printf '%s\n' "${RESULTS[@]}"
echo
[ -n "$R_TIERS" ] && echo "diamond's /render read $R_TIERS; graphite-web read whisper files (carbon's cache drained first)."
if [ ${#FIND_422[@]} -gt 0 ]; then
  echo "With the default limits.max_query_series (restart on the same data: ${FIND_RESTART} s until ready):"
  for f in "${FIND_422[@]}"; do echo "- $f"; done
fi
echo
echo "Commands (ports and \$TMP vary):"
for c in "${COMMANDS[@]}"; do echo "    ${c//$TMP/\$TMP}"; done
