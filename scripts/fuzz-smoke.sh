#!/usr/bin/env bash
# Fuzz smoke: finds every fuzz target (func FuzzXxx in a package's _test.go
# files, as go list selects them for this platform and build tags) and fuzzes
# each for FUZZTIME, one per `go test` run, since go allows only one -fuzz
# target per invocation. Arguments are package patterns (default ./...).
# Runs every target, then fails if any failed.
#   FUZZTIME=1m scripts/fuzz-smoke.sh ./packet
#   scripts/fuzz-smoke.sh -l      only list the targets
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root="$PWD"

GO="${GO:-go}"
FUZZTIME="${FUZZTIME:-10s}"
list_only=false
if [ "${1:-}" = -l ]; then
  list_only=true
  shift
fi
[ "$#" -gt 0 ] || set -- ./...

# One line per package: dir <TAB> test files (space-separated).
listing="$("$GO" list -f '{{.Dir}}{{"\t"}}{{join .TestGoFiles " "}} {{join .XTestGoFiles " "}}' "$@")"

targets=() # "./pkg FuzzName"
while IFS=$'\t' read -r dir files; do
  [ -n "$dir" ] || continue
  read -r -a names <<<"$files"
  [ "${#names[@]}" -gt 0 ] || continue
  rel="./${dir#"$root"/}"
  [ "$dir" = "$root" ] && rel=.
  # A fuzz target is "Fuzz" alone or followed by a non-lowercase letter, as for go test.
  while IFS= read -r fn; do
    [ -n "$fn" ] && targets+=("$rel $fn")
  done < <(cd "$dir" && grep -hoE '^func Fuzz([A-Z0-9_][A-Za-z0-9_]*)?\(' -- "${names[@]}" |
    sed -E 's/^func (Fuzz[A-Za-z0-9_]*)\($/\1/' | sort -u)
done <<<"$listing"

if "$list_only"; then
  [ "${#targets[@]}" -eq 0 ] || printf '%s\n' "${targets[@]}"
  exit 0
fi
if [ "${#targets[@]}" -eq 0 ]; then
  echo "fuzz smoke: no fuzz targets found in $*"
  exit 0
fi

failed=()
for t in "${targets[@]}"; do
  pkg="${t% *}"
  fn="${t#* }"
  echo "=== fuzz smoke: $pkg $fn for $FUZZTIME"
  if ! "$GO" test -run '^$' -fuzz "^${fn}\$" -fuzztime "$FUZZTIME" -fuzzminimizetime 1s "$pkg"; then
    failed+=("$t")
  fi
done

if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz smoke: ${#failed[@]} of ${#targets[@]} targets failed:" >&2
  printf '  %s\n' "${failed[@]}" >&2
  echo "(a failing input is saved under the package's testdata/fuzz/; rerun it with go test -run)" >&2
  exit 1
fi
echo "fuzz smoke: all ${#targets[@]} targets ran for $FUZZTIME without failure"
