#!/usr/bin/env bash
# Runs one GoogleTest test N times while other processes keep every core busy: the check that a
# test once flaky under load (CI's machine is shared with the build) passes every time now.
#
# Usage: scripts/repeat-under-load.sh TEST_BINARY FILTER [N] [BUSY]
#   TEST_BINARY  e.g. build/tests/test_meter
#   FILTER       a --gtest_filter, e.g. TrackCli.ForwardsSigterm
#   N            repetitions (default 200)
#   BUSY         busy-looping processes beside it (default: the number of cores)
# Prints one line: passed / failed / seconds, and the output of the first failure. Exit 1 if any
# repetition failed.
set -uo pipefail
bin="${1:?test binary}" filter="${2:?gtest filter}" n="${3:-200}" busy="${4:-$(nproc)}"
pids=()
cleanup() { ((${#pids[@]})) && kill "${pids[@]}" 2>/dev/null; }
trap cleanup EXIT
for ((i = 0; i < busy; i++)); do
  (while :; do :; done) &
  pids+=($!)
done
pass=0 fail=0 first=""
log="$(mktemp)"
start=$(date +%s)
for ((i = 1; i <= n; i++)); do
  # Each repetition a fresh process, as ctest runs it.
  if OMP_WAIT_POLICY=PASSIVE PEPR_METER_REGISTRY=off "$bin" --gtest_filter="$filter" >"$log" 2>&1 &&
    grep -q '^\[  PASSED  \] 1 test' "$log"; then
    pass=$((pass + 1))
  else
    fail=$((fail + 1))
    [ -n "$first" ] || first="$(tail -n 30 "$log")"
  fi
done
rm -f "$log"
echo "repeat-under-load: $filter: $pass passed, $fail failed of $n with $busy busy processes" \
  "($(($(date +%s) - start)) s, load average $(cut -d' ' -f1 /proc/loadavg))"
if [ "$fail" -ne 0 ]; then
  echo "first failure:"
  echo "$first"
  exit 1
fi
