#!/usr/bin/env bash
# peer_vm.sh BUILD_DIR — the same measurements as bench/run.sh against VictoriaMetrics
# (Debian package victoria-metrics, single node) for a side-by-side line: ingest through
# /api/v1/import (JSON lines, dm_load --format vm), CPU per point, RSS per series, bytes
# per point on disk after a forced merge, and reads of one series x 24 h through
# /api/v1/export. Note: VictoriaMetrics acknowledges an import before it reaches the disk
# (it buffers about a second in memory), while diamond acknowledges after fsync.
set -euo pipefail

BUILD=${1:-build}
TMP_PREFIX=diamond-peer
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"
VM=${VM:-/usr/bin/victoria-metrics}

if [ ! -x "$VM" ]; then
  echo "peer_vm.sh: installing the Debian package victoria-metrics" >&2
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends \
    victoria-metrics >&2 || { echo "peer_vm.sh: cannot install victoria-metrics" >&2; exit 2; }
fi

start_vm() { # start_vm NAME
  PORT=$(free_port)
  mkdir -p "$TMP/$1"
  COMMANDS+=("$VM -storageDataPath=$TMP/$1/data -httpListenAddr=127.0.0.1:$PORT -retentionPeriod=100y")
  "$VM" -storageDataPath="$TMP/$1/data" -httpListenAddr="127.0.0.1:$PORT" -retentionPeriod=100y \
    >"$TMP/$1/log" 2>&1 &
  PID=$!
  for _ in $(seq 100); do
    curl -fsS "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 && return 0
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "peer_vm.sh: victoria-metrics did not start" >&2
  cat "$TMP/$1/log" >&2
  exit 1
}
stop_vm() {
  kill -TERM "$PID"
  wait "$PID" || true
  PID=""
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
rss_kib() { awk -v k="${1:-VmRSS}:" '$1 == k {print $2}' "/proc/$PID/status"; }
HZ=$(getconf CLK_TCK)

vm_version=$(dpkg-query -W -f='${Version}' victoria-metrics 2>/dev/null || "$VM" -version 2>&1 | head -1)
echo "== VictoriaMetrics $vm_version ($VM), $(nproc) cores"
start_vm ingest
cpu0=$(cpu_ticks)
capture ingest "$LOAD" --format vm --url "127.0.0.1:$PORT" --conns "$CONNS" --batch "$BATCH" \
  --series "$SERIES" --duration "$INGEST_SECONDS"
cpu1=$(cpu_ticks)
rss1=$(rss_kib)
anon1=$(rss_kib RssAnon)
echo "$ingest"
pts=$(json points <<<"$ingest")
cpu_us=$(python3 -c "print('%.2f' % (($cpu1 - $cpu0) / $HZ * 1e6 / max(1, $pts)))")
rss_series=$(python3 -c "print('%.0f' % ($rss1 * 1024 / $SERIES))")
anon_series=$(python3 -c "print('%.0f' % ($anon1 * 1024 / $SERIES))")
stop_vm

start_vm backfill
start=$(( $(date +%s) - 5 * 86400 ))
start=$(( start - start % 60 ))
capture fill "$LOAD" --format vm --url "127.0.0.1:$PORT" --conns "$CONNS" --batch "$BATCH" \
  --series "$BACKFILL_SERIES" --days "$BACKFILL_DAYS" --start-time "$start"
echo "$fill"
fill_pts=$(json points <<<"$fill")
curl -fsS "http://127.0.0.1:$PORT/internal/force_flush" >/dev/null || true
sleep 2
for m in $(seq 0 2); do # partitions are monthly: merge the ones the backfill touched
  p=$(date -u -d "@$(( start + m * 86400 ))" +%Y_%m)
  curl -fsS "http://127.0.0.1:$PORT/internal/force_merge?partition_prefix=$p" >/dev/null || true
done
sleep 3
data_bytes=$(du -sb "$TMP/backfill/data/data" | awk '{print $1}')
bpp=$(python3 -c "print('%.3f' % ($data_bytes / max(1, $fill_pts)))")
end=$(( start + 86400 ))
capture r1 "$READ" --format vm --url "127.0.0.1:$PORT" --hosts $(( BACKFILL_SERIES / 10 )) \
  --names 10 --range 86400 --end "$end" --requests "$READ_REQUESTS" --conns 1
echo "$r1"
capture rf "$READ" --format vm --url "127.0.0.1:$PORT" --hosts $(( BACKFILL_SERIES / 10 )) --names 10 --range 86400 \
  --end "$end" --fanout 100 --requests "$FANOUT_ROUNDS"
echo "$rf"
stop_vm

cat <<EOF

## VictoriaMetrics $vm_version (same machine, same load)

| measure | value |
|---|---|
| ingest, $CONNS conns x $BATCH-point batches, $SERIES series, ${INGEST_SECONDS} s | **$(json points_per_sec <<<"$ingest") points/s** (p50 $(json p50_ms <<<"$ingest") ms, p99 $(json p99_ms <<<"$ingest") ms) |
| server CPU per point | $cpu_us µs |
| RSS per series after ingest: VmRSS / series; RssAnon / series | $rss_series B; $anon_series B |
| bytes per point on disk (data dir after force_merge) | $bpp |
| read 1 series x 24 h (/api/v1/export): p50 / p99 | $(json p50_ms <<<"$r1") ms / $(json p99_ms <<<"$r1") ms ($(json points_per_request <<<"$r1") points) |
| 100 series x 24 h fanout: p50 / p99 | $(json p50_ms <<<"$rf") ms / $(json p99_ms <<<"$rf") ms |

Commands:
EOF
for c in "${COMMANDS[@]}"; do echo "    $c"; done
