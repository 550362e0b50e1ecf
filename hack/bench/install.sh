#!/usr/bin/env bash
# install.sh installs what only `make bench` needs, on top of hack/install-deps.sh:
# Debian's ansible (with ansible-core) and pdsh. Idempotent; apt-get update
# runs only when a package is missing.
#
# Usage: sudo hack/bench/install.sh
set -euo pipefail

PACKAGES=(ansible pdsh)

installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q '^install ok installed$'
}

missing=()
for p in "${PACKAGES[@]}"; do
  installed "$p" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "bench install: missing ${missing[*]}; run as root: sudo $0" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
echo "bench install: apt-get install ${missing[*]}" >&2
if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
for p in "${PACKAGES[@]}"; do
  installed "$p" || { echo "bench install: $p is still not installed" >&2; exit 1; }
done
