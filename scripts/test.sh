#!/usr/bin/env bash
# Builds pepr (scripts/setup.sh) and runs the whole test suite with ctest.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$here/scripts/setup.sh"
build="${PEPR_BUILD_DIR:-$here/build}"
ctest --test-dir "$build" --output-on-failure -j "$(nproc)" "$@"
