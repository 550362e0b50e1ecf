# shellcheck shell=sh
# journal.sh moves the InnoDB journal and links it back; it resumes a
# move interrupted between mv and ln. Args: from to.
set -e
if [ -d "$1" ] && [ ! -L "$1" ] && [ ! -e "$2" ]; then mv -T "$1" "$2"; fi
if [ ! -e "$1" ] && [ ! -L "$1" ] && [ -d "$2" ]; then ln -s "$2" "$1"; fi
