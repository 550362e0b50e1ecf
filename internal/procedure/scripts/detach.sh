# shellcheck shell=sh
# detach.sh is put before the scripts whose command, once started, must run
# to its end together with the marker that records it (maintenance.sh,
# reboot.sh). Every remote command runs behind the executor's watchdog,
# which kills the command's process group when its session ends: when the
# controller is killed, or loses its connection, in the middle of such a
# command, the command could have acted while its marker is not written
# (a maintenance command then runs twice), or the marker could be written
# while the command never ran (a reboot marked as sent is never sent).
#
# detached LOCK CMD... runs CMD in a session of its own (setsid: out of the
# watchdog's reach) while it holds an exclusive lock on the file LOCK
# (flock: a resumed controller that runs the same operation again waits for
# the one still running, then finds its marker). Both are util-linux, on
# every Enterprise Linux and Debian host; without them CMD runs in place,
# as before. Its exit status is CMD's.
detached() {
  detach_lock=$1
  shift
  if command -v flock >/dev/null 2>&1; then
    set -- flock "$detach_lock" "$@"
  fi
  if command -v setsid >/dev/null 2>&1; then
    set -- setsid "$@"
  fi
  "$@"
}
