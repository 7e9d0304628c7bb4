#!/usr/bin/env bash
# Makes sure the Debian packages named as arguments are installed, installing the missing ones with apt-get (as root,
# non-interactively, after an apt-get update). Idempotent: installs nothing when all are there.
# Usage: tests/prerequisites.sh PACKAGE...
set -euo pipefail

if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "prerequisites: not a Debian system; make sure these (or their equivalents) are installed: $*" >&2
  exit 0
fi

missing=()
for package in "$@"; do
  status="$(dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null || true)"
  [ "$status" = "installed" ] || missing+=("$package")
done
[ "${#missing[@]}" -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "prerequisites: missing Debian packages: ${missing[*]}; install them with: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "prerequisites: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
