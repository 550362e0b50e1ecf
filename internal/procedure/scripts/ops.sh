# shellcheck shell=sh
# ops.sh defines run_ops, which runs commands given as groups of an
# argument count and the arguments, up to "--" or the end, and sets ran to
# the number of arguments it took. The arguments are only ever referenced
# ("${3}"), never spliced into the text that eval runs. Each command's
# output (stderr merged) is followed by a line with exitMarker and its exit
# status; the first command that fails ends the whole script, before the
# commands after it and the probe. step.sh runs a step's queued commands
# with it; probe.sh the commands that wait for its wait (Wait.After).
run_ops() {
  ran=0
  while [ $# -gt 0 ] && [ "$1" != -- ]; do
    n=$1; shift; i=2
    # shellcheck disable=SC2016 # eval's text references the arguments, never holds them
    a='"$1"'
    while [ $i -le "$n" ]; do a="$a \"\${$i}\""; i=$((i+1)); done
    eval "$a" 2>&1
    rc=$?; shift "$n"; ran=$((ran + n + 1))
    printf '\n\036vobox-exit\t%d\n' $rc
    [ $rc = 0 ] || exit 0
  done
}
