#!/usr/bin/env bash
# Installs, with Debian's apt-get, the system tools that `make test` needs and
# that a fresh Debian machine with only Go may lack:
#   make                   runs the Makefile (.ci/run calls this script itself when make is missing)
#   gcc, libc6-dev         cgo, which `go test -race` requires
#   mosquitto              a reference broker for interoperability tests
#   mosquitto-clients      mosquitto_pub and mosquitto_sub, reference clients
#   nodejs, npm            MQTT.js (npm's mqtt) interop tests of the WebSocket listeners
#   chromium               a real browser for those tests, driven by npm's playwright-core
# and then, with npm ci, the npm packages of listener/testdata/js (mqtt,
# playwright-core) and of admin/ui (the dashboard: vite, mqtt,
# playwright-core), each pinned by its package-lock.json, into their
# node_modules.
# Each is installed only when missing; when everything is present this does nothing.
# It fails loudly when something cannot be installed: a test must never skip
# quietly because a tool is absent.
set -euo pipefail

log() { printf 'install-test-deps: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }

GO="${GO:-go}"
have "$GO" || die "'$GO' not found on PATH; install Go first"

# What is missing, as Debian package names.
need=()
have make || need+=(make)
if ! have gcc; then
  need+=(gcc libc6-dev)
elif [ ! -e /usr/include/stdlib.h ]; then
  need+=(libc6-dev)
fi
# The broker lives in /usr/sbin, which is not on every user's PATH.
have mosquitto || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
{ have mosquitto_pub && have mosquitto_sub; } || need+=(mosquitto-clients)
have node || need+=(nodejs)
have npm || need+=(npm)
have chromium || [ -x /usr/bin/chromium ] || need+=(chromium)

if [ "${#need[@]}" -eq 0 ]; then
  log "all present (make, gcc, mosquitto, mosquitto_pub, mosquitto_sub, node, npm, chromium)"
else
  have apt-get || die "missing ${need[*]}, and apt-get is not available to install them; install them by hand"

  as_root() {
    if [ "$(id -u)" -eq 0 ]; then
      "$@"
    elif have sudo; then
      sudo "$@"
    else
      die "not root and sudo is not available: cannot install ${need[*]}"
    fi
  }
  # Retries cover a transient network failure; a real refusal fails all three.
  apt() {
    local try
    for try in 1 2 3; do
      if as_root env DEBIAN_FRONTEND=noninteractive apt-get -q -y -o Dpkg::Use-Pty=0 "$@"; then
        return 0
      fi
      log "apt-get $1 failed (attempt $try of 3)"
      [ "$try" -lt 3 ] && sleep 5
    done
    return 1
  }

  log "installing with apt-get: ${need[*]}"
  apt update || die "apt-get update failed"
  apt install --no-install-recommends "${need[@]}" || die "apt-get install ${need[*]} failed"

  # Debian starts the mosquitto service on install where an init system runs;
  # that would hold port 1883, which `roost serve` wants. Tests start their own
  # mosquitto on a free loopback port, so stop the one we just installed.
  for p in "${need[@]}"; do
    if [ "$p" = mosquitto ]; then
      if have systemctl && [ -d /run/systemd/system ]; then
        as_root systemctl disable --now mosquitto.service >/dev/null 2>&1 || true
      elif have service; then
        as_root service mosquitto stop >/dev/null 2>&1 || true
      fi
      log "stopped and disabled the mosquitto system service, if it was running (tests start their own)"
    fi
  done
fi

# Check the result rather than trusting apt-get's exit status.
have make || die "make is still missing"
have gcc || die "gcc is still missing"
have mosquitto_pub || die "mosquitto_pub is still missing"
have mosquitto_sub || die "mosquitto_sub is still missing"
have mosquitto || [ -x /usr/sbin/mosquitto ] || die "mosquitto is still missing"
have node || die "node is still missing"
have npm || die "npm is still missing"
[ -x /usr/bin/chromium ] || die "chromium is still missing"

# The npm packages of the JavaScript tests, exactly as locked: DIR (relative
# to the repository root) and the packages whose presence means it is done.
npm_ci() {
  local rel="$1"
  shift
  local dir
  dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/$rel"
  [ -f "$dir/package-lock.json" ] || return 0
  local present=1 p
  for p in "$@"; do
    [ -f "$dir/node_modules/$p/package.json" ] || present=0
  done
  if [ "$present" = 1 ] && [ "$dir/node_modules/.package-lock.json" -nt "$dir/package-lock.json" ]; then
    log "npm packages of $rel present"
    return 0
  fi
  log "installing the npm packages of $rel (npm ci)"
  local try
  for try in 1 2 3; do
    if (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error); then
      return 0
    fi
    log "npm ci in $rel failed (attempt $try of 3)"
    [ "$try" -lt 3 ] && sleep 5
  done
  die "npm ci in $rel failed"
}
npm_ci listener/testdata/js mqtt playwright-core
# The dashboard (admin/ui): vite builds it, its browser test uses mqtt and
# playwright-core (admin/browser_test.go).
npm_ci admin/ui mqtt playwright-core vite
[ "$("$GO" env CGO_ENABLED)" = 1 ] ||
  die "cgo is disabled (go env CGO_ENABLED is not 1), but go test -race needs it; unset CGO_ENABLED or set it to 1"
