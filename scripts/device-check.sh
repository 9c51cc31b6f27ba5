#!/usr/bin/env bash
# pepr on an NVIDIA GPU, built against the LibTorch inside the machine's Python torch.
#
#   bash scripts/device-check.sh prepare   # here, with Debian's registry: what the GPU machine
#                                          # lacks goes into .device-deps/ (ignored by git)
#   bash scripts/device-check.sh           # on the GPU machine, with no network
#
# The GPU machine needs: an NVIDIA driver, python3 with torch (CUDA) and timm, cmake, ninja, g++,
# dpkg-deb or ar+tar. Everything else pepr builds with (fmt, nlohmann-json, CLI11, Boost.Math,
# toml++, zlib, libpng, libjpeg, OpenSSL, GoogleTest, expat) travels as Debian 12 packages in
# .device-deps/debs, unpacked into a private prefix; downloads (libcurl) are left out of this
# build (PEPR_WITH_CURL=OFF). The timm reference files of the models checked travel too.
#
# It runs, in this order, within about 8 minutes on an H200 machine:
#   1. the build (pepr and the model tests) against torch.utils.cmake_prefix_path, CUDA on;
#   2. the timm equivalence test on CUDA for 10 native models (fp32, TF32 off; tolerance
#      max|pepr - timm| <= 1e-3 * max(1, max|timm|), the same as on CPU);
#   3. `pepr meters` (a real NVML reading), one short `pepr train --device cuda` run and the
#      meter's sampling cost with the real NVML (bench_meter_overhead, 2 s per case);
#   4. bench/train_vs_timm_gpu.py: 2 epochs of resnet18, mobilenetv2_050 and mobilevitv2_050
#      at 28 and 224 px, pepr and timm + DataLoader alternating on the same GPU, same precision.
# Output: $OUT (or out/device-check) gets summary.json (also printed), build.log,
# equivalence.log, train.json (bf16, deterministic), train-fp16.json (fp16, host batches),
# bench.json, bench.log, meter-overhead.log (bench_meter_overhead with the real NVML) and misc.log
# (nvidia-smi, Python versions, pepr meters, train logs).
# Exit 0 when every step passed. summary.json: {"exit": {step: code}, "seconds", "python":
# {torch, cuda, cudnn, timm, gpu}, "equivalence": [{model, device, max_diff, tolerance}],
# "train": {environment, data, config, totals, meter}, "bench": [{model, size, ratio, pepr: [..],
# python: [..]}]} with, per benchmark run, images_per_s, epoch_train_s, gpu_reserved_gb,
# gpu_allocated_gb, energy_j, test_acc.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
deps="$here/.device-deps"
EQUIV_MODELS=(resnet18 mobilenetv2_050 efficientnet_b0 ghostnet_100 convnext_atto densenet121
  dla34 mobilevitv2_050 pvt_v2_b0 maxvit_nano_rw_256)
DEBS=(libfmt-dev libfmt9 nlohmann-json3-dev libcli11-dev libboost1.74-dev libtomlplusplus-dev
  libtomlplusplus3 zlib1g-dev libpng-dev libpng16-16 libjpeg62-turbo-dev libjpeg62-turbo
  libssl-dev libssl3 libgtest-dev libgmock-dev libexpat1-dev libexpat1)

log() { echo "[device-check $(date +%H:%M:%S)] $*" >&2; }

if [ "${1:-}" = "prepare" ]; then
  shared="${PEPR_SHARED_DATA:-$here/../shared/data}"
  rm -rf "$deps" && mkdir -p "$deps/debs" "$deps/shared/timm-reference"
  (cd "$deps/debs" && apt-get download "${DEBS[@]}") || { log "apt-get download failed"; exit 1; }
  cp "$shared/timm-reference/README.md" "$deps/shared/timm-reference/"
  for m in "${EQUIV_MODELS[@]}"; do
    cp "$shared/timm-reference/$m.json" "$deps/shared/timm-reference/" || exit 1
  done
  du -sh "$deps"
  log "prepared $deps: carry it to the GPU machine with the working tree"
  exit 0
fi

OUT="${OUT:-$here/out/device-check}"
mkdir -p "$OUT"
build="${PEPR_DEVICE_BUILD:-/tmp/pepr-device-build}"
prefix="${PEPR_DEVICE_PREFIX:-/tmp/pepr-device-deps}"
PY="$(command -v python3)"
declare -A status
t0=$(date +%s)

# 0. What the machine is.
misc="$OUT/misc.log"
nvidia-smi --query-gpu=name,driver_version,memory.total,power.limit --format=csv >"$misc" 2>&1
"$PY" - >"$OUT/python.json" 2>&1 <<'EOF' || true
import json, torch
try:
    import timm; tv = timm.__version__
except Exception as e:
    tv = "missing: %s" % e
print(json.dumps({"torch": torch.__version__, "cuda": torch.version.cuda,
                  "cudnn": torch.backends.cudnn.version(), "timm": tv,
                  "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
                  "cmake_prefix_path": torch.utils.cmake_prefix_path}))
EOF
log "$(cat "$OUT/python.json")"
cp "$OUT/python.json" /tmp/pepr-dc-python.json && rm -f "$OUT/python.json"

# 1. The private prefix of Debian packages, then the build.
if [ ! -d "$deps/debs" ]; then
  log "no $deps/debs: run 'bash scripts/device-check.sh prepare' where Debian's registry is reachable"
  exit 1
fi
mkdir -p "$prefix"
for d in "$deps"/debs/*.deb; do
  if command -v dpkg-deb >/dev/null; then
    dpkg-deb -x "$d" "$prefix"
  else
    (tmp=$(mktemp -d) && cd "$tmp" && ar x "$d" && tar -xf data.tar.* -C "$prefix" && rm -rf "$tmp")
  fi
done
nvcc="$(command -v nvcc || ls /usr/local/cuda/bin/nvcc 2>/dev/null || true)"
jobs=$(nproc)
{
  cmake -S "$here" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DPEPR_TORCH_FROM_PYTHON=ON -DPython3_EXECUTABLE="$PY" -DPEPR_WITH_CURL=OFF \
    -DPEPR_BUILD_BENCH=OFF -DCMAKE_PREFIX_PATH="$prefix/usr" \
    ${nvcc:+-DCMAKE_CUDA_COMPILER="$nvcc"} -DPEPR_SHARED_DATA_DIR="$deps/shared" &&
    cmake --build "$build" -j "$jobs" --target pepr test_models bench_meter_overhead
} >"$OUT/build.log" 2>&1
status[build]=$?
if [ "${status[build]}" -ne 0 ] && grep -q "torch_cuda.cpp" "$OUT/build.log"; then
  # The CUDA-only extras (memory peaks, device properties) did not compile against this LibTorch:
  # build without them rather than not at all, and say so.
  log "torch_cuda.cpp failed: rebuilding with -DPEPR_CUDA_EXTRAS=OFF"
  { echo "== first build (CUDA extras on)"; cat "$OUT/build.log"; } >>"$misc"
  { cmake -DPEPR_CUDA_EXTRAS=OFF "$build" &&
    cmake --build "$build" -j "$jobs" --target pepr test_models bench_meter_overhead; } >"$OUT/build.log" 2>&1
  status[build]=$?
fi
log "build: exit ${status[build]} after $(($(date +%s) - t0)) s (log: build.log)"
grep -E "pepr: LibTorch|warning:|error:" "$OUT/build.log" | head -20 >&2
if [ "${status[build]}" -ne 0 ]; then
  tail -40 "$OUT/build.log" >&2
  exit 1
fi
pepr="$build/pepr"

# 2. timm equivalence on CUDA.
filter=""
for m in "${EQUIV_MODELS[@]}"; do filter+="Native/TimmEquivalence.StateDictParamsAndLogitsMatchTimm/$m:"; done
t1=$(date +%s)
PEPR_SHARED_DATA="$deps/shared" PEPR_TEST_DEVICE=cuda "$build/tests/test_models" \
  --gtest_filter="${filter%:}" >"$OUT/equivalence.log" 2>&1
status[equivalence]=$?
grep -E "^\[ equiv \]|PASSED|FAILED" "$OUT/equivalence.log" >&2
log "equivalence on CUDA: exit ${status[equivalence]} in $(($(date +%s) - t1)) s"

# 3. A real NVML reading, then one short training run on the GPU (bf16, deterministic).
echo "== pepr meters" >>"$misc"
"$pepr" meters >>"$misc" 2>&1
status[meters]=$?
grep -iE "nvml|gpu" "$misc" | head -8 >&2
"$pepr" data synth -o /tmp/pepr-dc-synth.npz --train 2000 --val 200 --test 200 >/dev/null 2>&1
echo "== pepr train bf16 deterministic" >>"$misc"
"$pepr" train -m resnet18 -d /tmp/pepr-dc-synth.npz -e 2 --device cuda --precision bf16 \
  --deterministic -o "$OUT/train.json" >>"$misc" 2>&1
status[train]=$?
echo "== pepr train fp16, host batches" >>"$misc"
"$pepr" train -m mobilenetv2_050 -d /tmp/pepr-dc-synth.npz -e 2 --device cuda:0 \
  --precision fp16 --data-placement host -o "$OUT/train-fp16.json" >>"$misc" 2>&1
status[train_fp16]=$?
log "pepr train --device cuda: bf16 exit ${status[train]}, fp16 exit ${status[train_fp16]}"
# The sampler's cost with the real NVML (process list at most once a second): 2 s per case.
timeout 90 "$build/bench/bench_meter_overhead" 2 >"$OUT/meter-overhead.log" 2>&1
status[meter_overhead]=$?
grep -E "100 ms|target" "$OUT/meter-overhead.log" >&2

# 4. pepr vs timm on the same GPU.
t2=$(date +%s)
sizes="${PEPR_DC_SIZES:-28,224}"
if [ -z "${PEPR_DC_SIZES:-}" ] && [ $((t2 - t0)) -gt "${PEPR_DC_BUDGET_S:-330}" ]; then
  sizes=28  # keep the whole check within its time: the larger size is left out, and said so
  log "benchmark at 28 px only: $((t2 - t0)) s spent before it"
fi
"$PY" "$here/bench/train_vs_timm_gpu.py" "$pepr" --sizes "$sizes" \
  --precision "${PEPR_DC_PRECISION:-fp32}" --out "$OUT/bench.json" >/dev/null 2>"$OUT/bench.log"
status[bench]=$?
cat "$OUT/bench.log" >&2
log "benchmark: exit ${status[bench]} in $(($(date +%s) - t2)) s"

# The summary: one JSON.
"$PY" - "$OUT" "${status[build]}" "${status[equivalence]}" "${status[meters]}" \
  "${status[train]}" "${status[train_fp16]}" "${status[bench]}" "$(($(date +%s) - t0))" \
  <<'EOF' | tee "$OUT/summary.json"
import json, os, re, sys
out = sys.argv[1]
names = ["build", "equivalence", "meters", "train", "train_fp16", "bench"]
s = {"exit": dict(zip(names, map(int, sys.argv[2:8]))), "seconds": int(sys.argv[8])}
def load(name):
    try:
        return json.load(open(os.path.join(out, name)))
    except Exception as e:
        return {"error": str(e)}
try:
    s["python"] = json.load(open("/tmp/pepr-dc-python.json"))
except Exception as e:
    s["python"] = {"error": str(e)}
eq = []
try:
    for line in open(os.path.join(out, "equivalence.log")):
        m = re.match(r"\[ equiv \] (\S+) on (\S+): max\|pepr - timm\| = (\S+), tolerance (\S+)", line)
        if m:
            eq.append({"model": m[1], "device": m[2], "max_diff": float(m[3]),
                       "tolerance": float(m[4])})
except OSError:
    pass
s["equivalence"] = eq
for name in ("train", "train-fp16"):
    t = load(name + ".json")
    if "epochs" in t:
        s[name] = {"status": t["status"], "error": t["error"], "environment": t["environment"],
                   "data": t["data"], "config": t["config"], "totals": t["totals"],
                   "epochs": [{k: e.get(k) for k in ("train_loss", "test_acc", "time_s",
                               "train_images_per_s", "energy_kwh", "gpu_mem_reserved_peak_gb",
                               "loss_scale")} for e in t["epochs"]],
                   "meter": t.get("meter", {}).get("sensors")}
b = load("bench.json")
s["bench"] = [{"model": r["model"], "size": r["size"], "ratio": r.get("ratio"),
               "pepr": [{k: v for k, v in x.items() if k != "environment"} for x in r["pepr"]],
               "python": r["python"]} for r in b.get("runs", [])]
print(json.dumps(s, indent=1))
EOF
for k in "${!status[@]}"; do [ "${status[$k]}" -eq 0 ] || exit 1; done
exit 0
