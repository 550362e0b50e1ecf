# shellcheck shell=sh
# logscan.sh prints the last five lines of each component's log/current
# written at or after a time that contain one of the patterns (as fixed
# strings). A line without DIRAC's timestamp (a traceback's continuation)
# belongs to the line before it. One awk reads every log: the patterns reach
# it through the environment (never as program text or -v, which would
# interpret backslashes), each log's link and time as the assignment
# operands before it. Args: root npatterns pattern... then pairs of link
# and since ("YYYY-MM-DD hh:mm:ss").
root=$1 np=$2; shift 2
i=1
while [ "$i" -le "$np" ]; do eval "VOBOX_PATTERN_$i=\$1"; export "VOBOX_PATTERN_$i"; shift; i=$((i+1)); done
k=$(($# / 2))
while [ "$k" -gt 0 ]; do
  f=$root/startup/$1/log/current
  [ -r "$f" ] && set -- "$@" "link=$1" "since=$2" "$f"
  shift 2; k=$((k-1))
done
[ $# -gt 0 ] || exit 0
exec awk -v np="$np" '
function flush(i) { for (i = 1; i <= nb; i++) printf "finding\t%s\t%s\n", cur, buf[i]; nb = 0 }
BEGIN { for (i = 1; i <= np; i++) pat[i] = ENVIRON["VOBOX_PATTERN_" i] }
FNR == 1 { flush(); cur = link; in_window = 0 }
/^[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9] [0-9][0-9]:[0-9][0-9]:[0-9][0-9]/ { in_window = (substr($0, 1, 19) >= since) }
in_window {
  for (i = 1; i <= np; i++) if (index($0, pat[i]) > 0) {
    if (nb == 5) { for (j = 1; j < 5; j++) buf[j] = buf[j + 1]; nb = 4 }
    buf[++nb] = $0
    break
  }
}
END { flush() }
' "$@"
