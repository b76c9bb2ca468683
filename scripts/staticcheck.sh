#!/usr/bin/env bash
# Runs staticcheck at the pinned version with the given arguments. Uses the one
# on PATH if it is that version; otherwise the one in GOBIN (or the first
# GOPATH's bin), installing it there with `go install` first if needed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

GO="${GO:-go}"
version="${STATICCHECK_VERSION:-v0.8.2}"
want="(${version#v})" # `staticcheck -version` prints e.g. "staticcheck 2026.2.2 (0.8.2)"

right_version() { [ -x "$1" ] && "$1" -version 2>/dev/null | grep -qF "$want"; }

sc="$(command -v staticcheck 2>/dev/null || true)"
if [ -z "$sc" ] || ! right_version "$sc"; then
  gobin="$("$GO" env GOBIN)"
  if [ -z "$gobin" ]; then
    gopath="$("$GO" env GOPATH)"
    gobin="${gopath%%:*}/bin"
  fi
  sc="$gobin/staticcheck"
  if ! right_version "$sc"; then
    echo "staticcheck: installing honnef.co/go/tools/cmd/staticcheck@$version into $gobin"
    GOBIN="$gobin" "$GO" install "honnef.co/go/tools/cmd/staticcheck@$version"
    right_version "$sc" || { echo "staticcheck: $sc is not version $version after install" >&2; exit 1; }
  fi
fi

echo "$sc $*"
exec "$sc" "$@"
