#!/usr/bin/env bash
# Builds pepr in a Debian 13 (trixie) chroot against Debian's LibTorch 2.6 (g++ 14, CMake 3.31)
# and runs its tests there: the check that the one source tree still builds, warning-free, and
# passes on the next Debian release. Runs on a Debian 12 machine as root; needs only Debian's
# package registry.
#
# Usage: scripts/check-debian13.sh [options] [-- CTEST_ARGS...]
#   --jobs N      build and test parallelism (default: min(2, nproc))
#   --peers       also install the test peers (python3-torch, python3-torchvision, chromium),
#                 so the TorchScript and browser tests run instead of skipping (about 1 GB more)
#   --clean       delete the build folder first (a full rebuild shows every warning again)
#   --no-test     build only
#   --shell       open a shell in the chroot (mounts set up) instead of building
#   CTEST_ARGS    passed to ctest, e.g. -- -R 'test_train|Forward' or -- -E Browser
# Environment: PEPR_DEB13_DIR (default REPO/.cache/debian13), PEPR_DEB13_MIRROR
# (default http://deb.debian.org/debian), PEPR_DEB13_NICE (default 15). PEPR_ONEDNN and
# ONEDNN_MAX_CPU_ISA, when set, are passed to the tests (README: Debian 13's oneDNN 3.7 misreads
# the caches of AMD virtual machines; pepr turns it off there unless PEPR_ONEDNN=on).
#
# Idempotent: the chroot (DIR/root), its packages, the build folder (DIR/root/pepr/build) and
# ccache's cache are kept and reused; a rerun rebuilds only what changed. Names of deps.txt that
# trixie lacks are remembered in DIR/absent-packages (delete it to look them up again). The
# source tree is bind-mounted read-only at /pepr/src, ../shared/data (when present) at
# /pepr/shared/data. Every mount is undone on exit, also on failure or Ctrl-C. Logs and the
# summary: DIR/logs/.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="${PEPR_DEB13_DIR:-$repo/.cache/debian13}"
mirror="${PEPR_DEB13_MIRROR:-http://deb.debian.org/debian}"
niceness="${PEPR_DEB13_NICE:-15}"
root="$dir/root"
logs="$dir/logs"

jobs=$(nproc); [ "$jobs" -le 2 ] || jobs=2
peers=0 clean=0 run_tests=1 shell=0
ctest_args=()
while (($#)); do
  case "$1" in
    --jobs) jobs="$2"; shift 2 ;;
    --jobs=*) jobs="${1#*=}"; shift ;;
    --peers) peers=1; shift ;;
    --clean) clean=1; shift ;;
    --no-test) run_tests=0; shift ;;
    --shell) shell=1; shift ;;
    --) shift; ctest_args=("$@"); break ;;
    -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "check-debian13: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done

if [ "$(id -u)" -ne 0 ]; then
  echo "check-debian13: needs root (debootstrap, chroot, mount); run it with sudo" >&2
  exit 2
fi

mkdir -p "$dir" "$logs"
# One run at a time per chroot: a second run waits rather than fighting over the mounts.
exec 9>"$dir/lock"
if ! flock -n 9; then
  echo "check-debian13: another run holds $dir/lock; waiting"
  flock 9
fi

declare -A took=()     # phase -> seconds (or "reused")
summary_lines=()
status=0
t_start=$SECONDS

say() { printf 'check-debian13: %s\n' "$*"; }
now() { echo "$SECONDS"; }

# ---- mounts ---------------------------------------------------------------------------------
mounted=()
mount_one() {  # mount_one TARGET MOUNT-ARGS...: mounts and remembers it for the cleanup
  local target="$1"; shift
  mkdir -p "$target"
  mount "$@" "$target"
  mounted+=("$target")
}
cleanup() {
  local rc=$? i
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
    umount -R "${mounted[i]}" 2>/dev/null || umount -l "${mounted[i]}" 2>/dev/null ||
      echo "check-debian13: could not unmount ${mounted[i]}" >&2
  done
  mounted=()
  return "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Mounts left by a run that was killed (SIGKILL, power loss): undo them before anything else.
unmount_stale() {
  local m
  while read -r m; do
    [ -n "$m" ] || continue
    say "unmounting a stale mount: $m"
    umount "$m" 2>/dev/null || umount -l "$m"
  done < <(findmnt -rn -o TARGET | grep -F "$root/" | sort -r || true)
}
unmount_stale

# ---- 1. the chroot --------------------------------------------------------------------------
if [ -f "$root/.pepr-bootstrapped" ]; then
  took[bootstrap]=reused
else
  if ! command -v debootstrap >/dev/null; then
    say "installing debootstrap on the host"
    apt-get -o DPkg::Lock::Timeout=900 install -y -qq debootstrap >/dev/null
  fi
  if [ -e "$root" ]; then
    say "removing an unfinished chroot at $root"
    rm -rf --one-file-system "$root"
  fi
  say "bootstrapping Debian 13 (trixie) into $root (about a minute)"
  t=$(now)
  debootstrap --variant=minbase trixie "$root" "$mirror" >"$logs/debootstrap.log" 2>&1 || {
    echo "check-debian13: debootstrap failed, see $logs/debootstrap.log" >&2; tail -20 "$logs/debootstrap.log" >&2
    exit 1
  }
  touch "$root/.pepr-bootstrapped"
  took[bootstrap]=$(( $(now) - t ))
fi

mount_one "$root/proc" -t proc proc
mount_one "$root/sys" -t sysfs -o ro sysfs
mount_one "$root/dev" --bind /dev
mount_one "$root/dev/pts" --bind /dev/pts
# Slurm 24.11's slurmd (the Slurm cluster tests) needs the cgroup file systems (v1: the
# controllers are submounts, hence --rbind).
if [ -d /sys/fs/cgroup ]; then mount_one "$root/sys/fs/cgroup" --rbind /sys/fs/cgroup; fi
mount_one "$root/pepr/src" --bind -o ro "$repo"
shared_host="$repo/../shared/data"
if [ -d "$shared_host" ]; then
  mount_one "$root/pepr/shared/data" --bind -o ro "$shared_host"
fi
cp -L /etc/resolv.conf "$root/etc/resolv.conf"

in_chroot() {  # runs a command in the chroot with a clean environment
  chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM="${TERM:-dumb}" \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    DEBIAN_FRONTEND=noninteractive CCACHE_DIR=/root/.cache/ccache \
    ${ONEDNN_MAX_CPU_ISA:+ONEDNN_MAX_CPU_ISA="$ONEDNN_MAX_CPU_ISA"} \
    ${PEPR_ONEDNN:+PEPR_ONEDNN="$PEPR_ONEDNN"} "$@"
}

# ---- 2. the build dependencies --------------------------------------------------------------
# scripts/deps.txt without the benchmark and browser peers (--peers adds those the tests use).
mapfile -t wanted < <(grep -v '^\s*#' "$repo/scripts/deps.txt" | sed 's/\s*#.*//; /^\s*$/d' |
  grep -v -x -E 'python3|python3-.*|chromium')
if ((peers)); then wanted+=(python3 python3-torch python3-torchvision chromium); fi

# Names of deps.txt that trixie does not have (llvm-14, ...), found by an earlier run: not
# looked up again, so a rerun with nothing to install does not refresh the package lists.
absent_file="$dir/absent-packages"
missing=()
for p in "${wanted[@]}"; do
  grep -qx -- "$p" "$absent_file" 2>/dev/null && continue
  in_chroot dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$p")
done
mapfile -t absent < <(cat "$absent_file" 2>/dev/null)
if ((${#missing[@]})); then
  say "installing ${#missing[@]} packages in the chroot: ${missing[*]}"
  t=$(now)
  in_chroot apt-get update -qq >"$logs/apt.log" 2>&1
  installable=()
  for p in "${missing[@]}"; do
    if in_chroot apt-cache show "$p" >/dev/null 2>&1; then installable+=("$p"); else absent+=("$p"); fi
  done
  in_chroot apt-get install -y -q --no-install-recommends "${installable[@]}" >>"$logs/apt.log" 2>&1 || {
    echo "check-debian13: apt-get install failed, see $logs/apt.log" >&2; tail -20 "$logs/apt.log" >&2
    exit 1
  }
  in_chroot apt-get clean
  printf '%s\n' "${absent[@]}" | sort -u | sed '/^$/d' >"$absent_file"
  took[packages]=$(( $(now) - t ))
else
  took[packages]=reused
fi
((${#absent[@]} == 0)) || say "not in trixie (skipped): ${absent[*]}"

gxx_version=$(in_chroot g++ -dumpfullversion)
cmake_version=$(in_chroot cmake --version | awk 'NR==1 {print $3}')
torch_version=$(in_chroot dpkg-query -W -f='${Version}' libtorch-dev)
case "$torch_version" in
  2.6*) ;;
  *) say "warning: expected libtorch-dev 2.6, found $torch_version" ;;
esac

if ((shell)); then
  say "a shell in the chroot (source: /pepr/src, build: /pepr/build); exit to unmount"
  in_chroot bash -l || true
  exit 0
fi

# ---- 3. build -------------------------------------------------------------------------------
# A build folder belongs to one source tree: ninja trusts mtimes, so objects built from another
# checkout (older by mtime, different by content) would be kept and linked. The folder records
# the tree it was built from and is rebuilt from clean when that changes.
tree_id="$repo"
stamp="$root/pepr/build/.pepr-source-tree"
if ((!clean)) && [ -d "$root/pepr/build" ] && [ "$(cat "$stamp" 2>/dev/null)" != "$tree_id" ]; then
  say "the build folder was built from another source tree ($(cat "$stamp" 2>/dev/null || echo unknown)): rebuilding from clean"
  clean=1
fi
if ((clean)); then rm -rf --one-file-system "$root/pepr/build"; fi
mkdir -p "$root/pepr/build"
echo "$tree_id" >"$stamp"
say "building with g++ $gxx_version, CMake $cmake_version, LibTorch $torch_version (-j$jobs, nice $niceness)"
t=$(now)
build_rc=0
in_chroot nice -n "$niceness" bash -c '
  set -eo pipefail
  cmake -S /pepr/src -B /pepr/build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DPEPR_SHARED_DATA_DIR=/pepr/shared/data 2>&1
  cmake --build /pepr/build -j "$1" -- -k 0 2>&1' _ "$jobs" >"$logs/build.log" || build_rc=$?
took[build]=$(( $(now) - t ))
# Compiler warnings of our own code (third-party headers are -isystem) and CMake's warnings.
cxx_warnings=$(grep -c -E '^/pepr/src/[^ ]*:[0-9]+:[0-9]+: warning:' "$logs/build.log" || true)
# Debian's TorchConfig.cmake asks for a static libkineto that Debian does not ship: its warning is
# harmless and not ours, so it is counted apart.
cmake_warnings=$(grep -c -E '^CMake Warning' "$logs/build.log" || true)
kineto_warnings=$(grep -c -E 'static library kineto_LIBRARY-NOTFOUND not found' "$logs/build.log" || true)
cmake_warnings=$((cmake_warnings - kineto_warnings))
if ((cmake_warnings)); then
  status=1
  say "$cmake_warnings CMake warnings:"
  grep -A4 -E '^CMake Warning' "$logs/build.log" | head -30 || true
fi
built_steps=$(grep -c -E '^\[[0-9]+/[0-9]+\]' "$logs/build.log" || true)
if ((build_rc)); then
  status=1
  say "build FAILED (exit $build_rc); the first errors:"
  grep -E '(error|Error):|^FAILED:|interrupted' "$logs/build.log" | head -20 || true
fi
if ((cxx_warnings)); then
  status=1
  say "$cxx_warnings compiler warnings in our sources:"
  grep -E '^/pepr/src/[^ ]*:[0-9]+:[0-9]+: warning:' "$logs/build.log" | sort -u | head -20
fi

# ---- 4. tests -------------------------------------------------------------------------------
test_result="not run"
if ((run_tests && !build_rc)); then
  say "running ctest -j$jobs ${ctest_args[*]:-} (the whole suite takes a while)"
  t=$(now)
  test_rc=0
  in_chroot nice -n "$niceness" ctest --test-dir /pepr/build --output-on-failure -j "$jobs" \
    "${ctest_args[@]}" >"$logs/ctest.log" 2>&1 || test_rc=$?
  took[tests]=$(( $(now) - t ))
  test_result=$(grep -E 'tests passed, [0-9]+ tests? failed out of' "$logs/ctest.log" | tail -1 || true)
  [ -n "$test_result" ] || test_result="ctest exited $test_rc (see the log)"
  skipped=$(grep -c -E '\*\*\*Skipped|Not Run' "$logs/ctest.log" || true)
  if ((test_rc)); then
    status=1
    failed=$(sed -n '/The following tests FAILED/,$p' "$logs/ctest.log" | grep -E '^\s+[0-9]+ - ' || true)
  fi
fi

# ---- summary --------------------------------------------------------------------------------
fmt_time() { case "$1" in reused|"") echo "${1:-skipped}" ;; *) printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)) ;; esac; }
tests_detail=""
[ -z "${took[tests]:-}" ] || tests_detail=", $(fmt_time "${took[tests]}"), ${skipped:-0} skipped"
summary_lines+=(
  "Debian 13 (trixie) check of $repo ($(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?'))"
  "  chroot      $root  (bootstrap: $(fmt_time "${took[bootstrap]}"))"
  "  packages    g++ $gxx_version, CMake $cmake_version, libtorch-dev $torch_version  (install: $(fmt_time "${took[packages]}"))"
  "  build       $( ((build_rc)) && echo FAILED || echo ok) in $(fmt_time "${took[build]}"), $built_steps steps run, $cxx_warnings compiler warnings, $cmake_warnings CMake warnings (+$kineto_warnings from Debian's TorchConfig: kineto)  ($logs/build.log)"
  "  tests       $test_result$tests_detail  ($logs/ctest.log)"
)
if [ -n "${failed:-}" ]; then
  summary_lines+=("  failed:")
  while read -r l; do summary_lines+=("    $l"); done <<<"$failed"
fi
summary_lines+=("  total       $(fmt_time $((SECONDS - t_start))) -> $( ((status)) && echo FAILED || echo PASSED)")
printf '%s\n' "${summary_lines[@]}" | tee "$logs/summary.txt"
exit "$status"
