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
# (the same intervention's earlier reboots) are removed first.
dir=$1 marker=$2 prefix=$3
shift 3
if [ -e "$dir/$marker" ]; then
  printf 'reboot\tskipped\n'
  exit 0
fi
for old in "$dir/$prefix"*; do
  [ -e "$old" ] && rm -f -- "$old"
done
mkdir -p "$dir" && : > "$dir/$marker" || exit 125
trap '' HUP PIPE
"$@"
rc=$?
if [ "$rc" -ne 0 ]; then
  rm -f -- "$dir/$marker"
fi
exit "$rc"
