# shellcheck shell=sh
# probe.sh reads, in one round trip, everything a step decides on: the
# DIRAC root, the startup and startup-save links, runit's view of each
# startup link, whether each link's run script is an agent's, the manifest,
# mysqld, and the InnoDB journal. Args: diracRoot manifestName mysqlServer
# journalFrom journalTo runitBin nready ready... (all but the first two may
# be empty, nready 0). It is run at every
# poll, so it starts few processes: one readlink, one runsvstat and one
# grep for all the links, not one per link, and no pipelines. (GNU's
# readlink takes several links and prints a line each; where its lines do
# not pair up with the links, e.g. a readlink taking one operand or a link
# gone meanwhile, it runs once per link.)
#
# The runit tools are looked for where sites put them: runitBin, the
# session's PATH, /sbin, /usr/sbin; runit 1.x's runsvctrl and runsvstat
# first, else runit 2's sv (whose "sv status" lines are reported as they
# are). A host with neither says so: a state it cannot read is never
# "stopped". With a readiness argv (spec.database.service.ready), it is run
# and its exit status reported: the database answers, or not.
#
# More arguments make it wait on the host first (see procedure.Wait): mode
# ("down" or "up"), then tick, budget, settle and rest in milliseconds, the
# number of links and their names, then the commands that wait for the
# wait (Wait.After, as run_ops takes them). It reads runsv's supervise/stat
# of each link with the shell's own read, forking only sleep once per tick,
# until every link is down (or runs), or the budget is spent. In "up" mode
# it then sleeps settle if a link was not running at the first look (the
# last one started less than a tick ago), or rest if all were, but never
# past the budget: the controller waits for what is left of an uptime
# beyond it through a requeue, not through probe after probe. The commands
# run only when the wait was met in full (every link down, or up for the
# whole settle): parking links once they are all down spares a session.
# The report that follows is the same as without a wait: the wait only
# chooses when to look, and the report verifies what the commands did.
root=$1 manifest=$2 mysql=$3 jfrom=$4 jto=$5 runitbin=$6 nready=${7:-0}; shift 7
i=1
while [ "$i" -le "$nready" ]; do eval "ready_$i=\$1"; shift; i=$((i+1)); done
# ms_up sets ms to the host's uptime in milliseconds (-1 when unknown),
# without a fork: a subshell per tick would cost the host what the wait saves.
ms_up() {
  u=
  { read -r u _ < /proc/uptime; } 2>/dev/null || u=
  case $u in
    *.[0-9][0-9]) c=${u#*.}; c=${c#0}; ms=$(( ${u%.*} * 1000 + c * 10 )) ;;
    *) ms=-1 ;;
  esac
}
if [ $# -gt 0 ]; then
  mode=$1 tick=$2 budget=$3 settle=$4 rest=$5 nlinks=$6; shift 6
  # Link names are [A-Za-z0-9_.-] (the report skips others): a word list.
  links=
  while [ "$nlinks" -gt 0 ]; do links="$links $1"; shift; nlinks=$((nlinks-1)); done
  secs() { printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)); }
  # The budget is wall time: on a loaded host a tick's sleep and read take
  # longer than the tick, so ticks alone would overrun it. /proc/uptime is
  # read with the shell's own read (no fork); without it, ticks are counted.
  ms_up; up0=$ms
  first=1 spent=0 met=0
  while :; do
    all=1
    for n in $links; do
      f=$root/startup/$n/supervise/stat s=
      [ -r "$f" ] && read -r s < "$f"
      case $mode:$s in down:down*|up:run) ;; *) all=0; break;; esac
    done
    if [ $all = 1 ]; then
      [ $first = 1 ] || rest=$settle
      # An uptime beyond the budget is slept up to the budget: the next pass
      # waits for the rest, instead of a probe after probe while it runs.
      met=1
      [ $((spent + rest)) -le "$budget" ] || { rest=$((budget - spent)); [ "$mode" = down ] || met=0; }
      if [ "$mode" = up ] && [ "$rest" -gt 0 ]; then sleep "$(secs "$rest")"; fi
      break
    fi
    first=0
    [ "$spent" -lt "$budget" ] || break
    t=$tick; [ $((spent + t)) -le "$budget" ] || t=$((budget - spent))
    sleep "$(secs "$t")"; spent=$((spent + t))
    ms_up
    if [ "$up0" -ge 0 ] && [ "$ms" -ge 0 ] && [ $((ms - up0)) -gt "$spent" ]; then spent=$((ms - up0)); fi
  done
  [ $met = 0 ] || run_ops "$@"
fi
printf 'now\t%s\n' "$(date -u +%s)"
# The boot id tells a reboot since the last look (boot tracking).
b=
[ -r /proc/sys/kernel/random/boot_id ] && read -r b < /proc/sys/kernel/random/boot_id
[ -z "$b" ] || printf 'boot\t%s\n' "$b"
if [ ! -d "$root" ]; then printf 'root\tmissing\n'; exit 0; fi
printf 'root\tok\n'
# An executable file only, looked up without a fork: bash's command -v
# names a PATH file that cannot run.
tool() {
  t=
  if [ -n "$runitbin" ] && [ -f "$runitbin/$1" ] && [ -x "$runitbin/$1" ]; then t=$runitbin/$1; return 0; fi
  o=$IFS IFS=:
  for d in $PATH; do
    if [ -f "${d:-.}/$1" ] && [ -x "${d:-.}/$1" ]; then IFS=$o t=$1; return 0; fi
  done
  IFS=$o
  for d in /sbin /usr/sbin; do
    if [ -f "$d/$1" ] && [ -x "$d/$1" ]; then t=$d/$1; return 0; fi
  done
  return 1
}
stat='' sv=''
if tool runsvctrl && ctl=$t && tool runsvstat; then stat=$t; printf 'runit\trunsv\t%s\t%s\n' "$ctl" "$stat"
elif tool sv; then stat=$t sv=1; printf 'runit\tsv\t%s\n' "$stat"
else printf 'runit\tmissing\n'; fi
for dir in startup startup-save; do
  [ -d "$root/$dir" ] || continue
  set --
  for l in "$root/$dir"/* "$root/$dir"/.[!.]*; do
    [ -L "$l" ] || continue
    case ${l##*/} in *[!A-Za-z0-9_.-]*) continue;; esac
    set -- "$@" "$l"
  done
  [ $# -gt 0 ] || continue
  ts=$(readlink -- "$@" 2>/dev/null) || ts=
  left=$ts c=1
  while :; do case $left in *"
"*) left=${left#*"
"}; c=$((c+1));; *) break;; esac; done
  [ $c -eq $# ] || ts=
  for l; do
    shift
    if [ -n "$ts" ]; then t=${ts%%"
"*}; ts=${ts#*"
"}; else t=$(readlink -- "$l") || continue; fi
    case $t in *"	"*|*"
"*) continue;; esac
    printf '%s\t%s\t%s\n' "$dir" "${l##*/}" "$t"
    set -- "$@" "$l"
  done
  if [ "$dir" = startup ] && [ $# -gt 0 ]; then
    out=
    if [ -n "$sv" ]; then out=$("$stat" status "$@" 2>&1); elif [ -n "$stat" ]; then out=$("$stat" "$@" 2>&1); fi
    while IFS= read -r s; do
      case $s in
        "runsvstat: warning: $root/startup/"*) n=${s#"runsvstat: warning: $root/startup/"}; s=${s#"runsvstat: "};;
        "$root/startup/"*) n=${s#"$root/startup/"}; s=${s#"$root/startup/"*": "};;
        *": $root/startup/"*)
          # sv: "run: DIR: (pid N) Ss; run: log: …", "warning: DIR: …", "fail: DIR: …"
          n=${s#*": $root/startup/"}
          printf 'sv\t%s\t%s: %s\n' "${n%%: *}" "${s%%": $root/startup/"*}" "${n#*: }"; continue;;
        *) continue;;
      esac
      printf 'stat\t%s\t%s\n' "${n%%: *}" "$s"
    done <<EOF
$out
EOF
    for l; do shift; set -- "$@" "$l/run"; done
    out=$(grep -ls -e dirac-agent -e dirac-executor -- "$@")
    while IFS= read -r f; do
      [ -n "$f" ] || continue
      n=${f#"$root/startup/"}; printf 'agent\t%s\n' "${n%/run}"
    done <<EOF
$out
EOF
  fi
done
if [ -f "$root/startup-save/$manifest" ]; then
  while IFS= read -r line; do printf 'manifest\t%s\n' "$line"; done < "$root/startup-save/$manifest"
fi
if [ "$nready" -gt 0 ]; then
  # shellcheck disable=SC2016 # eval's text references the arguments, never holds them
  a='"$ready_1"' i=2
  while [ $i -le "$nready" ]; do a="$a \"\$ready_$i\""; i=$((i+1)); done
  if eval "$a" >/dev/null 2>&1 </dev/null; then printf 'ready\tyes\n'; else printf 'ready\tno\n'; fi
fi
if [ -n "$mysql" ] || [ "$nready" -gt 0 ]; then
  if [ -z "$mysql" ]; then :; elif [ -x "$mysql" ]; then printf 'mysql\tpresent\n'; else printf 'mysql\tmissing\n'; fi
  # shellcheck disable=SC2009 # ps -eo is POSIX; pgrep is not on every host
  if ps -eo comm= 2>/dev/null | grep -qxE 'mysqld|mariadbd|mysqld_safe'; then printf 'mysqld\trunning\n'; else printf 'mysqld\tstopped\n'; fi
fi
if [ -n "$jfrom" ]; then
  if [ -L "$jfrom" ]; then printf 'jfrom\tlink\t%s\n' "$(readlink "$jfrom")";
  elif [ -d "$jfrom" ]; then printf 'jfrom\tdir\n';
  elif [ -e "$jfrom" ]; then printf 'jfrom\tother\n';
  else printf 'jfrom\tnone\n'; fi
  if [ -d "$jto" ]; then printf 'jto\tdir\n'; elif [ -e "$jto" ]; then printf 'jto\tother\n'; else printf 'jto\tnone\n'; fi
fi
