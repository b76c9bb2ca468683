#!/usr/bin/env bash
# Fails, listing them, when Go files need gofmt. Checks the files git knows
# (tracked, plus new files not ignored by .gitignore) outside testdata/ and
# vendor/; without git, every .go file under the repository.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

GO="${GO:-go}"
gofmt="$("$GO" env GOROOT)/bin/gofmt"

files=()
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  while IFS= read -r -d '' f; do
    case "$f" in
      testdata/* | */testdata/* | vendor/*) continue ;;
    esac
    [ -f "$f" ] && files+=("$f") # a tracked file may have been deleted
  done < <(git ls-files -z --cached --others --exclude-standard -- '*.go')
else
  while IFS= read -r -d '' f; do
    files+=("$f")
  done < <(find . \( -name .git -o -name testdata -o -name vendor -o -name node_modules \) -prune \
    -o -type f -name '*.go' -print0)
fi

if [ "${#files[@]}" -eq 0 ]; then
  echo "gofmt: no Go files to check"
  exit 0
fi

unformatted="$("$gofmt" -l -- "${files[@]}")"
if [ -n "$unformatted" ]; then
  echo "gofmt: these files are not formatted (fix with: make fmt):" >&2
  printf '%s\n' "$unformatted" | sed 's/^/  /' >&2
  exit 1
fi
echo "gofmt: ${#files[@]} files ok"
