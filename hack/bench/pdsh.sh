#!/usr/bin/env bash
# pdsh.sh DIR down|up: the pdsh contender of `make bench`. It runs the
# procedure's tiers in order, each tier's commands on its hosts with pdsh
# (ssh rcmd, fan-out $FANOUT, a new SSH connection per command, as pdsh
# does), with no check between tiers: the floor for raw SSH fan-out.
#
# DIR/<direction>/NN-Tier/K.hosts holds the addresses (comma-separated) that
# run the command line in DIR/<direction>/NN-Tier/K.cmd; hack/bench writes
# them. LAB_KEY and LAB_KNOWN_HOSTS are the lab's client key and known_hosts
# (host keys are checked).
set -uo pipefail
dir=$1/$2
: "${LAB_KEY:?}" "${LAB_KNOWN_HOSTS:?}" "${FANOUT:=32}"
export PDSH_RCMD_TYPE=ssh
export PDSH_SSH_ARGS="-i $LAB_KEY -o UserKnownHostsFile=$LAB_KNOWN_HOSTS -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes -o BatchMode=yes -o ConnectTimeout=10 -o LogLevel=ERROR -l%u %h"
rc=0
for t in "$dir"/*/; do
  pids=()
  for h in "$t"*.hosts; do
    [ -e "$h" ] || continue
    pdsh -R ssh -l dirac -f "$FANOUT" -w "$(cat "$h")" "$(cat "${h%.hosts}.cmd")" &
    pids+=($!)
  done
  for p in "${pids[@]}"; do
    wait "$p" || rc=1
  done
  echo "pdsh.sh: $(date -u +%H:%M:%S.%N) $(basename "$t") done"
done
exit "$rc"
