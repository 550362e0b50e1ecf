# shellcheck shell=sh
# maintenance.sh runs a maintenance command (spec.maintenance.set or clear)
# at most once per host per direction. Args: markerDir marker other lock,
# then the command's argv. A marker says the command ran: present, the
# command is not run again (a controller killed between the command and its
# status write probes it here); the command exiting 0 writes it and removes
# the other direction's marker, so that the next Down (or Up) of the same
# intervention runs again. The check, the command and the marker run
# detached (detach.sh), under the lock file: a cut session does not split
# them, and a second run waits for the first. The command's output goes
# through files of this run, so that it does not fail on a closed session;
# those of a run whose session was cut are removed by the next. Once the
# marker is written the lock file goes too: a run still waiting on it, or
# one that makes a new one, finds the marker.
dir=$1 marker=$2 other=$3 lock=$4
shift 4
mkdir -p "$dir" || exit 125
trap '' HUP PIPE
out=$dir/.$marker.$$
# shellcheck disable=SC2016 # the inner shell expands them
detached "$dir/$lock" sh -c '
dir=$1 marker=$2 other=$3 out=$4 lock=$5
shift 5
for left in "$dir/.$marker".*; do
  case $left in "$out" | "$out.err") ;; *) rm -f -- "$left" ;; esac
done
if [ -e "$dir/$marker" ]; then
  rm -f -- "$lock"
  printf "maintenance\tskipped\n" > "$out"
  exit 0
fi
"$@" > "$out" 2> "$out.err"
rc=$?
if [ "$rc" -eq 0 ]; then
  { : > "$dir/.$marker.tmp" && mv -f "$dir/.$marker.tmp" "$dir/$marker" && rm -f "$dir/$other" "$lock"; } || rc=1
  printf "\nmaintenance\tran\n" >> "$out"
fi
exit "$rc"' vobox-maintenance-run "$dir" "$marker" "$other" "$out" "$dir/$lock" "$@"
rc=$?
cat "$out" 2>/dev/null
cat "$out.err" >&2 2>/dev/null
rm -f "$out" "$out.err"
exit "$rc"
