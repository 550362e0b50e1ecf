# shellcheck shell=sh
# reboot.sh runs the reboot command (spec.reboot.command) at most once per
# boot of the host for one step of an intervention. Args: markerDir marker
# prefix, then the command's argv; the marker's name holds the boot id the
# reboot must end. The marker is written before the command runs, because
# the command does not come back: the host goes down under it and the
# session drops. Present, the command is not run again: a controller killed
# after it marked the reboot as sent in its status sends it again through
# here, and a host that got it reboots once. The marker survives the boot
# that ends (it sits in startup-save), so it also stops a send that comes
# after the reboot. The command exiting non-zero did not reboot the host:
# the marker is removed, so that a retry runs it. Markers of the prefix
# (the same intervention's earlier reboots) are removed first. The check,
# the marker and the command run detached (detach.sh), under the host's
# reboot lock: a cut session cannot leave a marker without its command.
dir=$1 marker=$2 prefix=$3
shift 3
mkdir -p "$dir" || exit 125
trap '' HUP PIPE
# shellcheck disable=SC2016 # the inner shell expands them
detached "$dir/.vobox-reboot.lock" sh -c '
dir=$1 marker=$2 prefix=$3
shift 3
if [ -e "$dir/$marker" ]; then
  printf "reboot\tskipped\n"
  exit 0
fi
for old in "$dir/$prefix"*; do
  if [ -e "$old" ]; then rm -f -- "$old"; fi
done
: > "$dir/$marker" || exit 125
"$@"
rc=$?
if [ "$rc" -ne 0 ]; then
  rm -f -- "$dir/$marker"
fi
exit "$rc"' vobox-reboot-run "$dir" "$marker" "$prefix" "$@"
rc=$?
exit "$rc"
