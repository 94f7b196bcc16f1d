#!/usr/bin/env bash
# Installs the system packages the test suite needs when they are missing:
# the PostgreSQL server binaries (tests start a throwaway server on 127.0.0.1).
# Idempotent and quick when everything is present. Needs root (or sudo) to install.
set -euo pipefail

need=()
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1; then
  need+=(postgresql)
fi
if ! command -v runuser >/dev/null 2>&1; then
  need+=(util-linux)
fi
for pkg in "$@"; do
  case "$pkg" in
    chromium) command -v chromium >/dev/null 2>&1 || need+=(chromium) ;;
    npm) command -v npm >/dev/null 2>&1 || need+=(npm) ;;
    *) dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg") ;;
  esac
done

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
echo "installing system packages: ${need[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${need[@]}"
