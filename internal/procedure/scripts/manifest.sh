# shellcheck shell=sh
# manifest.sh writes the manifest atomically. Args: saveDir name content.
set -e
mkdir -p "$1"
printf '%s' "$3" > "$1/.$2.tmp"
mv -f "$1/.$2.tmp" "$1/$2"
