#!/usr/bin/env bash
# install-deps.sh installs what the vobox lab (hack/lab) and the checks need
# on a Debian machine: runit, OpenSSH (server and client), MariaDB (server
# and client), procps, util-linux, sudo (the lab's sudoers rules for reboot
# and the system MariaDB), shellcheck (scripts are linted) and prometheus
# (for promtool, which checks the alerting rules). It is idempotent: when everything is installed it
# only checks, and "apt-get update" runs only when a package is missing and
# the package lists are empty or stale.
#
# Usage: sudo hack/install-deps.sh
#
# Installing openssh-server, mariadb-server or prometheus must not leave a
# system daemon behind: an sshd on 0.0.0.0:22 would take port 22 from every lab host
# (they listen on 127.X.Y.Z:22). Service starts are blocked during the
# install (policy-rc.d) and any system sshd or MariaDB found running from
# the packages' init scripts is stopped.
set -euo pipefail

PACKAGES=(runit openssh-server openssh-client mariadb-server mariadb-client procps util-linux sudo shellcheck prometheus)

log() { echo "install-deps: $*" >&2; }

installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q '^install ok installed$'
}

missing=()
for p in "${PACKAGES[@]}"; do
  installed "$p" || missing+=("$p")
done

if ((${#missing[@]} > 0)); then
  if [[ $(id -u) -ne 0 ]]; then
    log "missing: ${missing[*]}; run as root: sudo $0"
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  # Block service starts from maintainer scripts while installing, unless a
  # policy is already in place (containers usually have one).
  policy=/usr/sbin/policy-rc.d
  own_policy=false
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    own_policy=true
  fi
  trap '[[ $own_policy == true ]] && rm -f "$policy"' EXIT
  # Update the lists only when needed: none at all, older than a day, or
  # an install that fails for want of a candidate.
  lists=(/var/lib/apt/lists/*_Packages)
  if [[ ! -e ${lists[0]} ]] || [[ -z $(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages' -mtime -1 -print -quit) ]]; then
    log "apt-get update"
    apt-get update -qq
  fi
  log "apt-get install ${missing[*]}"
  if ! apt-get install -y -qq --no-install-recommends "${missing[@]}"; then
    log "install failed; updating the package lists and retrying"
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
fi

# No system daemon may keep port 22 or run a MariaDB of its own.
stop_sshd() {
  if [[ -s /run/sshd.pid ]] && kill -0 "$(cat /run/sshd.pid)" 2>/dev/null; then
    if [[ $(id -u) -ne 0 ]]; then
      log "a system sshd is running (pid $(cat /run/sshd.pid)) and would take port 22 from the lab hosts; stop it as root: /etc/init.d/ssh stop"
      return 1
    fi
    log "stopping the system sshd (it listens on port 22 of every address)"
    /etc/init.d/ssh stop >/dev/null 2>&1 || kill "$(cat /run/sshd.pid)"
  fi
}
stop_mariadb() {
  local pidfile=/run/mysqld/mysqld.pid
  if [[ -s $pidfile ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    if [[ $(id -u) -eq 0 ]]; then
      log "stopping the system MariaDB (the lab runs its own instances)"
      /etc/init.d/mariadb stop >/dev/null 2>&1 || kill "$(cat "$pidfile")"
    fi
  fi
}
stop_sshd
stop_mariadb

for p in "${PACKAGES[@]}"; do
  if ! installed "$p"; then
    log "$p is still not installed"
    exit 1
  fi
done
log "ok: ${PACKAGES[*]}"
