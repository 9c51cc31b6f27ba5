#!/usr/bin/env bash
# pepr on an NVIDIA GPU, built against the LibTorch inside the machine's Python torch.
#
#   bash scripts/device-check.sh prepare          # here, with Debian's registry: what the GPU
#                                                 # machine lacks goes into .device-deps/ (ignored)
#   bash scripts/device-check.sh                  # on the GPU machine, with no network
#   PEPR_DC_BUDGET_S=7200 bash scripts/device-check.sh rehearse
#                                                 # the same on a machine without a GPU (below)
#   bash scripts/device-check.sh unpack DIR       # only unpack .device-deps/debs into DIR
#
# The GPU machine needs: an NVIDIA driver, python3 with torch (CUDA) and timm, cmake, ninja, g++,
# coreutils' timeout and realpath, dpkg-deb or ar+tar. Everything else pepr builds with (fmt,
# nlohmann-json, CLI11, Boost.Math, toml++, zlib, libpng, libjpeg, OpenSSL, GoogleTest, expat)
# travels as Debian 12 packages in .device-deps/debs (each -dev with its runtime library),
# unpacked into a private prefix; downloads (libcurl) are left out of this build
# (PEPR_WITH_CURL=OFF). The timm reference files of the models checked travel too.
#
# The private prefix ($PEPR_DEVICE_PREFIX, default /tmp/pepr-device-deps) is emptied and unpacked
# afresh on every run (never reused; an existing folder is emptied only if this script made it),
# then made self-contained: /lib is merged into /usr/lib (as
# usrmerge does) and every absolute symbolic link in it (libz.so -> /lib/...) is rewritten to a
# relative one inside the prefix. CMake gets the prefix's own header and library of every find
# module (zlib, libpng, libjpeg, expat, OpenSSL) explicitly, and the prefix's multiarch headers
# (jconfig.h, openssl/configuration.h) through -isystem, so that a system's libjpeg-turbo8 or
# OpenSSL headers are never mixed with Debian's libraries. The binaries find the prefix's shared
# libraries through their build RPATH (CMake adds the folder of every library linked by path) and,
# belt and braces, LD_LIBRARY_PATH for the steps that run them (never for Python: the system's
# python links the system's expat and zlib, which may be newer than Debian 12's).
#
# Steps, in this order, each under `timeout` (its exit code recorded; 124: timed out):
#   preflight       10 s: nvcc, cuda.h / cublas_v2.h, cmake, g++, ninja, /dev/shm, free disk,
#                   python / torch / timm / pynvml, nvidia-smi (summary.json "preflight");
#   unpack          the private prefix (above);
#   configure, build   pepr, test_models and bench_meter_overhead (-DPEPR_BUILD_BENCH=ON), CUDA on;
#                   build_retry only where torch_cuda.cpp failed (then -DPEPR_CUDA_EXTRAS=OFF);
#   libs            `ldd pepr`: which libcudart / libtorch_cuda / libc10_cuda and which of the
#                   prefix's libraries the binary loads (without LD_LIBRARY_PATH);
#   equivalence     the timm equivalence test on CUDA for 10 native models (fp32, TF32 off;
#                   tolerance max|pepr - timm| <= 1e-3 * max(1, max|timm|), as on CPU);
#   meters          `pepr meters` (a real NVML reading);
#   synth, train, train_fp16   a synthetic dataset, then `pepr train --device cuda`: resnet18 bf16
#                   deterministic, and mobilenetv2_050 fp16 with host batches;
#   meter_overhead  the meter's sampling cost with the real NVML (bench_meter_overhead, 2 s a case);
#   bench           bench/train_vs_timm_gpu.py: 2 epochs of resnet18, mobilenetv2_050 and
#                   mobilevitv2_050 at 28 and 224 px (28 px only when too little of the budget is
#                   left; PEPR_DC_SIZES overrides), pepr and timm + DataLoader alternating on the
#                   same GPU, same precision (PEPR_DC_PRECISION, default fp32).
# Time: the whole run keeps within PEPR_DC_BUDGET_S seconds (default 540, under the GPU machine's
# 600 s per command). Each step's limit is its share of that budget (scaled from the limits tuned
# for 540 s) and never more than what is left once the later steps' minimum times and 10 s for the
# summary are kept back; a step with no time left is recorded as not run. A trap on EXIT, TERM and
# INT writes summary.json (always parseable JSON) with every step's exit code, also when the run
# is killed or a step fails.
#
# Output: $OUT (or out/device-check) gets exactly these 8 files (the GPU machine hands back at
# most 8): summary.json (also printed), build.log, equivalence.log, train.json (bf16,
# deterministic), train-fp16.json (fp16, host batches), bench.json, bench.log and misc.log
# (nvidia-smi, preflight, unpacking, ldd, pepr meters, train logs, bench_meter_overhead). The
# files of these names are removed at the start; a final guard folds any other file under $OUT
# into misc.log (and removes it) when there are more than 8, and cuts a file over 15 MB.
#
# rehearse: on a machine without a GPU, the same steps with the same configure flags, in a clean
# new prefix, with PEPR_DC_BUDGET_S honoured (the 2-core development machine needs hours for the
# build: give it a large budget). The equivalence test runs on CPU (PEPR_TEST_DEVICE=cpu) and the
# bf16 training with --device cpu; train_fp16 and bench need a GPU and are recorded as
# "skipped: no GPU" (exit null, not a failure). PEPR_DC_PYTHON picks the Python with torch
# (default python3); PEPR_DEVICE_BUILD the build folder (default /tmp/pepr-device-build).
#
# Exit 0 when every step passed (skipped-for-no-GPU steps count as passed), 1 otherwise, 143 / 130
# when killed by TERM / INT. summary.json: {"mode", "ok", "exit": {step: code or null},
# "steps": {step: {exit, seconds, limit_s, note}}, "seconds", "budget_s", "preflight": {...},
# "python": {torch, cuda, cudnn, timm, gpu, ...}, "pepr_libs": {cuda: [ldd lines], deps: [..],
# not_found: [..]}, "folded_into_misc" (files the 8-file guard folded, if any),
# "equivalence": [{model, device, max_diff, tolerance}], "train", "train-fp16": {environment,
# data, config, totals, epochs, meter}, "bench_config", "bench": [{model, size, ratio, pepr: [..],
# python: [..]}], "out_files"} with, per benchmark run, images_per_s, epoch_train_s,
# gpu_reserved_gb, gpu_allocated_gb, gpu_energy_j (NVML's counter read by the driver around the
# whole process, the same for both), memory_format, test_acc.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
self="$here/scripts/device-check.sh"
deps="$here/.device-deps"
EQUIV_MODELS=(resnet18 mobilenetv2_050 efficientnet_b0 ghostnet_100 convnext_atto densenet121
  dla34 mobilevitv2_050 pvt_v2_b0 maxvit_nano_rw_256)
# Each -dev with the runtime library its .so symlink points to (zlib1g: libz.so -> libz.so.1.2.13).
DEBS=(libfmt-dev libfmt9 nlohmann-json3-dev libcli11-dev libboost1.74-dev libtomlplusplus-dev
  libtomlplusplus3 zlib1g-dev zlib1g libpng-dev libpng16-16 libjpeg62-turbo-dev libjpeg62-turbo
  libssl-dev libssl3 libgtest-dev libgmock-dev libexpat1-dev libexpat1)
# What comes back from the GPU machine: at most 8 files.
OUT_FILES=(summary.json build.log equivalence.log train.json train-fp16.json bench.json bench.log
  misc.log)
MAX_OUT_FILES=8
PREFIX_MARK=".pepr-device-prefix"

log() { echo "[device-check $(date +%H:%M:%S)] $*" >&2; }

# unpack_prefix DIR: .device-deps/debs unpacked into DIR, emptied first (only a DIR this script
# made, or a new one), made self-contained (no absolute links, /lib merged into /usr/lib).
unpack_prefix() {
  local p=$1 d link t bad=0 n=0
  if [ ! -d "$deps/debs" ] || ! compgen -G "$deps/debs/*.deb" >/dev/null; then
    log "no $deps/debs/*.deb: run 'bash scripts/device-check.sh prepare' where Debian's registry is reachable"
    return 1
  fi
  if [ -e "$p" ]; then
    if [ ! -f "$p/$PREFIX_MARK" ]; then
      log "$p exists but was not made by this script: not emptying it (set PEPR_DEVICE_PREFIX)"
      return 1
    fi
    rm -rf "${p:?}"
  fi
  mkdir -p "$p" && touch "$p/$PREFIX_MARK" || return 1
  p="$(cd "$p" && pwd)"
  for d in "$deps"/debs/*.deb; do
    if command -v dpkg-deb >/dev/null; then
      dpkg-deb -x "$d" "$p" || return 1
    else
      (t=$(mktemp -d) && cd "$t" && ar x "$d" && tar -xf data.tar.* -C "$p"; r=$?; rm -rf "$t"
       exit $r) || return 1
    fi
    n=$((n + 1))
  done
  # Debian 12's zlib1g and libexpat1 put their libraries in /lib: merge it (and bin, sbin) into
  # /usr, so that the folder the binaries' RPATH names holds libz.so.1 and libexpat.so.1 too.
  for d in bin sbin lib lib64; do
    if [ -d "$p/$d" ] && [ ! -L "$p/$d" ]; then
      mkdir -p "$p/usr/$d" && cp -a "$p/$d/." "$p/usr/$d/" && rm -rf "${p:?}/$d" &&
        ln -s "usr/$d" "$p/$d" || return 1
    fi
  done
  # Absolute links (libz.so -> /lib/x86_64-linux-gnu/libz.so.1.2.13) dangle, or worse point at
  # the system's files, on another machine: point them inside the prefix, relatively.
  while IFS= read -r -d '' link; do
    t=$(readlink "$link")
    case $t in /lib/* | /lib64/* | /bin/* | /sbin/*) t="/usr$t" ;; esac
    ln -sfn "$(realpath -s -m --relative-to="$(dirname "$link")" "$p$t")" "$link" || return 1
  done < <(find "$p" -type l -lname '/*' -print0)
  while IFS= read -r -d '' link; do
    log "dangling link in the prefix: ${link#"$p"/} -> $(readlink "$link")"
    case ${link#"$p"/} in usr/lib/* | usr/include/*) bad=1 ;; esac
  done < <(find "$p" -xtype l -print0)
  if [ -n "$(find "$p" -type l -lname '/*' -print -quit)" ]; then
    log "absolute links left in $p"
    bad=1
  fi
  log "unpacked $n packages into $p"
  return $bad
}

mode=gpu
case "${1:-}" in
  prepare)
    shared="${PEPR_SHARED_DATA:-$here/../shared/data}"
    rm -rf "$deps" && mkdir -p "$deps/debs" "$deps/shared/timm-reference"
    (cd "$deps/debs" && apt-get download "${DEBS[@]}") || { log "apt-get download failed"; exit 1; }
    cp "$shared/timm-reference/README.md" "$deps/shared/timm-reference/" || exit 1
    for m in "${EQUIV_MODELS[@]}"; do
      cp "$shared/timm-reference/$m.json" "$deps/shared/timm-reference/" || exit 1
    done
    du -sh "$deps"
    log "prepared $deps: carry it to the GPU machine with the working tree"
    exit 0
    ;;
  unpack)
    [ -n "${2:-}" ] || { echo "usage: $0 unpack DIR" >&2; exit 2; }
    unpack_prefix "$2"
    exit $?
    ;;
  rehearse) mode=rehearse ;;
  "" | gpu) mode=gpu ;;
  *)
    echo "usage: $0 [prepare | rehearse | unpack DIR]   (no argument: the check on a GPU machine)" >&2
    exit 2
    ;;
esac

# --- the check (gpu or rehearse) ----------------------------------------------------------------
t0=$(date +%s)
budget="${PEPR_DC_BUDGET_S:-540}"
case $budget in '' | *[!0-9]*) log "PEPR_DC_BUDGET_S must be a number of seconds"; exit 2 ;; esac
deadline=$((t0 + budget))
OUT="${OUT:-$here/out/device-check}"
mkdir -p "$OUT" || exit 1
OUT="$(cd "$OUT" && pwd)"
build="${PEPR_DEVICE_BUILD:-/tmp/pepr-device-build}"
prefix="${PEPR_DEVICE_PREFIX:-/tmp/pepr-device-deps}"
SYS_PY="$(command -v python3 || true)"            # writes the summary
PY="${PEPR_DC_PYTHON:-$(command -v python3 || echo python3)}"  # the Python with torch
lib="$prefix/usr/lib/x86_64-linux-gnu"
inc="$prefix/usr/include"
misc="$OUT/misc.log"
work="$(mktemp -d "${TMPDIR:-/tmp}/pepr-dc.XXXXXX")" || exit 1
steps="$work/steps.tsv"
: >"$steps"
# Results of an earlier run must not be read as this run's.
for f in "${OUT_FILES[@]}" python.json meter-overhead.log; do rm -f "${OUT:?}/$f"; done
: >"$misc"

plan=(preflight unpack configure build libs equivalence meters synth train train_fp16
  meter_overhead bench)
# Steps that need a GPU: skipped (exit null) when rehearsing.
declare -A no_gpu_skip=()
[ "$mode" = rehearse ] && no_gpu_skip=([train_fp16]=1 [bench]=1)
# Each step's limit at a 540 s budget (scaled with the budget; "-": whatever is left), and the
# least time a later step needs (kept back from the steps before it).
declare -A CAP=([preflight]=10 [unpack]=60 [configure]=150 [build]=- [libs]=10 [equivalence]=90
  [meters]=15 [synth]=20 [train]=60 [train_fp16]=60 [meter_overhead]=60 [bench]=-)
declare -A MIN=([libs]=2 [equivalence]=40 [meters]=5 [synth]=5 [train]=20 [train_fp16]=20
  [meter_overhead]=25 [bench]=50)
SUMMARY_RESERVE=10
scaled() { echo $(($1 * budget / 540)); }
# reserve_after STEP: seconds kept back for the planned steps after STEP and the summary.
reserve_after() {
  local after=0 sum=$SUMMARY_RESERVE x
  for x in "${plan[@]}"; do
    if [ $after = 1 ] && [ -z "${no_gpu_skip[$x]:-}" ]; then
      sum=$((sum + $(scaled "${MIN[$x]:-0}")))
    fi
    [ "$x" = "$1" ] && after=1
  done
  echo "$sum"
}
# step_limit STEP: its timeout now (may be < 1: no time left).
step_limit() {
  local base=${1%_retry} cap left
  cap=${CAP[$base]:--}
  left=$((deadline - $(date +%s) - $(reserve_after "$base")))
  if [ "$base" = preflight ]; then cap=10; elif [ "$cap" != - ]; then cap=$(scaled "$cap"); fi
  if [ "$cap" = - ] || [ "$left" -lt "$cap" ]; then echo "$left"; else echo "$cap"; fi
}
record() {  # record STEP CODE|null SECONDS LIMIT NOTE  (one line of steps.tsv)
  printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "${5//[$'\t\n']/ }" >>"$steps"
}
# not_run STEP WHY: recorded with exit null ("skipped: no GPU" when rehearsing a GPU step).
not_run() {
  if [ -n "${no_gpu_skip[$1]:-}" ]; then
    record "$1" null 0 "" "skipped: no GPU"
    log "$1: skipped: no GPU"
  else
    record "$1" null 0 "" "$2"
    log "$1: $2"
  fi
}
section() { echo "== $* ($(date +%H:%M:%S))" >>"$misc"; }

blocked=""    # set once a failure makes every later step pointless
step_pid=""   # the running step's timeout process (its own process group)
current=""
step_t0=0
step_lim=""
interrupted=""
# run_step STEP STDOUT STDERR CMD...: CMD under timeout with the step's limit; appends to the logs.
run_step() {
  local name=$1 out=$2 err=$3 limit r secs note=""
  shift 3
  if [ -n "${no_gpu_skip[$name]:-}" ]; then not_run "$name" ""; return 125; fi
  if [ -n "$blocked" ]; then not_run "$name" "not run: $blocked"; return 125; fi
  limit=$(step_limit "$name")
  if [ "$limit" -lt 2 ]; then
    not_run "$name" "not run: no time left in the budget (PEPR_DC_BUDGET_S=$budget)"
    return 125
  fi
  current=$name
  step_lim=$limit
  step_t0=$(date +%s)
  # In the background and waited for, so that a TERM to this script is handled at once (bash
  # runs traps only between foreground commands). timeout puts itself and CMD in a process group
  # of their own and signals that whole group (DataLoader workers too) when the limit is reached.
  if [ "$out" = "$err" ]; then
    timeout -k 5 "$limit" "$@" >>"$out" 2>&1 &
  else
    timeout -k 5 "$limit" "$@" >>"$out" 2>>"$err" &
  fi
  step_pid=$!
  wait "$step_pid"
  r=$?
  step_pid=""
  current=""
  secs=$(($(date +%s) - step_t0))
  # 124: timed out (TERM); 137 after the limit: timed out and killed by -k's KILL.
  if [ "$r" -eq 124 ] || { [ "$r" -eq 137 ] && [ "$secs" -ge "$limit" ]; }; then
    note="timed out after $limit s"
  fi
  record "$name" "$r" "$secs" "$limit" "$note"
  log "$name: exit $r in $secs s (limit $limit s)${note:+: $note}"
  return "$r"
}

# shellcheck disable=SC2317  # (trap handlers: shellcheck sees no call)
on_signal() {  # on_signal NAME CODE: stop the running step, then exit (the EXIT trap summarises)
  interrupted=$1
  trap '' TERM INT
  if [ -n "$step_pid" ]; then
    kill -TERM -- "-$step_pid" "$step_pid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$step_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$step_pid" "$step_pid" 2>/dev/null
    record "$current" "$2" $(($(date +%s) - step_t0)) "$step_lim" "interrupted: SIG$1 to device-check.sh"
  fi
  log "SIG$1: stopping"
  exit "$2"
}

# guard_out_files: at most 8 files come back from $OUT. Any file but the 8 named (counting
# summary.json, written next) is folded into misc.log and removed when there are more than 8;
# a file over 15 MB (the limit is 16 MiB a file) keeps its last 15 MB.
# shellcheck disable=SC2317
guard_out_files() {
  local f rel n keep x
  n=$(find "$OUT" -type f | wc -l)
  [ -f "$OUT/summary.json" ] || n=$((n + 1))
  if [ "$n" -gt "$MAX_OUT_FILES" ]; then
    while IFS= read -r -d '' f; do
      rel=${f#"$OUT"/}
      keep=0
      for x in "${OUT_FILES[@]}"; do [ "$rel" = "$x" ] && keep=1; done
      [ "$keep" = 1 ] && continue
      section "extra file $rel ($(stat -c %s "$f") bytes), folded here by the 8-file guard"
      if grep -Iq . "$f" 2>/dev/null; then head -c 2000000 "$f" >>"$misc"; echo >>"$misc"; fi
      rm -f "$f"
      echo "$rel" >>"$work/folded"
    done < <(find "$OUT" -type f -print0)
    find "$OUT" -mindepth 1 -type d -empty -delete 2>/dev/null
    find "$OUT" -mindepth 1 ! -type f ! -type d -delete 2>/dev/null  # links and the like
  fi
  for x in "${OUT_FILES[@]}"; do
    f="$OUT/$x"
    if [ -f "$f" ] && [ "$(stat -c %s "$f")" -gt 15000000 ]; then
      { echo "[device-check: the first $(($(stat -c %s "$f") - 15000000)) bytes were cut]"
        tail -c 15000000 "$f"; } >"$work/cut" && mv "$work/cut" "$f"
    fi
  done
}

# shellcheck disable=SC2317
finish() {
  local rc=$? s
  trap '' TERM INT
  trap - EXIT
  guard_out_files
  timeout -k 5 30 "${SYS_PY:-python3}" "$work/summary.py" "$OUT" "$work" "$mode" "$budget" \
    "$(($(date +%s) - t0))" "$interrupted" "$(IFS=,; echo "${plan[*]}")"
  s=$?
  if [ "$s" -ne 0 ] && [ "$s" -ne 10 ]; then
    # No Python, or the writer failed: a minimal summary from the steps' table, still JSON.
    log "the summary writer failed (exit $s): writing the minimal summary"
    {
      printf '{"mode": "%s", "ok": false, "error": "summary writer failed, exit %s", "exit": {' "$mode" "$s"
      local sep="" name code rest
      while IFS=$'\t' read -r name code rest; do
        case $code in null | [0-9]*) ;; *) code=null ;; esac
        printf '%s"%s": %s' "$sep" "$name" "$code"
        sep=", "
      done <"$steps"
      printf '}}\n'
    } >"$OUT/summary.json"
    cat "$OUT/summary.json"
    s=10
  fi
  rm -rf "$work"
  if [ -n "$interrupted" ]; then exit "$rc"; fi
  [ "$s" -eq 0 ] && exit 0
  exit 1
}

cat >"$work/preflight.py" <<'EOF'
# preflight OUT_JSON BUILD_DIR PYTHON NVCC: what the machine is, within 10 s (prints for misc.log).
import glob, json, os, shutil, subprocess, sys, time
t0 = time.monotonic()
out, build, py, nvcc = sys.argv[1:5]
TORCH = r'''
import glob, json, os, sys
r = {"executable": sys.executable, "version": sys.version.split()[0]}
try:
    import torch
    r.update(torch=torch.__version__, cuda=torch.version.cuda,
             cudnn=torch.backends.cudnn.version(), cuda_available=torch.cuda.is_available(),
             cmake_prefix_path=torch.utils.cmake_prefix_path)
    r["gpu"] = torch.cuda.get_device_name(0) if r["cuda_available"] else None
except Exception as e:
    r["torch_error"] = repr(e)
try:
    import timm
    r["timm"] = timm.__version__
except Exception as e:
    r["timm"] = "missing: %r" % e
try:
    import pynvml
    r["pynvml"] = True
except Exception as e:
    r["pynvml"] = "missing: %r" % e
try:
    import nvidia
    r["pip_nvidia_headers"] = {h: sorted(glob.glob(os.path.join(d, "*", "include", h)))
                               for d in nvidia.__path__ for h in ("cuda.h", "cublas_v2.h")}
except Exception:
    pass
print(json.dumps(r))
'''
p = {}
try:  # the slow part (import torch) in parallel with the rest
    proc = subprocess.Popen([py, "-c", TORCH], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
except OSError as e:
    proc, p["python"] = None, {"error": repr(e)}

def left(cap):  # every wait ends within 9 s of the start (the step's limit is 10 s)
    return max(0.1, min(cap, 9.0 - (time.monotonic() - t0)))

def first_line(cmd, pick=None):
    path = shutil.which(cmd[0]) or (cmd[0] if os.path.isfile(cmd[0]) else None)
    if not path:
        return {"path": None}
    try:
        r = subprocess.run([path] + cmd[1:], capture_output=True, text=True, timeout=left(2))
        lines = [l for l in (r.stdout + r.stderr).splitlines() if l.strip()]
        if pick:
            lines = [l for l in lines if pick in l] or lines
        return {"path": path, "version": lines[0].strip() if lines else None, "rc": r.returncode}
    except Exception as e:
        return {"path": path, "error": repr(e)}

nvcc = nvcc or shutil.which("nvcc") or ("/usr/local/cuda/bin/nvcc"
                                        if os.path.exists("/usr/local/cuda/bin/nvcc") else "")
p["nvcc"] = first_line([nvcc, "--version"], "release") if nvcc else {"path": None}
dirs = []
if nvcc:
    real = os.path.realpath(nvcc)
    for b in (os.path.dirname(os.path.dirname(real)), os.path.dirname(os.path.dirname(nvcc))):
        dirs += [os.path.join(b, "include"), os.path.join(b, "targets", "x86_64-linux", "include")]
for env in ("CUDA_HOME", "CUDA_PATH"):
    if os.environ.get(env):
        dirs.append(os.path.join(os.environ[env], "include"))
dirs += ["/usr/local/cuda/include", "/usr/local/cuda/targets/x86_64-linux/include"]
seen, hdr = set(), []
for d in dirs:
    if d in seen or not os.path.isdir(d):
        continue
    seen.add(d)
    hdr.append({"dir": d, "cuda.h": os.path.isfile(os.path.join(d, "cuda.h")),
                "cublas_v2.h": os.path.isfile(os.path.join(d, "cublas_v2.h"))})
p["cuda_headers"] = {"dirs": hdr, "cuda.h": any(h["cuda.h"] for h in hdr),
                     "cublas_v2.h": any(h["cublas_v2.h"] for h in hdr)}
p["cmake"] = first_line(["cmake", "--version"])
p["gxx"] = first_line(["g++", "--version"])
p["ninja"] = first_line(["ninja", "--version"])

def space(path):
    while path and not os.path.exists(path):
        path = os.path.dirname(path)
    st = os.statvfs(path or "/")
    return {"path": path, "total_gb": round(st.f_blocks * st.f_frsize / 1e9, 2),
            "free_gb": round(st.f_bavail * st.f_frsize / 1e9, 2)}

for key, path in (("dev_shm", "/dev/shm"), ("build_disk", build)):
    try:
        p[key] = space(path)
    except OSError as e:
        p[key] = {"error": repr(e)}
try:
    p["os"] = dict(l.rstrip().split("=", 1) for l in open("/etc/os-release")
                   if "=" in l)["PRETTY_NAME"].strip('"')
except Exception:
    p["os"] = None
p["cpus"] = os.cpu_count()
p["system_headers"] = {h: os.path.exists(h) for h in
                       ("/usr/include/jpeglib.h", "/usr/include/x86_64-linux-gnu/jconfig.h",
                        "/usr/include/openssl/ssl.h", "/usr/include/zlib.h")}
smi = shutil.which("nvidia-smi")
p["nvidia_smi"] = {"path": smi}
if smi:
    try:
        r = subprocess.run([smi, "--query-gpu=name,driver_version,memory.total,power.limit",
                            "--format=csv"], capture_output=True, text=True, timeout=left(3))
        print(r.stdout + r.stderr)
        p["nvidia_smi"]["query"] = r.stdout.strip().splitlines()[1:]
        p["nvidia_smi"]["rc"] = r.returncode
    except Exception as e:
        p["nvidia_smi"]["error"] = repr(e)
if proc is not None:
    try:
        o, e = proc.communicate(timeout=left(9))
        p["python"] = json.loads(o.strip().splitlines()[-1]) if o.strip() else {}
        p["python"]["rc"] = proc.returncode
        if e.strip():
            print("python (torch) stderr:\n" + e[-3000:])
    except subprocess.TimeoutExpired:
        proc.kill()
        p["python"] = {"executable": py, "error": "import torch / timm did not end within 9 s"}
    except Exception as e:
        p["python"] = {"executable": py, "error": repr(e)}
p["seconds"] = round(time.monotonic() - t0, 2)
with open(out, "w") as f:
    json.dump(p, f, indent=1)
print(json.dumps(p, indent=1))
EOF

cat >"$work/summary.py" <<'EOF'
# summary OUT WORK MODE BUDGET SECONDS INTERRUPTED PLAN: summary.json (and stdout); exit 0 when
# every step passed, 10 when not. Every part is read defensively: the summary must always come.
import json, os, re, sys
out, work, mode, budget, seconds, interrupted, plan = sys.argv[1:8]
plan = [p for p in plan.split(",") if p]
steps, order = {}, []
try:
    for line in open(os.path.join(work, "steps.tsv")):
        f = line.rstrip("\n").split("\t")
        if len(f) < 5:
            continue
        name, code, secs, limit, note = f[:5]
        steps[name] = {"exit": None if code == "null" else int(code),
                       "seconds": int(secs) if secs.isdigit() else None,
                       "limit_s": int(limit) if limit.lstrip("-").isdigit() else None,
                       "note": note or None}
        if name not in order:
            order.append(name)
except (OSError, ValueError) as e:
    steps["_steps_table"] = {"exit": None, "note": "unreadable: %r" % e}
for name in plan:
    steps.setdefault(name, {"exit": None, "seconds": None, "limit_s": None,
                            "note": "not reached" + (" (SIG%s)" % interrupted if interrupted else "")})
names = order + [n for n in plan if n not in order]  # as run (build_retry after build)

def passed(n):
    st = steps[n]
    if st["exit"] == 0:
        return True
    if st["exit"] is None and (st["note"] or "").startswith("skipped: no GPU"):
        return True
    # A failed first build that the build without the CUDA extras replaced.
    return n == "build" and steps.get("build_retry", {}).get("exit") == 0

ok = not interrupted and all(passed(n) for n in names)
s = {"mode": mode, "ok": ok, "exit": {n: steps[n]["exit"] for n in names},
     "steps": {n: steps[n] for n in names}, "seconds": int(seconds), "budget_s": int(budget)}
if interrupted:
    s["interrupted"] = "SIG" + interrupted

def part(key, fn):
    try:
        v = fn()
        if v is not None:
            s[key] = v
    except Exception as e:
        s[key] = {"error": repr(e)}

def load(path):
    with open(path) as f:
        return json.load(f)

def preflight():
    p = load(os.path.join(work, "preflight.json"))
    s["python"] = p.get("python")
    return p
part("preflight", preflight)

def libs():
    lines = [l.strip() for l in open(os.path.join(work, "ldd.txt"))]
    return {"cuda": [l for l in lines if re.search(r"cudart|libtorch_cuda|libc10_cuda|cudnn|cublas", l)],
            "deps": [l for l in lines if re.search(
                r"lib(z|png16|jpeg|ssl|crypto|fmt|tomlplusplus|expat)\.so", l)],
            "not_found": [l for l in lines if "not found" in l]}
part("pepr_libs", libs)

def equivalence():
    eq = []
    for line in open(os.path.join(out, "equivalence.log"), errors="replace"):
        m = re.match(r"\[ equiv \] (\S+) on (\S+): max\|pepr - timm\| = (\S+), tolerance (\S+)", line)
        if m:
            eq.append({"model": m[1], "device": m[2], "max_diff": float(m[3]),
                       "tolerance": float(m[4])})
    return eq
if os.path.exists(os.path.join(out, "equivalence.log")):
    part("equivalence", equivalence)

def train(name):
    t = load(os.path.join(out, name + ".json"))
    return {"status": t.get("status"), "error": t.get("error"),
            "environment": t.get("environment"), "data": t.get("data"),
            "config": t.get("config"), "totals": t.get("totals"),
            "epochs": [{k: e.get(k) for k in ("train_loss", "test_acc", "time_s",
                        "train_images_per_s", "energy_kwh", "gpu_mem_reserved_peak_gb",
                        "loss_scale")} for e in t.get("epochs", [])],
            "meter": (t.get("meter") or {}).get("sensors")}
for name in ("train", "train-fp16"):
    if os.path.exists(os.path.join(out, name + ".json")):
        part(name, lambda name=name: train(name))

def bench():
    b = load(os.path.join(out, "bench.json"))
    s["bench_config"] = {k: v for k, v in b.items() if k != "runs"}
    return [{"model": r.get("model"), "size": r.get("size"), "ratio": r.get("ratio"),
             "pepr": [{k: v for k, v in x.items() if k != "environment"} for x in r.get("pepr", [])],
             "python": r.get("python")} for r in b.get("runs", [])]
if os.path.exists(os.path.join(out, "bench.json")):
    part("bench", bench)

s["out_files"] = sorted(os.path.relpath(os.path.join(d, f), out)
                        for d, _, fs in os.walk(out) for f in fs) + (
    [] if os.path.exists(os.path.join(out, "summary.json")) else ["summary.json"])
try:
    s["folded_into_misc"] = [l.strip() for l in open(os.path.join(work, "folded"))]
except OSError:
    pass
text = json.dumps(s, indent=1)
with open(os.path.join(out, "summary.json"), "w") as f:
    f.write(text + "\n")
print(text)
# The device tool hands back only the output's tail: the verdict once more, short, at the end.
print("device-check: ok=%s exit=%s" % (ok, json.dumps(s["exit"])), file=sys.stderr)
sys.exit(0 if ok else 10)
EOF

trap 'on_signal TERM 143' TERM
trap 'on_signal INT 130' INT
trap finish EXIT
log "mode $mode, budget $budget s, output $OUT"

# 0. What the machine is (summary.json "preflight"; nvidia-smi's table in misc.log).
nvcc="$(command -v nvcc || ls /usr/local/cuda/bin/nvcc 2>/dev/null || true)"
section preflight
run_step preflight "$misc" "$misc" "${SYS_PY:-python3}" "$work/preflight.py" "$work/preflight.json" \
  "$build" "$PY" "$nvcc"

# 1. The private prefix of Debian packages, new and clean (the script unpacking itself, so that
# the step runs under timeout), then the build.
section "unpack into $prefix"
if ! run_step unpack "$misc" "$misc" bash "$self" unpack "$prefix"; then
  blocked="the private prefix could not be made (misc.log)"
fi
jobs=$(nproc)
targets=(pepr test_models bench_meter_overhead)
cmake_args=(-S "$here" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release
  -DPEPR_TORCH_FROM_PYTHON=ON -DPython3_EXECUTABLE="$PY" -DPEPR_WITH_CURL=OFF
  -DPEPR_BUILD_TESTS=ON -DPEPR_BUILD_BENCH=ON  # bench/: small targets, no LibTorch
  -DCMAKE_PREFIX_PATH="$prefix/usr"
  -DCMAKE_INCLUDE_PATH="$inc/x86_64-linux-gnu;$inc" -DCMAKE_LIBRARY_PATH="$lib"
  # jconfig.h, openssl/configuration.h, expat_config.h: Debian's multiarch folder, ahead of the
  # system's (whose libjpeg-turbo8 jconfig.h would fail against libjpeg.so.62 at run time).
  -DCMAKE_C_FLAGS="-isystem $inc/x86_64-linux-gnu" -DCMAKE_CXX_FLAGS="-isystem $inc/x86_64-linux-gnu"
  # Every find module that could take the system's copy, given the prefix's files.
  -DZLIB_INCLUDE_DIR="$inc" -DZLIB_LIBRARY="$lib/libz.so"
  -DPNG_PNG_INCLUDE_DIR="$inc" -DPNG_LIBRARY="$lib/libpng16.so"
  -DJPEG_INCLUDE_DIR="$inc" -DJPEG_LIBRARY="$lib/libjpeg.so"
  -DEXPAT_INCLUDE_DIR="$inc" -DEXPAT_LIBRARY="$lib/libexpat.so"
  -DOPENSSL_ROOT_DIR="$prefix/usr" -DOPENSSL_INCLUDE_DIR="$inc"
  -DOPENSSL_CRYPTO_LIBRARY="$lib/libcrypto.so" -DOPENSSL_SSL_LIBRARY="$lib/libssl.so"
  -DPEPR_SHARED_DATA_DIR="$deps/shared"
  ${nvcc:+-DCMAKE_CUDA_COMPILER="$nvcc"})
echo "cmake ${cmake_args[*]}" >"$OUT/build.log"
if ! run_step configure "$OUT/build.log" "$OUT/build.log" cmake "${cmake_args[@]}"; then
  [ -n "$blocked" ] || blocked="the configure failed (build.log)"
fi
run_step build "$OUT/build.log" "$OUT/build.log" cmake --build "$build" -j "$jobs" --target "${targets[@]}"
r=$?
# (Not after a timeout, 124 or 137, nor when not run, 125.)
if [ "$r" -ne 0 ] && [ "$r" -ne 125 ] && [ "$r" -ne 124 ] && [ "$r" -ne 137 ] &&
  grep -q "torch_cuda.cpp" "$OUT/build.log"; then
  # The CUDA-only extras (memory peaks, device properties) did not compile against this LibTorch:
  # build without them rather than not at all (the summary says so: build fails, build_retry 0).
  log "torch_cuda.cpp failed: rebuilding with -DPEPR_CUDA_EXTRAS=OFF"
  echo "== build_retry: -DPEPR_CUDA_EXTRAS=OFF" >>"$OUT/build.log"
  # shellcheck disable=SC2016  # (expanded by the inner bash)
  run_step build_retry "$OUT/build.log" "$OUT/build.log" bash -c \
    'cmake -DPEPR_CUDA_EXTRAS=OFF "$1" && shift && cmake --build "$@"' _ "$build" "$build" \
    -j "$jobs" --target "${targets[@]}"
  r=$?
fi
grep -E "pepr: LibTorch|warning:|error:" "$OUT/build.log" | head -20 >&2
if [ "$r" -ne 0 ]; then
  [ "$r" -eq 125 ] || tail -40 "$OUT/build.log" >&2
  [ -n "$blocked" ] || blocked="the build failed or timed out (exit $r, build.log)"
fi

# The binaries run with the prefix's libraries ahead (their RPATH names the prefix already).
runenv=(env "LD_LIBRARY_PATH=$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}")
mkdir -p "$work/bin"
# shellcheck disable=SC2016  # (expanded when the wrapper runs)
printf '#!/bin/sh\nLD_LIBRARY_PATH=%q${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} exec %q "$@"\n' \
  "$lib" "$build/pepr" >"$work/bin/pepr"
chmod +x "$work/bin/pepr"
pepr="$work/bin/pepr"

# Which CUDA runtime and which of the prefix's libraries the binary loads, by its RPATH alone.
section "ldd $build/pepr (without the prefix in LD_LIBRARY_PATH)"
# Fails (exit 3) when the binary's first needed library is not libstdc++ (PyPI's libtorch.so
# exports std::filesystem copies that then interpose libstdc++'s and crash), and (exit 4) when it
# loads LibTorch libraries from two folders (a system LibTorch beside the Python torch's).
# shellcheck disable=SC2016  # (expanded by the inner bash)
run_step libs "$work/ldd.txt" "$work/ldd.txt" bash -c '
  ldd "$1" || exit 2
  first=$(readelf -d "$1" | awk "/NEEDED/ {print \$NF; exit}")
  case "$first" in *libstdc++*) ;; *) echo "first needed library: $first, not libstdc++"; exit 3 ;; esac
  dirs=$(ldd "$1" | awk "/lib(torch|c10)[a-z_]*\\.so/ {print \$3}" | xargs -r -n1 dirname | sort -u)
  [ "$(printf "%s\n" "$dirs" | grep -c .)" -le 1 ] || { echo "LibTorch from: $dirs"; exit 4; }' _ "$build/pepr"
cat "$work/ldd.txt" >>"$misc" 2>/dev/null
grep -E "cudart|libtorch_cuda|libc10_cuda|not found" "$work/ldd.txt" >&2 2>/dev/null

# 2. timm equivalence on CUDA (on CPU when rehearsing).
filter=""
for m in "${EQUIV_MODELS[@]}"; do filter+="Native/TimmEquivalence.StateDictParamsAndLogitsMatchTimm/$m:"; done
test_device=cuda
[ "$mode" = rehearse ] && test_device=cpu
run_step equivalence "$OUT/equivalence.log" "$OUT/equivalence.log" "${runenv[@]}" \
  PEPR_SHARED_DATA="$deps/shared" PEPR_TEST_DEVICE="$test_device" "$build/tests/test_models" \
  --gtest_filter="${filter%:}"
grep -E "^\[ equiv \]|PASSED|FAILED" "$OUT/equivalence.log" >&2 2>/dev/null

# 3. A real NVML reading, then short training runs (bf16 deterministic; fp16 with host batches).
section "pepr meters"
run_step meters "$work/meters.txt" "$work/meters.txt" "$pepr" meters
cat "$work/meters.txt" >>"$misc" 2>/dev/null
grep -iE "nvml|gpu" "$work/meters.txt" 2>/dev/null | head -8 >&2
train_device=cuda
[ "$mode" = rehearse ] && train_device=cpu
section "pepr data synth"
if run_step synth "$misc" "$misc" "$pepr" data synth -o "$work/synth.npz" --train 2000 --val 200 \
  --test 200; then
  section "pepr train bf16 deterministic (--device $train_device)"
  run_step train "$misc" "$misc" "$pepr" train -m resnet18 -d "$work/synth.npz" -e 2 \
    --device "$train_device" --precision bf16 --deterministic -o "$OUT/train.json"
  section "pepr train fp16, host batches"
  run_step train_fp16 "$misc" "$misc" "$pepr" train -m mobilenetv2_050 -d "$work/synth.npz" -e 2 \
    --device cuda:0 --precision fp16 --data-placement host -o "$OUT/train-fp16.json"
else
  not_run train "not run: ${blocked:-pepr data synth failed}"
  not_run train_fp16 "not run: ${blocked:-pepr data synth failed}"
fi
# The sampler's cost with the real NVML (process list at most once a second): 15 cases of 2 s
# (1 s when the budget is short).
per_case=2
[ "$(step_limit meter_overhead)" -lt "$(scaled 45)" ] && per_case=1
section "bench_meter_overhead $per_case"
run_step meter_overhead "$work/meter-overhead.txt" "$work/meter-overhead.txt" "${runenv[@]}" \
  "$build/bench/bench_meter_overhead" "$per_case"
cat "$work/meter-overhead.txt" >>"$misc" 2>/dev/null
grep -E "100 ms|target" "$work/meter-overhead.txt" >&2 2>/dev/null

# 4. pepr vs timm on the same GPU: both sizes when the budget still holds about 4 minutes.
sizes="${PEPR_DC_SIZES:-28,224}"
if [ "$mode" = gpu ] && [ -z "$blocked" ] && [ -z "${PEPR_DC_SIZES:-}" ] && [ "$(step_limit bench)" -lt "$(scaled 240)" ]; then
  sizes=28  # keep the whole check within its time: the larger size is left out, and said so
  log "benchmark at 28 px only: $(step_limit bench) s left for it"
fi
run_step bench /dev/null "$OUT/bench.log" env PYTHONUNBUFFERED=1 "$PY" \
  "$here/bench/train_vs_timm_gpu.py" "$pepr" --sizes "$sizes" \
  --precision "${PEPR_DC_PRECISION:-fp32}" --out "$OUT/bench.json"
[ -f "$OUT/bench.log" ] && cat "$OUT/bench.log" >&2
exit 0  # the EXIT trap writes the summary and sets the exit code
