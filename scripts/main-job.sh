#!/usr/bin/env bash
# The main job: builds pepr (scripts/setup.sh), then runs the embedded default sweep (four native
# models, a small efficient one and three ResNets, trained from scratch for 5 epochs on the
# PneumoniaMNIST file shipped in data/, on all and on 10 % of its training set; docs/sweep.md
# states the time on 2 CPU cores), and prints the PePR ranking and where the results and report are.
# Run it again to continue an interrupted sweep (finished runs are kept, never repeated).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$here/scripts/setup.sh"
build="${PEPR_BUILD_DIR:-$here/build}"
"$build/pepr" bench --default -o "${PEPR_RUNS_DIR:-$here/runs-default}"
