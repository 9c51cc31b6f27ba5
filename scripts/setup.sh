#!/usr/bin/env bash
# Installs the Debian packages pepr needs (scripts/deps.txt) and builds it into build/.
# Usage: scripts/setup.sh            install missing packages, configure and build
#        PEPR_BUILD_DIR=dir scripts/setup.sh    build elsewhere
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${PEPR_BUILD_DIR:-$here/build}"

mapfile -t pkgs < <(grep -v '^\s*#' "$here/scripts/deps.txt" | sed '/^\s*$/d')
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${#missing[@]} Debian packages: ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq \
    "${missing[@]}" >/dev/null
fi

# Each LibTorch translation unit needs about 1.2 GB of compiler memory: bound the parallelism.
mem_kb=$(awk '/MemAvailable/ {print $2}' /proc/meminfo)
jobs_mem=$(( mem_kb / 1300000 )); [ "$jobs_mem" -ge 1 ] || jobs_mem=1
jobs=$(nproc); [ "$jobs" -le "$jobs_mem" ] || jobs=$jobs_mem

cmake -S "$here" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j "$jobs"
echo "setup: built $build/pepr"
