#!/usr/bin/env bash
# Installs Debian's PostgreSQL server binaries for the study's PostgreSQL tests when they are
# missing. The tests start their own throwaway cluster as an unprivileged user; the package's
# own cluster is not needed and is left stopped.
set -euo pipefail
if compgen -G "/usr/lib/postgresql/*/bin/initdb" > /dev/null; then
  exit 0
fi
if [ "$(id -u)" != "0" ]; then
  echo "error: PostgreSQL's initdb is missing; install Debian's 'postgresql' package (as root: apt-get install -y postgresql)" >&2
  exit 1
fi
apt-get update -qq
# A policy-rc.d that says 101 keeps the package from starting its default cluster as a service.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql
