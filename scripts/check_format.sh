#!/usr/bin/env bash
# Fails if any of the project's C++ files differs from what clang-format (the checked-in
# .clang-format) would make of it; prints the offending lines. Cheap (a few seconds), so
# scripts/test.sh runs it before the long build. Generated tables (first line `// GENERATED ...`)
# are skipped: they are rewritten by their generators, not by hand.
# Fix with: git ls-files '*.cpp' '*.h' | xargs clang-format -i
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
clang_format="${CLANG_FORMAT:-clang-format}"
if ! command -v "$clang_format" >/dev/null; then
  echo "check_format: $clang_format not found (scripts/setup.sh installs clang-format)" >&2
  exit 1
fi

files=()
while IFS= read -r -d '' f; do
  [ -f "$f" ] || continue  # deleted in the working tree but still in the index
  head -n 1 "$f" | grep -q '^// GENERATED' && continue
  files+=("$f")
done < <(git ls-files -z --cached --others --exclude-standard -- '*.cpp' '*.h' '*.hpp' '*.cc')

if ((${#files[@]} == 0)); then
  echo "check_format: no C++ files found" >&2
  exit 1
fi
if ! printf '%s\0' "${files[@]}" | xargs -0 -n 50 "$clang_format" --dry-run --Werror; then
  echo "check_format: run clang-format -i on the files above" >&2
  exit 1
fi
echo "check_format: ${#files[@]} files formatted"
