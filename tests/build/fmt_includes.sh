#!/usr/bin/env bash
# Every source that calls fmt::join includes <fmt/ranges.h>. Debian 12's fmt 9 declares join in
# <fmt/format.h>, so the Debian build cannot see the omission; fmt 11 (the headers LibTorch 2.x
# brings, scripts/check-cuda-build.sh) declares it only in <fmt/ranges.h>, and the CUDA build
# fails there. Usage: fmt_includes.sh SOURCE_DIR
set -euo pipefail
src="${1:?usage: fmt_includes.sh SOURCE_DIR}"
status=0
while IFS= read -r f; do
  if ! grep -q '#include <fmt/ranges.h>' "$f"; then
    echo "$f: calls fmt::join but does not include <fmt/ranges.h> (fmt 10 and later declare it there)"
    status=1
  fi
done < <(grep -rl --include='*.cpp' --include='*.hpp' 'fmt::join' \
           "$src/src" "$src/tests" "$src/bench" "$src/examples" 2>/dev/null || true)
exit "$status"
