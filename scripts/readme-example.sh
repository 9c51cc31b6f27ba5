#!/usr/bin/env bash
# readme-example.sh HEADING: runs the ```sh blocks under `### HEADING` of README.md (up to the next
# heading) with bash -euo pipefail in a fresh temporary folder; `pepr` must be on PATH. Exits with
# the blocks' status; the folder is removed afterwards. ctest registers one test per heading.
set -euo pipefail
heading="${1:?usage: readme-example.sh HEADING}"
readme="$(cd "$(dirname "$0")/.." && pwd)/README.md"
script="$(awk -v want="### $heading" '
  fence && /^```$/ { fence = 0; next }
  fence { if (inside && fence == 1) print; next }
  /^```/ { fence = 1; if (!inside || $0 != "```sh") fence = 2; next }
  /^#+ / { if (inside) exit; if ($0 == want) inside = 1; next }
' "$readme")"
if [ -z "$script" ]; then
  echo "readme-example.sh: no \`\`\`sh block under '### $heading' in $readme" >&2
  exit 1
fi
command -v pepr >/dev/null || { echo "readme-example.sh: pepr is not on PATH" >&2; exit 1; }
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
cd "$dir"
bash -euo pipefail -c "$script"
