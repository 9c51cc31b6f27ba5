#!/usr/bin/env bash
# Runs a README walk-through as a user would type it: the ```sh blocks under `### HEADING` of
# README.md (up to the next heading), in order, as one bash script with -euo pipefail, in a fresh
# temporary folder where build/, data/ and examples/ are links to the build folder (the one of
# the pepr on PATH, or $PEPR_BUILD_DIR) and the repository's own, so that `build/pepr ...
# data/pneumoniamnist.npz` runs as typed in the repository.
# Usage: scripts/readme-example.sh "Use your own data"
#        scripts/readme-example.sh --print "Use your own data"   print the script, run nothing
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
print=0
if [ "${1:-}" = "--print" ]; then print=1; shift; fi
heading="${1:?usage: readme-example.sh [--print] HEADING}"
readme="${README:-$here/README.md}"

script="$(awk -v want="### $heading" '
  /^#+ / { inside = ($0 == want); next }
  inside && /^```sh[[:space:]]*$/ { code = 1; next }
  inside && code && /^```[[:space:]]*$/ { code = 0; print ""; next }
  inside && code { print }
' "$readme")"
if [ -z "${script//[[:space:]]/}" ]; then
  echo "readme-example: $readme has no \`\`\`sh block under '### $heading'" >&2
  exit 2
fi
if [ "$print" = 1 ]; then printf '%s\n' "$script"; exit 0; fi

build="${PEPR_BUILD_DIR:-}"
if [ -z "$build" ]; then
  pepr_bin="$(command -v pepr || true)"
  [ -n "$pepr_bin" ] || pepr_bin="$here/build/pepr"
  build="$(dirname "$pepr_bin")"
fi
[ -x "$build/pepr" ] || { echo "readme-example: no pepr in $build (build it first)" >&2; exit 2; }
work="$(mktemp -d "${TMPDIR:-/tmp}/pepr-readme.XXXXXX")"
trap 'rm -rf "$work"' EXIT
cd "$work"
ln -s "$(cd "$build" && pwd)" build
ln -s "$here/data" data
ln -s "$here/examples" examples
export PATH="$work/build:$PATH"
echo "readme-example: '### $heading' in $work"
bash -euo pipefail -c "$script"
echo "readme-example: '### $heading' ran to the end"
