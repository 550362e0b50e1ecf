# shellcheck shell=sh
# step.sh runs a step's commands (run_ops, ops.sh) and then probe.sh in one
# session, so that the probe which verifies a move (and waits for what it
# set off) rides along with it. Args: for each command, its argument count
# and its arguments; then "--" and probe.sh's arguments.
run_ops "$@"
# shellcheck disable=SC2154 # ran is set by run_ops (ops.sh, put before)
shift "$ran"
shift
