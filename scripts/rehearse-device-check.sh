#!/usr/bin/env bash
# The device check's rehearsal (scripts/device-check.sh rehearse) in a minimal Debian 12 chroot:
# a machine that has, like the GPU machine, a compiler, CMake, ninja, Python with PyPI's CUDA
# torch and the CUDA toolkit, and none of the -dev packages pepr builds with (fmt, nlohmann-json,
# CLI11, Boost, toml++, zlib, libpng, libjpeg, OpenSSL, GoogleTest, expat, Debian's LibTorch). So
# the build can only find them in the dependency bundle (.device-deps/debs, unpacked by the
# check into its private prefix): a header or library missing from the bundle fails here as it
# would there, instead of being found quietly in this machine's /usr/include.
#
# Usage: scripts/rehearse-device-check.sh [--shell]
#   --shell   a shell in the chroot (mounts set up) instead of the rehearsal
# Environment: PEPR_REHEARSE_DIR (default REPO/.cache/device-chroot), PEPR_DEB12_MIRROR (default
# http://deb.debian.org/debian), PEPR_CUDA_VENV (default REPO/.cache/cuda-venv: scripts/
# check-cuda-build.sh makes it), CUDA_HOME (default /usr/local/cuda), PEPR_DC_BUDGET_S (default
# 7200: the 2-core development machine builds for about an hour), PEPR_REHEARSE_NICE (default 10).
# Needs root (debootstrap, chroot, mount), Debian's registry the first time, and
# `scripts/device-check.sh prepare` run before (the bundle).
#
# The chroot is kept and reused. Inside it the repository is bind-mounted at its own path (the
# venv's paths stay true; the check writes out/device-rehearsal/ and nothing else in it), the
# CUDA toolkit read-only at its own path. Its build folder and prefix are the check's defaults
# (/tmp/pepr-device-build, /tmp/pepr-device-deps) inside the chroot. Every mount is undone on
# exit. Prints the check's summary; exit code the check's.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="${PEPR_REHEARSE_DIR:-$repo/.cache/device-chroot}"
mirror="${PEPR_DEB12_MIRROR:-http://deb.debian.org/debian}"
venv="${PEPR_CUDA_VENV:-$repo/.cache/cuda-venv}"
cuda="$(realpath "${CUDA_HOME:-/usr/local/cuda}")"
budget="${PEPR_DC_BUDGET_S:-7200}"
niceness="${PEPR_REHEARSE_NICE:-10}"
root="$dir/root"
shell=0
case "${1:-}" in
  --shell) shell=1 ;;
  -h | --help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
  "") ;;
  *) echo "rehearse-device-check: unknown option '$1' (see --help)" >&2; exit 2 ;;
esac
say() { printf 'rehearse-device-check: %s\n' "$*" >&2; }
[ "$(id -u)" -eq 0 ] || { say "needs root (debootstrap, chroot, mount)"; exit 2; }
[ -x "$venv/bin/python" ] || { say "no venv at $venv: run scripts/check-cuda-build.sh first"; exit 2; }
[ -x "$cuda/bin/nvcc" ] || { say "no CUDA toolkit at $cuda (set CUDA_HOME)"; exit 2; }
ls "$repo"/.device-deps/debs/*.deb >/dev/null 2>&1 ||
  { say "no bundle in .device-deps/debs: run scripts/device-check.sh prepare first"; exit 2; }

mkdir -p "$dir"
exec 9>"$dir/lock"
flock -n 9 || { say "another run holds $dir/lock; waiting"; flock 9; }

# The venv's interpreter (its base installation is bind-mounted read-only at its own path).
py_base="$("$venv/bin/python" -c 'import sys; print(sys.base_prefix)')"
py_version="$("$venv/bin/python" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')"

mounted=()
mount_one() {  # mount_one TARGET MOUNT-ARGS...
  local target="$1"; shift
  mkdir -p "$target"
  mount "$@" "$target"
  mounted+=("$target")
}
cleanup() {
  local rc=$? i
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
    umount -R "${mounted[i]}" 2>/dev/null || umount -l "${mounted[i]}" 2>/dev/null ||
      say "could not unmount ${mounted[i]}"
  done
  return "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
# Mounts a killed run left behind.
while read -r m; do
  [ -n "$m" ] && { umount "$m" 2>/dev/null || umount -l "$m"; }
done < <(findmnt -rn -o TARGET | grep -F "$root/" | sort -r || true)

# 1. The chroot: Debian 12 minbase and only the tools the GPU machine has as well.
# (python3: the system Python that writes the summary; the runtime libraries are those a
# Python interpreter built from source loads, as the venv's base may be.)
tools=(g++ make cmake ninja-build python3 binutils file libssl3 libffi8 libbz2-1.0 liblzma5
  libsqlite3-0 libreadline8 libncursesw6 zlib1g libuuid1)
if [ ! -f "$root/.pepr-bootstrapped" ]; then
  command -v debootstrap >/dev/null ||
    apt-get -o DPkg::Lock::Timeout=900 install -y -qq debootstrap >/dev/null
  rm -rf --one-file-system "$root"
  say "bootstrapping Debian 12 (minbase) into $root"
  debootstrap --variant=minbase bookworm "$root" "$mirror" >"$dir/debootstrap.log" 2>&1 ||
    { tail -20 "$dir/debootstrap.log" >&2; exit 1; }
  touch "$root/.pepr-bootstrapped"
fi
in_chroot() {
  chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM="${TERM:-dumb}" \
    PATH="$cuda/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    DEBIAN_FRONTEND=noninteractive "$@"
}
mount_one "$root/proc" -t proc proc
mount_one "$root/dev" --bind /dev
if [ ! -f "$root/.pepr-tools" ]; then
  say "installing ${tools[*]} in the chroot"
  cp -L /etc/resolv.conf "$root/etc/resolv.conf"
  in_chroot apt-get update -qq >"$dir/apt.log" 2>&1
  in_chroot apt-get install -y -q --no-install-recommends "${tools[@]}" >>"$dir/apt.log" 2>&1 ||
    { tail -20 "$dir/apt.log" >&2; exit 1; }
  in_chroot apt-get clean
  touch "$root/.pepr-tools"
fi
# What must not be there: any -dev package of the bundle, or Debian's LibTorch.
leaked="$(in_chroot dpkg-query -W -f='${Package}\n' 2>/dev/null |
  grep -E '^(libfmt-dev|nlohmann-json3-dev|libcli11-dev|libboost.*-dev|libtomlplusplus-dev|zlib1g-dev|libpng-dev|libjpeg.*-dev|libssl-dev|libgtest-dev|libexpat1-dev|libtorch-dev)$' || true)"
[ -z "$leaked" ] || { say "the chroot has packages the GPU machine lacks: $leaked"; exit 1; }

mount_one "$root$repo" --bind "$repo"
mount_one "$root$cuda" --bind -o ro "$cuda"
case "$py_base" in
  /usr | /usr/local) ;;  # a system Python: the chroot has none of its packages (checked below)
  *) mount_one "$root$py_base" --bind -o ro "$py_base" ;;
esac
in_chroot "$venv/bin/python" -c 'import torch' ||
  { say "the venv's Python cannot import torch in the chroot (base $py_base)"; exit 1; }
[ "$cuda" = /usr/local/cuda ] || { mkdir -p "$root/usr/local"; ln -sfn "$cuda" "$root/usr/local/cuda"; }

if ((shell)); then
  say "a shell in the chroot (the repository at $repo); exit to unmount"
  in_chroot bash -l || true
  exit 0
fi

# 2. The rehearsal, exactly as scripts/device-check.sh runs on the GPU machine.
out="$repo/out/device-rehearsal"
say "rehearsing (budget $budget s, output $out; g++ $(in_chroot g++ -dumpfullversion)," \
  "cmake $(in_chroot cmake --version | awk 'NR==1 {print $3}'), python $py_version)"
rc=0
in_chroot nice -n "$niceness" env OUT="$out" PEPR_DC_BUDGET_S="$budget" \
  PEPR_DC_PYTHON="$venv/bin/python" bash "$repo/scripts/device-check.sh" rehearse || rc=$?
say "exit $rc; files: $(cd "$out" && ls | tr '\n' ' ')"
exit "$rc"
