# shellcheck shell=sh
# journal.sh moves the InnoDB journal and links it back; it resumes a
# move interrupted between mv and ln. Args: from to. It leaves the journal
# alone while mysqld runs, so that it may ride in the session of the stop.
set -e
# shellcheck disable=SC2009 # ps -eo is POSIX; pgrep is not on every host
if ps -eo comm= 2>/dev/null | grep -qxE 'mysqld|mariadbd|mysqld_safe'; then
  printf 'mysqld runs: the journal stays\n'; exit 0
fi
if [ -d "$1" ] && [ ! -L "$1" ] && [ ! -e "$2" ]; then mv -T "$1" "$2"; fi
if [ ! -e "$1" ] && [ ! -L "$1" ] && [ -d "$2" ]; then ln -s "$2" "$1"; fi
