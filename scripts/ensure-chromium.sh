#!/usr/bin/env bash
# Installs Debian's chromium for the browser tests when it is missing (Playwright's own
# browser download is not available on our machines).
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" != "0" ]; then
  echo "error: /usr/bin/chromium is missing; install Debian's 'chromium' package (as root: apt-get install -y chromium)" >&2
  exit 1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
