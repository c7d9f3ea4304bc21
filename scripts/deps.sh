#!/usr/bin/env bash
# deps.sh: install the Debian 12 packages diamond needs to build, run and test, only those missing.
set -euo pipefail
pkgs=(build-essential cmake pkg-config libuv1-dev libyajl-dev liblmdb-dev libcmocka-dev
      libhttp-parser-dev libinih-dev liblz4-dev zlib1g-dev python3 curl
      libhiredis-dev libcurl4-openssl-dev libssl-dev)
# the test engines: redis-server (single and cluster), node for dynalite and s3rver
# (tests/package.json, npm ci), docker-compose to validate docker/docker-compose.yml
[ "${1:-}" = "--test" ] && pkgs+=(redis-server redis-tools docker-compose)
[ "${1:-}" = "--bench" ] && pkgs+=(wrk hyperfine libjansson-dev)
[ "${1:-}" = "--fuzz" ] && pkgs+=(clang libclang-rt-14-dev)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps: installing ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
