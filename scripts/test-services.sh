#!/usr/bin/env bash
# Start what the fleet service's tests need: the machine's PostgreSQL cluster (when it is down) and
# Debian's chromium for the browser tests (installed when absent). Safe to run again.
set -euo pipefail
if command -v pg_lsclusters >/dev/null 2>&1; then
  version="$(ls /etc/postgresql | sort | tail -n1)"
  if ! pg_lsclusters --no-header | awk -v v="$version" '$1 == v && $2 == "main" {print $4}' | grep -q online; then
    pg_ctlcluster --skip-systemctl-redirect "$version" main start
  fi
else
  echo "test-services: PostgreSQL is not installed (apt-get install postgresql)" >&2
  exit 1
fi
if [ ! -x /usr/bin/chromium ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq chromium >/dev/null
fi
