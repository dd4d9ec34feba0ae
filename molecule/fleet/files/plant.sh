#!/bin/sh
# Plant guest-side serial console faults without a reboot, keeping what restore.sh needs to undo them.
# usage: plant.sh KIND...   kinds: grub_terminal grub_console_ttyS1 grub_speed cmdline_no_console
#                                  cmdline_vga_last getty securetty uart_missing
set -eu
keep=/root/fleet-plant
mkdir -p "$keep"
backup() { [ -e "$keep/$(basename "$1").orig" ] || { if [ -e "$1" ]; then cp -a "$1" "$keep/$(basename "$1").orig"; else : >"$keep/$(basename "$1").absent"; fi; }; }
fake_cmdline() { # bind-mount a made-up /proc/cmdline (the running kernel's arguments, as every reader sees them)
  printf '%s\n' "$1" >/run/fleet-cmdline
  mountpoint -q /proc/cmdline || mount --bind /run/fleet-cmdline /proc/cmdline
}
cmdline=$(cat /proc/cmdline)
for kind in "$@"; do
  case $kind in
    grub_terminal)
      backup /boot/grub/grub.cfg
      sed -i -E 's/^([[:space:]]*terminal_(input|output)) .*/\1 console/' /boot/grub/grub.cfg ;;
    grub_console_ttyS1)
      backup /boot/grub/grub.cfg
      sed -i 's/console=ttyS0/console=ttyS1/g' /boot/grub/grub.cfg ;;
    grub_speed)
      backup /boot/grub/grub.cfg
      sed -i 's/--speed=115200/--speed=9600/' /boot/grub/grub.cfg ;;
    cmdline_no_console)
      fake_cmdline "$(printf '%s' "$cmdline" | sed -E 's/ ?console=[^ ]+//g')" ;;
    cmdline_vga_last)
      fake_cmdline "$(printf '%s' "$cmdline" | sed -E 's/ ?console=[^ ]+//g') console=ttyS0,115200n8 console=tty0" ;;
    getty)
      if [ -d /run/systemd/system ]; then
        systemctl stop serial-getty@ttyS0.service
      else
        backup /etc/inittab
        sed -i -E 's/^([^#].*getty.*ttyS0.*)$/#\1/' /etc/inittab
        telinit q; sleep 2
      fi ;;
    securetty)
      backup /etc/pam.d/login
      backup /etc/securetty
      sed -i '1i auth requisite pam_securetty.so' /etc/pam.d/login
      printf 'console\ntty1\n' >/etc/securetty ;;
    uart_missing)
      echo 0 >/run/fleet-uart-type
      mountpoint -q /sys/class/tty/ttyS0/type 2>/dev/null || mount --bind /run/fleet-uart-type /sys/class/tty/ttyS0/type ;;
    *) echo "unknown kind $kind" >&2; exit 2 ;;
  esac
done
sync
