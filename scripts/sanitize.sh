#!/usr/bin/env bash
# The CI sanitizer job (docs/fuzzing.md). Builds the libraries without LibTorch, their unit tests
# and the libFuzzer harnesses of tests/fuzz with clang, AddressSanitizer and UBSan, into one
# build folder; runs the unit tests with ctest; then runs every harness for a bounded time on a
# copy of its committed seed corpus. Any sanitizer finding, failed test or fuzzer crash fails it.
#
# Usage: scripts/sanitize.sh [--no-regressions]
#   --no-regressions  do not replay tests/fuzz/regressions/<harness>/* (the inputs of fixed
#                     defects, each replayed by default: one that crashes again fails the job)
# Environment:
#   PEPR_SAN_BUILD_DIR   build folder (default build-san/)
#   PEPR_FUZZ_SECONDS    seconds per harness (default 20)
#   PEPR_SAN_JOBS        build and ctest jobs (default 2, never more than 2)
#   PEPR_FUZZ_ONLY       run only these harnesses (space-separated names, e.g. "fuzz_csv")
#   PEPR_SAN_SKIP_TESTS  1: skip the ctest part
# Needs clang and libclang-rt-14-dev (scripts/deps.txt); uses ccache when installed. Never builds
# LibTorch code (-DPEPR_WITH_TORCH=OFF).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${PEPR_SAN_BUILD_DIR:-$here/build-san}"
seconds="${PEPR_FUZZ_SECONDS:-20}"
jobs="${PEPR_SAN_JOBS:-2}"
[ "$jobs" -le 2 ] || jobs=2
regressions=1
for a in "$@"; do
  case "$a" in
    --no-regressions) regressions=0 ;;
    -h | --help) sed -n '2,19p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "sanitize: unknown argument $a" >&2; exit 2 ;;
  esac
done

# Every finding is fatal and comes with a stack.
export ASAN_OPTIONS="halt_on_error=1:abort_on_error=1:detect_leaks=1:print_stacktrace=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1:print_summary=1"
export UBSAN_OPTIONS="halt_on_error=1:abort_on_error=1:print_stacktrace=1:print_summary=1"

for s in llvm-symbolizer /usr/lib/llvm-14/bin/llvm-symbolizer; do
  if command -v "$s" >/dev/null; then
    export ASAN_SYMBOLIZER_PATH="${ASAN_SYMBOLIZER_PATH:-$(command -v "$s")}"
    break
  fi
done

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
t_all=$(now)

# Build type "Sanitize" (no flags of its own, so assertions stay on): -O1 and line tables only,
# what sanitizer builds need for symbolised stacks, cheaper to compile than -O2 -g on a fresh
# machine, where the job has no ccache.
san_flags="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
san_flags="$san_flags -O1 -gline-tables-only"
t=$(now)
cmake -S "$here" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Sanitize \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DPEPR_WITH_TORCH=OFF -DPEPR_BUILD_BENCH=OFF -DPEPR_BUILD_TESTS=ON -DPEPR_FUZZ=ON \
  -DCMAKE_C_FLAGS="$san_flags" -DCMAKE_CXX_FLAGS="$san_flags" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" \
  -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined" >/dev/null
t_configure=$(since "$t")

t=$(now)
cmake --build "$build" -j "$jobs"
t_build=$(since "$t")

status=0
t_tests=0
if [ "${PEPR_SAN_SKIP_TESTS:-0}" != 1 ]; then
  t=$(now)
  ctest --test-dir "$build" --output-on-failure -j "$jobs" || status=1
  t_tests=$(since "$t")
fi

# Fuzzing: each harness on a temporary copy of its corpus (libFuzzer adds what it finds there;
# the repository is never written), in fork mode so that it keeps going after a finding. Every
# crashing input (BUILD/fuzz-artifacts/) is replayed; its report is matched against the known
# defects (tests/fuzz/regressions/known-defects.txt): known ones are listed, any other fails.
artifacts="$build/fuzz-artifacts"
rm -rf "$artifacts"
mkdir -p "$artifacts"
work="$(mktemp -d "${TMPDIR:-/tmp}/pepr-fuzz.XXXXXX")"
trap 'rm -rf "$work"' EXIT
known_file="$here/tests/fuzz/regressions/known-defects.txt"
# classify HARNESS REPORT_FILE: prints the known defect the report matches, or nothing.
classify() {
  [ -f "$known_file" ] || return 0
  while IFS=$'\t' read -r harness pattern what; do
    [[ -z "$harness" || "$harness" == \#* || "$harness" != "$1" ]] && continue
    if grep -Eq -- "$pattern" "$2"; then
      echo "$what"
      return 0
    fi
  done <"$known_file"
}
t_fuzz=$(now)
summary=()
findings=()
for bin in "$build"/fuzz/fuzz_*; do
  name="$(basename "$bin")"
  if [ -n "${PEPR_FUZZ_ONLY:-}" ] && [[ " $PEPR_FUZZ_ONLY " != *" $name "* ]]; then continue; fi
  mkdir -p "$work/$name"
  if [ -d "$here/tests/fuzz/corpus/$name" ]; then
    cp -r "$here/tests/fuzz/corpus/$name/." "$work/$name/"
  fi
  log="$build/fuzz-$name.log"
  t=$(now)
  rc=0
  "$bin" -fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1 \
    -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
    -artifact_prefix="$artifacts/$name-" "$work/$name" >"$log" 2>&1 || rc=$?
  secs=$(since "$t")
  # Fork mode's progress lines: "#EXECS: cov: ... oom/timeout/crash: O/T/C time: ...".
  execs=$(grep -Eo '^#[0-9]+: cov:' "$log" | tail -1 | tr -dc '0-9')
  result=ok
  # In fork mode libFuzzer exits non-zero (77) when it saved crashing inputs; those are judged
  # below. A non-zero exit without any saved input is a failure of the harness itself.
  if [ "$rc" -ne 0 ] && ! compgen -G "$artifacts/$name-*" >/dev/null; then
    result="libFuzzer exit $rc"
    status=1
    tail -n 40 "$log"
  fi
  known=0 new=0
  for a in "$artifacts/$name"-*; do
    [ -f "$a" ] || continue
    "$bin" -rss_limit_mb=2048 -timeout=10 "$a" >"$a.report" 2>&1 || true
    what="$(classify "$name" "$a.report")"
    if [ -n "$what" ]; then
      known=$((known + 1))
      findings+=("known  ${a#"$build"/}: $what")
    else
      new=$((new + 1))
      status=1
      findings+=("NEW    ${a#"$build"/} (report: ${a#"$build"/}.report)")
      echo "sanitize: $name: a finding that is not a known defect, $a:"
      grep -v '^    #[0-9]' "$a.report" | tail -n 25
      grep -m 12 '^    #[0-9]' "$a.report" || true
    fi
  done
  [ "$known$new" = 00 ] || result="$result; findings: $new new, $known known"
  summary+=("$(printf '%-18s %10s execs %7ss  %s' "$name" "${execs:-?}" "$secs" "$result")")
done
t_fuzz=$(since "$t_fuzz")

# Inputs of fixed defects (tests/fuzz/regressions/<harness>/): each replayed, none may crash.
replayed=()
while IFS= read -r f; do
  name="$(basename "$(dirname "$f")")"
  rel="${f#"$here"/}"
  if [ "$regressions" -eq 1 ]; then
    if "$build/fuzz/$name" -rss_limit_mb=2048 -timeout=10 "$f" >"$work/replay.log" 2>&1; then
      replayed+=("fixed    $rel")
    else
      replayed+=("FAILS    $rel")
      status=1
      tail -n 30 "$work/replay.log"
    fi
  else
    replayed+=("not run  $rel")
  fi
done < <(find "$here/tests/fuzz/regressions" -type f ! -name '*.md' ! -name '*.txt' 2>/dev/null | sort)

echo
echo "sanitize: fuzzing, ${seconds}s per harness:"
printf '  %s\n' "${summary[@]}"
if ((${#findings[@]})); then
  echo "sanitize: fuzzer findings (known: tests/fuzz/regressions/known-defects.txt):"
  printf '  %s\n' "${findings[@]}"
fi
if ((${#replayed[@]})); then
  echo "sanitize: regression inputs (tests/fuzz/regressions):"
  printf '  %s\n' "${replayed[@]}"
fi
echo "sanitize: configure ${t_configure}s, build ${t_build}s, unit tests ${t_tests}s," \
  "fuzzing ${t_fuzz}s; total $(since "$t_all")s"
if [ "$status" -ne 0 ]; then
  echo "sanitize: FAILED (see above)"
  exit 1
fi
echo "sanitize: passed"
