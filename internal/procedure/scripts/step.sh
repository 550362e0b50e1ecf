# shellcheck shell=sh
# step.sh runs a step's commands and then probe.sh in one session, so
# that the probe which verifies a move (and waits for what it set off) rides
# along with it. Args: for each command, its argument count and its
# arguments; then "--" and probe.sh's arguments. The arguments are only
# ever referenced ("${3}"), never spliced into the text that eval runs. Each
# command's output (stderr merged) is followed by a line with exitMarker and
# its exit status; the first command that fails ends the script before the
# others and the probe.
while [ "$1" != -- ]; do
  n=$1; shift; i=2
  # shellcheck disable=SC2016 # eval's text references the arguments, never holds them
  a='"$1"'
  while [ $i -le "$n" ]; do a="$a \"\${$i}\""; i=$((i+1)); done
  eval "$a" 2>&1
  rc=$?; shift "$n"
  printf '\n\036vobox-exit\t%d\n' $rc
  [ $rc = 0 ] || exit 0
done
shift
