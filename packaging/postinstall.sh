#!/bin/sh
# After the .deb or .rpm installs roost: let systemd see the unit. The
# broker is not started or enabled by the package; run
#   systemctl enable --now roost
set -e
if command -v systemctl >/dev/null 2>&1; then
  systemctl daemon-reload >/dev/null 2>&1 || true
fi
