# shellcheck shell=sh
# logscan.sh prints the last five lines of each component's log written at
# or after a time that fail its check: a line whose DIRAC level (the first
# level name followed by ":" after the time stamp, e.g. "ERROR:") is one of
# the levels, or whose message (what follows the level) contains one of the
# patterns, as fixed strings. So RequestHandler's NOTICE "Returning response
# … ERROR: …" fails only by a pattern. DIRAC v9 stamps a line
# "2026-11-30T12:00:01,123456Z System/Component LEVEL: message", v7/v8
# "2026-11-30 12:00:01 UTC System/Component LEVEL: message"; both compare
# as "YYYY-MM-DD hh:mm:ss". A line without a time stamp (a traceback's
# continuation) belongs to the line before it and is all message. svlogd's
# rotated files (@<tai64n>.s, .u after a power cut), named after when they
# were rotated, are read before log/current when rotated at or after the
# time: lines of the window may sit in them. One awk reads every log: the
# levels and patterns reach it through the environment (never as program
# text or -v, which would interpret backslashes), each log's link and time
# as the assignment operands before it. Args: root nlevels level...
# npatterns pattern... then triples of link, since ("YYYY-MM-DD hh:mm:ss")
# and since in Unix seconds.
root=$1 nl=$2; shift 2
i=1
while [ "$i" -le "$nl" ]; do eval "VOBOX_LEVEL_$i=\$1"; export "VOBOX_LEVEL_$i"; shift; i=$((i+1)); done
np=$1; shift
i=1
while [ "$i" -le "$np" ]; do eval "VOBOX_PATTERN_$i=\$1"; export "VOBOX_PATTERN_$i"; shift; i=$((i+1)); done
hex='[0-9a-f]'
k=$(($# / 3))
while [ "$k" -gt 0 ]; do
  d=$root/startup/$1/log
  for f in "$d"/@*; do
    # @ then TAI64N: 2^62+10+seconds in 16 hex digits, nanoseconds in 8.
    n=${f##*/@}
    # shellcheck disable=SC2254 # $hex is a pattern on purpose
    case $n in 4000000$hex$hex$hex$hex$hex$hex$hex$hex$hex$hex$hex$hex$hex$hex$hex$hex$hex.[su]) ;; *) continue;; esac
    n=${n#4000000}; n=${n%??????????}
    [ $((0x$n - 10)) -ge "$3" ] && [ -r "$f" ] && set -- "$@" "link=$1" "since=$2" "$f"
  done
  [ -r "$d/current" ] && set -- "$@" "link=$1" "since=$2" "$d/current"
  shift 3; k=$((k-1))
done
[ $# -gt 0 ] || exit 0
exec awk -v nl="$nl" -v np="$np" '
function flush(i) { for (i = 1; i <= nb; i++) printf "finding\t%s\t%s\n", cur, buf[i]; nb = 0 }
function keep(line, j) {
  if (nb == 5) { for (j = 1; j < 5; j++) buf[j] = buf[j + 1]; nb = 4 }
  buf[++nb] = line
}
function matches(s, i) { for (i = 1; i <= np; i++) if (index(s, pat[i]) > 0) return 1; return 0 }
BEGIN {
  for (i = 1; i <= nl; i++) fail[ENVIRON["VOBOX_LEVEL_" i]] = 1
  for (i = 1; i <= np; i++) pat[i] = ENVIRON["VOBOX_PATTERN_" i]
}
FNR == 1 { if (link != cur) flush(); cur = link; in_window = 0 }
/^[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9][ T][0-9][0-9]:[0-9][0-9]:[0-9][0-9]/ {
  in_window = (substr($0, 1, 10) " " substr($0, 12, 8) >= since)
  if (!in_window) next
  level = ""; msg = $0
  for (i = 2; i <= NF && i <= 8; i++) if ($i ~ /^(DEBUG|VERBOSE|INFO|WARN|NOTICE|ERROR|FATAL|ALWAYS):$/) {
    level = substr($i, 1, length($i) - 1)
    msg = substr($0, index($0, " " $i) + length($i) + 2)
    break
  }
  if ((level in fail) || matches(msg)) keep($0)
  next
}
in_window && matches($0) { keep($0) }
END { flush() }
' "$@"
