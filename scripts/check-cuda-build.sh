#!/usr/bin/env bash
# Builds pepr against the CUDA LibTorch inside PyPI's torch (the version the GPU machine has) with
# this machine's CUDA toolkit, warning-free, and runs the whole test suite on the CPU against it:
# everything of the GPU path that a machine without a GPU can prove (it compiles and links the
# CUDA parts, src/train/torch_cuda.cpp among them; a CUDA LibTorch computes on the CPU as any).
# A developer check, not part of CI (a first build takes about half an hour on 2 cores).
#
# Usage: scripts/check-cuda-build.sh [--no-test] [-- CTEST_ARGS...]
# Environment:
#   PEPR_CUDA_VENV     the virtual environment (default REPO/.cache/cuda-venv, ignored by git);
#                      made on first use with pip: torch==PEPR_TORCH_VERSION, timm==PEPR_TIMM_VERSION
#   PEPR_TORCH_VERSION default 2.11.0 (the GPU machine's torch 2.11 + CUDA 13.0; PyPI's wheel is
#                      +cu130), PEPR_TIMM_VERSION default 1.0.31
#   PEPR_CUDA_BUILD    the build folder (default REPO/build-cuda)
#   CUDACXX / nvcc on PATH / /usr/local/cuda/bin/nvcc: the toolkit LibTorch's CMake config wants
# Needs: the packages of scripts/deps.txt (scripts/setup.sh installs them), the CUDA toolkit
# (nvcc, cuDNN and cuBLAS headers), PyPI reachable the first time (about 5 GB in the venv).
# Prints a summary: versions, the build's time and warnings in our sources, the tests' counts.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${PEPR_CUDA_VENV:-$repo/.cache/cuda-venv}"
torch_version="${PEPR_TORCH_VERSION:-2.11.0}"
timm_version="${PEPR_TIMM_VERSION:-1.0.31}"
build="${PEPR_CUDA_BUILD:-$repo/build-cuda}"
run_tests=1
ctest_args=()
while (($#)); do
  case "$1" in
    --no-test) run_tests=0; shift ;;
    --) shift; ctest_args=("$@"); break ;;
    -h | --help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "check-cuda-build: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done
log() { echo "[check-cuda-build $(date +%H:%M:%S)] $*" >&2; }

nvcc="${CUDACXX:-$(command -v nvcc || true)}"
[ -n "$nvcc" ] || [ ! -x /usr/local/cuda/bin/nvcc ] || nvcc=/usr/local/cuda/bin/nvcc
if [ -z "$nvcc" ]; then
  echo "check-cuda-build: no nvcc (install the CUDA toolkit, or set CUDACXX)" >&2
  exit 1
fi

# 1. The venv, pinned (reused when it has those versions).
py="$venv/bin/python"
have=""
[ -x "$py" ] && have="$("$py" -c 'import torch, timm; print(torch.__version__.split("+")[0], timm.__version__)' 2>/dev/null || true)"
if [ "$have" != "$torch_version $timm_version" ]; then
  log "installing torch==$torch_version timm==$timm_version into $venv (several GB)"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --no-cache-dir "torch==$torch_version" "timm==$timm_version" safetensors
fi
versions="$("$py" -c 'import torch, timm; print(torch.__version__, "CUDA", torch.version.cuda, "cuDNN", torch.backends.cudnn.version(), "timm", timm.__version__)')"
log "venv: $versions"

# 2. Configure and build everything (tests and benchmarks too).
mkdir -p "$build"
t=$SECONDS
cmake -S "$repo" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DPEPR_TORCH_FROM_PYTHON=ON -DPython3_EXECUTABLE="$py" -DCMAKE_CUDA_COMPILER="$nvcc" \
  >"$build/configure.log" 2>&1 || { tail -40 "$build/configure.log"; exit 1; }
grep -E "^-- pepr: " "$build/configure.log" >&2
grep -q "CUDA ON" "$build/configure.log" || { log "CMake did not turn CUDA on"; exit 1; }
# Each LibTorch translation unit needs about 1.5 GB of compiler memory with LibTorch 2.x.
mem_kb=$(awk '/MemAvailable/ {print $2}' /proc/meminfo)
jobs=$((mem_kb / 1600000)); [ "$jobs" -ge 1 ] || jobs=1; [ "$jobs" -le "$(nproc)" ] || jobs=$(nproc)
status=0
cmake --build "$build" -j "$jobs" >"$build/build.log" 2>&1 || status=$?
build_s=$((SECONDS - t))
# Warnings in our own sources (LibTorch's headers come in as -isystem).
warnings=$(grep -E "^(\.\./)?(src|tests|bench|include|examples)/[^:]+:[0-9]+:[0-9]+: warning:" \
  "$build/build.log" | sort -u || true)
if [ "$status" -ne 0 ]; then
  grep -E "error|Error" "$build/build.log" | head -30
  log "build FAILED after $build_s s (log: $build/build.log)"
  exit 1
fi
log "built in $build_s s; $(printf '%s' "$warnings" | grep -c . || true) warnings in our sources"
# One LibTorch per process: every libtorch / libc10 the binary loads must be the venv's.
if foreign="$(ldd "$build/pepr" | grep -E 'lib(torch|c10)[a-z_]*\.so' | grep -v -F "$venv/")"; then
  echo "$foreign" >&2
  log "pepr loads LibTorch libraries from outside the venv (above): two LibTorches in one process"
  exit 1
fi

# 3. The whole suite on the CPU.
tests="not run"
if [ "$run_tests" = 1 ]; then
  t=$SECONDS
  ctest_status=0
  ctest --test-dir "$build" -j "$(nproc)" --output-on-failure "${ctest_args[@]}" \
    >"$build/ctest.log" 2>&1 || ctest_status=$?
  tests="$(grep -E "tests passed|tests failed" "$build/ctest.log" | tail -1) in $((SECONDS - t)) s"
  skipped=$(grep -c "Skipped" "$build/ctest.log" || true)
  tests="$tests; $skipped skipped"
  if [ "$ctest_status" -ne 0 ]; then
    sed -n '/The following tests FAILED/,$p' "$build/ctest.log"
  fi
  status=$ctest_status
fi

echo "check-cuda-build: $versions; $("$nvcc" --version | tail -1)"
echo "check-cuda-build: ldd: $(ldd "$build/pepr" | grep -oE 'lib(cudart|c10_cuda|torch_cuda)[^ ]*' | sort -u | tr '\n' ' ')"
echo "check-cuda-build: build $build_s s, warnings in our sources: $(printf '%s' "$warnings" | grep -c . || true)"
[ -z "$warnings" ] || printf '%s\n' "$warnings" | head -20
echo "check-cuda-build: tests: $tests"
exit "$status"
