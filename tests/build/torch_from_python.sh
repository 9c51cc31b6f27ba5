#!/usr/bin/env bash
# -DPEPR_TORCH_FROM_PYTHON=ON finds LibTorch where a Python `torch` says it is
# (torch.utils.cmake_prefix_path). A stand-in `torch` module on PYTHONPATH points at the
# LibTorch this build found, so the test checks the option's own logic: asking the interpreter,
# using its answer, and failing clearly when torch cannot be imported.
# Usage: torch_from_python.sh SOURCE_DIR TORCH_CMAKE_PREFIX
set -euo pipefail
src="$1" prefix="$2"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/py/torch"
printf 'from . import utils\n' >"$tmp/py/torch/__init__.py"
printf 'cmake_prefix_path = %s\n' "\"$prefix\"" >"$tmp/py/torch/utils.py"
py="$(command -v python3)"
# Only the configure step, with nothing but the stand-in telling CMake where LibTorch is.
PYTHONPATH="$tmp/py" cmake -S "$src" -B "$tmp/build" -G Ninja -DPEPR_TORCH_FROM_PYTHON=ON \
  -DPython3_EXECUTABLE="$py" -DPEPR_BUILD_TESTS=OFF -DPEPR_BUILD_BENCH=OFF \
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF >"$tmp/ok.log" 2>&1 || { cat "$tmp/ok.log"; exit 1; }
grep -q "pepr: LibTorch" "$tmp/ok.log" || { echo "no 'pepr: LibTorch' line"; cat "$tmp/ok.log"; exit 1; }
grep -qF "pepr: LibTorch from Python's torch: $prefix" "$tmp/ok.log" ||
  { echo "the prefix from Python was not used"; exit 1; }
# A Python without torch: a clear error, not a silent fallback.
printf 'raise ImportError("no torch here")\n' >"$tmp/py/torch/__init__.py"
if PYTHONPATH="$tmp/py" cmake -S "$src" -B "$tmp/build2" -G Ninja -DPEPR_TORCH_FROM_PYTHON=ON \
  -DPython3_EXECUTABLE="$py" -DPEPR_BUILD_TESTS=OFF -DPEPR_BUILD_BENCH=OFF >"$tmp/bad.log" 2>&1; then
  echo "configured although torch cannot be imported"; exit 1
fi
grep -q "cannot import torch" "$tmp/bad.log" || { cat "$tmp/bad.log"; exit 1; }
echo "PEPR_TORCH_FROM_PYTHON: found LibTorch at $prefix through Python; a Python without torch is refused"
