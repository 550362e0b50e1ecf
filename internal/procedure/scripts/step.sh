# shellcheck shell=sh
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
