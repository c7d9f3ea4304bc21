#!/usr/bin/env bash
# run.sh BUILD_DIR — the diamond benchmark: starts diamondd (embedded default, wal.fsync =
# always) on a temp data dir and free loopback ports, measures ingest, CPU per point, RSS
# per series, bytes per point in blobs after ageing and read latency, prints a markdown
# table and the exact commands, and stops the server. docs/benchmarks.md explains it.
#
# Knobs (environment): INGEST_SECONDS=20 SERIES=10000 CONNS=4 BATCH=5000
#   BACKFILL_SERIES=1000 BACKFILL_DAYS=2 READ_REQUESTS=2000 FANOUT_ROUNDS=100 PEER=1 (also
#   run bench/peer_vm.sh when victoria-metrics is installed).
set -euo pipefail

BUILD=${1:-build}
HERE=$(cd "$(dirname "$0")" && pwd)
TMP_PREFIX=diamond-bench
. "$HERE/lib.sh"
DIAMONDD=$BUILD/diamondd

for b in "$DIAMONDD" "$LOAD" "$READ"; do
  [ -x "$b" ] || { echo "run.sh: $b is missing: build first (cmake --build $BUILD)" >&2; exit 2; }
done

start_server() { # start_server NAME [--set k=v ...]
  local name=$1
  shift
  PORT=$(free_port)
  mkdir -p "$TMP/$name"
  COMMANDS+=("$DIAMONDD --data-dir $TMP/$name/data --http 127.0.0.1:$PORT --graphite off --set graphite.udp=off $*")
  "$DIAMONDD" --data-dir "$TMP/$name/data" --http "127.0.0.1:$PORT" --graphite off --set graphite.udp=off "$@" \
    2>"$TMP/$name/stderr" &
  PID=$!
  for _ in $(seq 100); do
    if curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1; then return 0; fi
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "run.sh: diamondd did not start:" >&2
  cat "$TMP/$name/stderr" >&2
  exit 1
}

stop_server() {
  kill -TERM "$PID"
  wait "$PID" || true
  PID=""
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
rss_kib() { awk -v k="${1:-VmRSS}:" '$1 == k {print $2}' "/proc/$PID/status"; }
metric() { curl -fsS "http://127.0.0.1:$PORT/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
post() { # post PATH: POST /admin/..., prints the reply
  local out
  capture out curl -sS -X POST "http://127.0.0.1:$PORT$1"
  echo "POST $1: $out"
}
now_s() { date +%s.%N; }

HZ=$(getconf CLK_TCK)
echo "== diamond benchmark: $(nproc) cores, $(uname -sr), build $BUILD"

# --- 1. ingest: CONNS connections x BATCH-point batches over SERIES series ----------------
start_server ingest
rss0=$(rss_kib)
anon0=$(rss_kib RssAnon)
cpu0=$(cpu_ticks)
capture ingest "$LOAD" --url "127.0.0.1:$PORT" --conns "$CONNS" --batch "$BATCH" \
  --series "$SERIES" --duration "$INGEST_SECONDS"
cpu1=$(cpu_ticks)
rss1=$(rss_kib)
anon1=$(rss_kib RssAnon)
cache_bytes=$(metric diamond_cache_bytes)
cache_points=$(metric diamond_cache_points)
echo "$ingest"
ing_pts=$(json points <<<"$ingest")
ing_pps=$(json points_per_sec <<<"$ingest")
ing_p50=$(json p50_ms <<<"$ingest")
ing_p99=$(json p99_ms <<<"$ingest")
ing_bad=$(json non_2xx <<<"$ingest")
cpu_us=$(python3 -c "print('%.2f' % (($cpu1 - $cpu0) / $HZ * 1e6 / max(1, $ing_pts)))")
rss_series=$(python3 -c "print('%.0f' % ($rss1 * 1024 / $SERIES))")
rss_delta=$(python3 -c "print('%.0f' % (($rss1 - $rss0) * 1024 / $SERIES))")
anon_series=$(python3 -c "print('%.0f' % ($anon1 * 1024 / $SERIES))")
cache_pp=$(python3 -c "b, p = '${cache_bytes:-0}', '${cache_points:-0}'
print('%.1f (%d points cached)' % (float(b) / float(p), int(float(p))) if float(p) > 0 else 'n/a')")
stop_server

# --- 2. backfill BACKFILL_DAYS days of BACKFILL_SERIES series, 5 days ago; flush; age ----
start_server backfill --set table.keep=1d
start=$(( $(date +%s) - 5 * 86400 ))
start=$(( start - start % 60 ))
capture fill "$LOAD" --url "127.0.0.1:$PORT" --conns "$CONNS" --batch "$BATCH" \
  --series "$BACKFILL_SERIES" --days "$BACKFILL_DAYS" --start-time "$start"
echo "$fill"
fill_pts=$(json points <<<"$fill")
fill_pps=$(json points_per_sec <<<"$fill")
t0=$(now_s)
post /admin/flush
t1=$(now_s)
flush_s=$(python3 -c "print('%.2f' % ($t1 - $t0))")
# reads of one day from the table
end=$(( start + 86400 ))
hosts=$(( BACKFILL_SERIES / 10 ))
read_one() { # read_one VAR
  capture "$1" "$READ" --url "127.0.0.1:$PORT" --hosts "$hosts" --names 10 --range 86400 --end "$end" \
    --requests "$READ_REQUESTS" --conns 1
}
read_fan() { # read_fan VAR
  capture "$1" "$READ" --url "127.0.0.1:$PORT" --hosts "$hosts" --names 10 --range 86400 --end "$end" \
    --fanout 100 --requests "$FANOUT_ROUNDS"
}
read_one r_tab; echo "$r_tab"
read_fan f_tab; echo "$f_tab"
t0=$(now_s)
post /admin/age
t1=$(now_s)
age_s=$(python3 -c "print('%.2f' % ($t1 - $t0))")
blob_bytes=$(find "$TMP/backfill/data/blobs" -type f -name '*.dmb' -printf '%s\n' 2>/dev/null |
  awk '{s += $1} END {print s + 0}')
blob_files=$(find "$TMP/backfill/data/blobs" -type f -name '*.dmb' 2>/dev/null | wc -l)
bpp=$(python3 -c "print('%.3f' % ($blob_bytes / max(1, $fill_pts)))")
read_one r_blob; echo "$r_blob"
read_fan f_blob; echo "$f_blob"
stop_server

f() { json "$1" <<<"$2"; }
cat <<EOF

## Results ($(nproc) cores, $(date -u +%Y-%m-%d), wal.fsync = always)

| measure | value |
|---|---|
| ingest, $CONNS conns x $BATCH-point batches, $SERIES series, ${INGEST_SECONDS} s | **$ing_pps points/s** ($ing_pts points, non-2xx $ing_bad) |
| ingest request latency p50 / p99 | $ing_p50 ms / $ing_p99 ms |
| server CPU per point (utime+stime / points) | $cpu_us µs |
| RSS per series after ingest: VmRSS / series (growth during the run / series) | $rss_series B ($rss_delta B) |
| anonymous RSS per series (RssAnon / series: without LMDB's file-backed map) | $anon_series B |
| hot-tier bytes per cached point (diamond_cache_bytes / diamond_cache_points, end of ingest) | $cache_pp |
| backfill, $BACKFILL_SERIES series x $BACKFILL_DAYS days | $fill_pps points/s ($fill_pts points) |
| /admin/flush then /admin/age wall time | $flush_s s; $age_s s |
| **bytes per point in blobs** ($blob_files .dmb files, $blob_bytes bytes) | **$bpp** |
| read 1 series x 24 h from the table: p50 / p99 | $(f p50_ms "$r_tab") ms / $(f p99_ms "$r_tab") ms ($(f requests_per_sec "$r_tab") req/s, $(f points_per_request "$r_tab") points) |
| read 1 series x 24 h from blobs: p50 / p99 | **$(f p50_ms "$r_blob") ms** / $(f p99_ms "$r_blob") ms ($(f requests_per_sec "$r_blob") req/s, $(f points_per_request "$r_blob") points) |
| 100 series x 24 h fanout from the table: p50 / p99 | $(f p50_ms "$f_tab") ms / $(f p99_ms "$f_tab") ms |
| 100 series x 24 h fanout from blobs: p50 / p99 | $(f p50_ms "$f_blob") ms / $(f p99_ms "$f_blob") ms |

Commands (the temp dir is removed at the end):
EOF
for c in "${COMMANDS[@]}"; do echo "    $c"; done

if [ "${PEER:-0}" = 1 ]; then
  echo
  "$HERE/peer_vm.sh" "$BUILD"
fi
