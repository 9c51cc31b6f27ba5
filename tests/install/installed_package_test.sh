#!/usr/bin/env bash
# pepr as a library: installs the build into a temporary prefix, builds examples/cpp against the
# installed package (find_package(pepr) through -Dpepr_DIR, nothing from the source tree's src/),
# and runs the three programs. Exits non-zero, naming the step, when any of it fails.
#   installed_package_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build="$1"
src="$2"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/pepr-install.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
step() { printf 'installed-package: %s\n' "$*"; }
fail() { printf 'installed-package: FAILED: %s\n' "$*" >&2; exit 1; }

step "cmake --install $build --prefix $tmp/prefix"
cmake --install "$build" --prefix "$tmp/prefix" >"$tmp/install.log" || { cat "$tmp/install.log"; fail "install"; }
for f in bin/pepr lib/cmake/pepr/peprConfig.cmake lib/cmake/pepr/peprTargets.cmake \
         lib/libpepr_core.a include/pepr/score.hpp include/pepr/tracker.hpp include/pepr/core/table.hpp; do
  [ -e "$tmp/prefix/$f" ] || fail "the install lacks $f"
done
[ ! -e "$tmp/prefix/include/pepr/cli" ] || fail "the command's own headers (src/cli) were installed"

# The examples are configured from a copy, so nothing in the source tree can be found by path.
cp -r "$src/examples/cpp" "$tmp/examples"
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
step "configuring examples/cpp against the installed package"
cmake -S "$tmp/examples" -B "$tmp/build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
  -Dpepr_DIR="$tmp/prefix/lib/cmake/pepr" >"$tmp/configure.log" 2>&1 ||
  { cat "$tmp/configure.log"; fail "configure"; }
step "building them"
cmake --build "$tmp/build" -j "${PEPR_TEST_JOBS:-2}" >"$tmp/build.log" 2>&1 ||
  { tail -40 "$tmp/build.log"; fail "build"; }
if grep -q -- "-I$src/src\|-I$src/include" "$tmp/build/build.ninja" "$tmp/build/CMakeFiles"/*/flags.make 2>/dev/null; then
  fail "the examples were compiled with the source tree's include folders"
fi

step "score_csv"
out=$("$tmp/build/score_csv" "$src/examples/illustrative_results.csv" test_acc dataset)
echo "$out"
[ "$(grep -c 'PePR-E' <<<"$out")" -ge 2 ] || fail "score_csv printed no best model per experiment"
# Bad input: a clear error and a non-zero exit.
printf 'model,test_acc\nx,1.5\n' >"$tmp/bad.csv"
if "$tmp/build/score_csv" "$tmp/bad.csv" test_acc "" 2>"$tmp/bad.err"; then fail "score_csv accepted P = 1.5"; fi
grep -q "bad.csv" "$tmp/bad.err" || { cat "$tmp/bad.err"; fail "score_csv's error does not name the file"; }

step "meter_region"
"$tmp/build/meter_region" 0.3 || fail "meter_region"

if [ -x "$tmp/build/finetune" ]; then
  step "finetune (resnet18, 1 epoch, a small synthetic dataset)"
  "$tmp/prefix/bin/pepr" data synth -o "$tmp/tiny.npz" --classes 3 --train 64 --val 16 --test 16 >/dev/null
  out=$("$tmp/build/finetune" "$tmp/tiny.npz" resnet18 1)
  echo "$out"
  grep -q "^epoch 1: test acc" <<<"$out" || fail "finetune printed no epoch"
  grep -q "^status completed" <<<"$out" || fail "finetune did not complete"
else
  step "finetune not built (pepr was built without LibTorch)"
fi
step "passed"
