#!/bin/sh
# Undo everything plant.sh did; a no-op when nothing was planted.
set -eu
keep=/root/fleet-plant
while grep -q ' /proc/cmdline ' /proc/mounts; do umount /proc/cmdline; done
while grep -q ' /sys/class/tty/ttyS0/type ' /proc/mounts; do umount /sys/class/tty/ttyS0/type; done
rm -f /run/fleet-cmdline /run/fleet-uart-type
[ -d "$keep" ] || exit 0
for f in /boot/grub/grub.cfg /etc/inittab /etc/pam.d/login /etc/securetty; do
  b=$keep/$(basename "$f")
  if [ -e "$b.orig" ]; then cp -a "$b.orig" "$f"; elif [ -e "$b.absent" ]; then rm -f "$f"; fi
done
rm -rf "$keep"
if [ -d /run/systemd/system ]; then
  systemctl start serial-getty@ttyS0.service
else
  telinit q
fi
sync
