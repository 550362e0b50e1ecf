# shellcheck shell=sh
# links.sh moves named links from one directory to another without
# ever overwriting: a name already present at the destination is reported
# and left alone. mv -T never moves a link into a directory its name points
# at. Args: fromDir toDir name...
from=$1 to=$2; shift 2
mkdir -p "$to"
for n; do
  if [ -e "$to/$n" ] || [ -L "$to/$n" ]; then printf 'exists\t%s\n' "$n"; continue; fi
  if [ ! -L "$from/$n" ]; then printf 'absent\t%s\n' "$n"; continue; fi
  mv -n -T "$from/$n" "$to/$n" && printf 'moved\t%s\n' "$n"
done
