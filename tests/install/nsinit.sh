#!/bin/sh
# tests/install/nsinit.sh ROOT MODE COMMAND... - the first process of the
# install test's namespaces (run by unshare --mount --pid --fork
# --kill-child, and for MODE=test also --net --uts --ipc): gives ROOT the
# file systems a booted system has (a fresh /proc of the new PID namespace,
# a small /dev, an empty /run, /sys read-only), and in MODE=test brings up
# lo and names the host; then runs COMMAND chrooted in ROOT.  Every mount
# lives in this mount namespace and every process in this PID namespace:
# when COMMAND ends (or unshare is killed), all of it goes.
set -eu
R=$1
MODE=$2
shift 2

# The root a mount of its own, so that a unit's sandbox can make it
# read-only in the unit's mount namespace (unitrun.py).
mount --bind "$R" "$R"
mount -t proc -o nosuid,nodev,noexec proc "$R/proc"
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$R/sys" 2>/dev/null ||
	mount --rbind -o ro /sys "$R/sys"
mount -t tmpfs -o mode=0755,nosuid,size=16m dev "$R/dev"
for n in null:1:3 zero:1:5 full:1:7 random:1:8 urandom:1:9 tty:5:0; do
	name=${n%%:*}; mm=${n#*:}
	mknod -m 0666 "$R/dev/$name" c "${mm%%:*}" "${mm#*:}"
done
mkdir -m 0755 "$R/dev/pts" "$R/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$R/dev/pts"
ln -s pts/ptmx "$R/dev/ptmx"
chmod 1777 "$R/dev/shm"
ln -s /proc/self/fd "$R/dev/fd"
ln -s /proc/self/fd/0 "$R/dev/stdin"
ln -s /proc/self/fd/1 "$R/dev/stdout"
ln -s /proc/self/fd/2 "$R/dev/stderr"
mount -t tmpfs -o mode=0755,nosuid,nodev,size=64m run "$R/run"
mkdir -m 1777 "$R/run/lock"

if [ "$MODE" = test ]; then
	ip link set lo up
	hostname "$(cat "$R/etc/hostname")"
fi

exec chroot "$R" "$@"
