#!/usr/bin/env bash
# The main job: builds pepr (scripts/setup.sh) and scores the embedded example table.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$here/scripts/setup.sh"
build="${PEPR_BUILD_DIR:-$here/build}"
"$build/pepr" score "$here/examples/illustrative_results.csv" --group-by dataset \
  --performance test_acc --resource energy --resource co2 --resource memory --top 3
