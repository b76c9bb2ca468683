#!/usr/bin/env bash
# Fuzz smoke: finds every fuzz target (with go test -list) and fuzzes
# each for FUZZTIME, one per `go test` run, since go allows only one -fuzz
# target per invocation. Arguments are package patterns (default ./...).
# Runs every target, then fails if any failed.
#   FUZZTIME=1m scripts/fuzz-smoke.sh ./packet
#   scripts/fuzz-smoke.sh -l      only list the targets
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

GO="${GO:-go}"
FUZZTIME="${FUZZTIME:-10s}"
list_only=false
if [ "${1:-}" = -l ]; then
  list_only=true
  shift
fi
[ "$#" -gt 0 ] || set -- ./...

# `go test -list` names the fuzz targets each package really has (build tags
# respected, no false hits in strings); the names come before the package's
# "ok" line.
targets=() # "import/path FuzzName"
names=()
while IFS= read -r line; do
  case "$line" in
    Fuzz*) names+=("$line") ;;
    ok*)
      pkg="$(awk '{print $2}' <<<"$line")"
      for n in "${names[@]}"; do targets+=("$pkg $n"); done
      names=()
      ;;
  esac
done < <("$GO" test -run '^$' -list '^Fuzz' "$@")

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
