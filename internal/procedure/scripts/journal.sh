# shellcheck shell=sh
set -e
if [ -d "$1" ] && [ ! -L "$1" ] && [ ! -e "$2" ]; then mv -T "$1" "$2"; fi
if [ ! -e "$1" ] && [ ! -L "$1" ] && [ -d "$2" ]; then ln -s "$2" "$1"; fi
