# shellcheck shell=sh
# maintenance.sh runs a maintenance command (spec.maintenance.set or clear)
# at most once per host per direction. Args: markerDir marker other, then
# the command's argv. A marker written in the same session as the command
# says it ran: present, the command is not run again (a controller killed
# between the command and its status write probes it here); the command
# exiting 0 writes it and removes the other direction's marker, so that the
# next Down (or Up) of the same intervention runs again. The shell ignores
# the hangup of a cut session, so the command and its marker go together.
dir=$1 marker=$2 other=$3
shift 3
if [ -e "$dir/$marker" ]; then
  printf 'maintenance\tskipped\n'
  exit 0
fi
trap '' HUP PIPE
"$@"
rc=$?
if [ "$rc" -eq 0 ]; then
  mkdir -p "$dir" && : > "$dir/.$marker.tmp" && mv -f "$dir/.$marker.tmp" "$dir/$marker" && rm -f "$dir/$other" || rc=1
  printf '\nmaintenance\tran\n'
fi
exit "$rc"
