#!/usr/bin/env bash
# deps.sh: install the Debian 12 packages diamond needs to build, run and test, only those missing.
#   scripts/deps.sh          build + run (make run, make build)
#   scripts/deps.sh --test   + the test engines (make test, make test-sanitize)
#   scripts/deps.sh --bench  + wrk, hyperfine, jansson
#   scripts/deps.sh --fuzz   + clang and libFuzzer
# Non-interactive (CI=true, no stdin): apt-get runs with -y and DEBIAN_FRONTEND=noninteractive.
set -euo pipefail
pkgs=(build-essential cmake pkg-config libuv1-dev libyajl-dev liblmdb-dev libcmocka-dev
      libhttp-parser-dev libinih-dev liblz4-dev zlib1g-dev python3 curl
      libhiredis-dev libcurl4-openssl-dev libssl-dev)
extra=()
case "${1:-}" in
  # the test engines: redis-server (single and cluster), dynalite and s3rver (tests/package.json,
  # installed by `npm ci` from the Makefile), docker-compose to validate
  # docker/docker-compose.yml offline, chromium (headless) for the graph page's test,
  # collectd-core for test_collectd (the real collectd pushing with write_http),
  # graphite-carbon + graphite-web under gunicorn: the reference of the differential /render
  # test (tests/integration/graphite_ref.py) and a peer of bench/graphite.sh.
  --test)  pkgs+=(redis-server redis-tools docker-compose chromium collectd-core
                  graphite-carbon graphite-web gunicorn) ;;
  --bench) pkgs+=(wrk hyperfine libjansson-dev victoria-metrics graphite-carbon graphite-web
                  gunicorn) ;;
  --fuzz)  pkgs+=(clang libclang-rt-14-dev) ;;
  "") ;;
  *) echo "deps: unknown option $1 (use --test, --bench or --fuzz)" >&2; exit 2 ;;
esac
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# node + npm, for every build: `npm ci` in web/ installs uPlot, embedded into diamondd (the
# graph page), and in tests/ the test engines. They are checked as commands, not packages: a
# machine may have them from elsewhere (e.g. a nodejs package that bundles npm, which Debian's
# npm would conflict with); Debian's own are installed only when a command is missing.
command -v node >/dev/null 2>&1 || extra+=(nodejs)
command -v npm >/dev/null 2>&1 || extra+=(npm)
missing+=("${extra[@]}")
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps: installing ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
