# shellcheck shell=sh
root=$1 manifest=$2 mysql=$3 jfrom=$4 jto=$5
if [ $# -gt 5 ]; then
  mode=$6 tick=$7 budget=$8 settle=$9 rest=${10}; shift 10
  secs() { printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)); }
  first=1 spent=0
  while :; do
    all=1
    for n; do
      f=$root/startup/$n/supervise/stat s=
      [ -r "$f" ] && read -r s < "$f"
      case $mode:$s in down:down*|up:run) ;; *) all=0; break;; esac
    done
    if [ $all = 1 ]; then
      [ $first = 1 ] || rest=$settle
      if [ "$mode" = up ] && [ "$rest" -gt 0 ] && [ $((spent + rest)) -le "$budget" ]; then sleep "$(secs "$rest")"; fi
      break
    fi
    first=0
    [ $((spent + tick)) -le "$budget" ] || break
    sleep "$(secs "$tick")"; spent=$((spent + tick))
  done
fi
printf 'now\t%s\n' "$(date -u +%s)"
if [ ! -d "$root" ]; then printf 'root\tmissing\n'; exit 0; fi
printf 'root\tok\n'
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
    out=$(runsvstat "$@" 2>&1)
    while IFS= read -r s; do
      case $s in
        "runsvstat: warning: $root/startup/"*) n=${s#"runsvstat: warning: $root/startup/"}; s=${s#"runsvstat: "};;
        "$root/startup/"*) n=${s#"$root/startup/"}; s=${s#"$root/startup/"*": "};;
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
if [ -n "$mysql" ]; then
  if [ -x "$mysql" ]; then printf 'mysql\tpresent\n'; else printf 'mysql\tmissing\n'; fi
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
