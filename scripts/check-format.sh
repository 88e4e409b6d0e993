#!/usr/bin/env bash
# Fails if any tracked C++ file differs from what clang-format (.clang-format) makes of it.
set -euo pipefail
cd "$(dirname "$0")/.."
# Not a process substitution: git's failure (not installed, not a clone) must
# fail this check instead of leaving nothing to check.
listing=$(git ls-files '*.cc' '*.h')
mapfile -t files <<<"$listing"
if [[ -z $listing ]]; then
  echo "check-format: git ls-files found no C++ files to check" >&2
  exit 1
fi
bad=()
for f in "${files[@]}"; do
  if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
    bad+=("$f")
  fi
done
if ((${#bad[@]})); then
  echo "check-format: not clang-formatted (run clang-format -i on them):" >&2
  printf '  %s\n' "${bad[@]}" >&2
  exit 1
fi
echo "check-format: ${#files[@]} files clean"
