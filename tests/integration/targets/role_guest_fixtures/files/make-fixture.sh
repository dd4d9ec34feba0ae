#!/usr/bin/env bash
# make-fixture.sh NAME ROOT: a prepared root file system as NAME ships it, with fake GRUB tools in usr/sbin.
set -euo pipefail
name=$1 root=$2 here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$root"; mkdir -p "$root"/{etc/pam.d,etc/default,usr/sbin,sbin,proc/1,boot,dev,sys/class/tty/ttyS0}
cd "$root"
: > .fixture-root
: > dev/ttyS0
echo 4 > sys/class/tty/ttyS0/type                      # 4 = 16550A: a live UART
tool() { cp "$here/bin/$1" "usr/sbin/$2"; chmod 755 "usr/sbin/$2"; }
osrel() { printf 'NAME="%s"\nID=%s\nVERSION_ID="%s"\n%s' "$1" "$2" "$3" "${4:+ID_LIKE=\"$4\"
}" > etc/os-release; }
systemd_init() {
  mkdir -p lib/systemd/system usr/lib/systemd/system etc/systemd/system
  ln -s /lib/systemd/systemd sbin/init; echo systemd > proc/1/comm
  printf '[Unit]\nDescription=Serial Getty on %%I\n[Install]\nWantedBy=getty.target\n' > lib/systemd/system/serial-getty@.service
}
debian_grub() {
  cat > etc/default/grub <<'G'
# If you change this file, run 'update-grub' afterwards to update
# /boot/grub/grub.cfg.
GRUB_DEFAULT=0
GRUB_TIMEOUT=5
GRUB_DISTRIBUTOR=`( . /etc/os-release; echo ${NAME:-Debian} ) 2>/dev/null || echo Debian`
GRUB_CMDLINE_LINUX_DEFAULT="quiet"
GRUB_CMDLINE_LINUX="net.ifnames=0 apparmor=0"
G
  mkdir -p boot/grub; : > boot/vmlinuz-6.1.0-28-amd64
  tool fake-mkconfig update-grub; tool fake-mkconfig grub-mkconfig
}
case $name in
  debian12)
    osrel "Debian GNU/Linux" debian 12; systemd_init; debian_grub
    printf 'auth       requisite  pam_nologin.so\n@include common-auth\n' > etc/pam.d/login
    printf 'auth [success=1 default=ignore] pam_unix.so nullok\n' > etc/pam.d/common-auth
    echo "BOOT_IMAGE=/boot/vmlinuz-6.1.0-28-amd64 root=UUID=0000-fixture ro quiet" > proc/cmdline
    ;;
  ubuntu2204-cloud)
    osrel Ubuntu ubuntu 22.04 debian; systemd_init; debian_grub
    mkdir -p etc/default/grub.d
    cat > etc/default/grub.d/50-cloudimg-settings.cfg <<'G'
# Cloud Image specific Grub settings for Generic Cloud Images
# CLOUD_IMG: This file was created/modified by the Cloud Image build process
GRUB_RECORDFAIL_TIMEOUT=0
GRUB_TIMEOUT=0
GRUB_CMDLINE_LINUX_DEFAULT="console=tty1 console=ttyS0"
GRUB_TERMINAL=console
G
    printf 'GRUB_FORCE_PARTUUID=0000-fixture\n' > etc/default/grub.d/40-force-partuuid.cfg
    printf '@include common-auth\n' > etc/pam.d/login; printf 'auth required pam_unix.so\n' > etc/pam.d/common-auth
    echo "BOOT_IMAGE=/vmlinuz-5.15.0-91-generic root=LABEL=cloudimg-rootfs ro console=tty1 console=ttyS0" > proc/cmdline
    ;;
  debian10-sysvinit)
    osrel "Debian GNU/Linux" debian 10; debian_grub
    printf '#!/bin/sh\n' > sbin/init; chmod 755 sbin/init; echo init > proc/1/comm
    cp "$here/bin/fake-recorder" sbin/telinit
    cat > etc/inittab <<'G'
# /etc/inittab: init(8) configuration.
id:2:initdefault:
si::sysinit:/etc/init.d/rcS
1:2345:respawn:/sbin/getty --noclear 38400 tty1
2:23:respawn:/sbin/getty 38400 tty2
# Example how to put a getty on a serial line (for a terminal)
#
#T0:23:respawn:/sbin/getty -L ttyS0 9600 vt100
#T1:23:respawn:/sbin/getty -L ttyS1 9600 vt100
G
    printf 'auth [success=ok new_authtok_reqd=ok ignore=ignore user_unknown=bad default=die] pam_securetty.so\n@include common-auth\n' > etc/pam.d/login
    printf 'console\ntty1\ntty2\n' > etc/securetty
    echo "BOOT_IMAGE=/boot/vmlinuz-6.1.0-28-amd64 root=UUID=0000-fixture ro quiet" > proc/cmdline
    ;;
  rhel9-uefi)
    osrel "Red Hat Enterprise Linux" rhel 9.4 "fedora"; systemd_init
    cat > etc/default/grub <<'G'
GRUB_TIMEOUT=5
GRUB_DISTRIBUTOR="$(sed 's, release .*$,,g' /etc/system-release 2>/dev/null)"
GRUB_DEFAULT=saved
GRUB_DISABLE_SUBMENU=true
GRUB_TERMINAL_OUTPUT="console"
GRUB_CMDLINE_LINUX="crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M resume=/dev/mapper/rhel-swap rd.lvm.lv=rhel/root rd.lvm.lv=rhel/swap rhgb quiet"
GRUB_DISABLE_RECOVERY="true"
GRUB_ENABLE_BLSCFG=true
G
    mkdir -p boot/loader/entries boot/grub2 boot/efi/EFI/redhat sys/firmware/efi etc/kernel
    # shellcheck disable=SC2016 # $tuned_initrd, $grub_users and $prefix are GRUB variables, written literally
    for v in 5.14.0-427.13.1.el9_4.x86_64 5.14.0-362.8.1.el9_3.x86_64; do
      printf 'title Red Hat Enterprise Linux (%s) 9.4 (Plow)\nversion %s\nlinux /vmlinuz-%s\ninitrd /initramfs-%s.img $tuned_initrd\noptions root=/dev/mapper/rhel-root ro crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M resume=/dev/mapper/rhel-swap rd.lvm.lv=rhel/root rd.lvm.lv=rhel/swap rhgb quiet console=ttyS0\ngrub_users $grub_users\ngrub_arg --unrestricted\ngrub_class rhel\n' "$v" "$v" "$v" "$v" > "boot/loader/entries/0123456789abcdef-$v.conf"
    done
    printf 'root=/dev/mapper/rhel-root ro crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M rhgb quiet\n' > etc/kernel/cmdline
    # shellcheck disable=SC2016
    printf 'search --no-floppy --fs-uuid --set=dev 0000-fixture\nset prefix=($dev)/grub2\nexport $prefix\nconfigfile $prefix/grub.cfg\n' > boot/efi/EFI/redhat/grub.cfg
    printf 'terminal_output console\ninsmod blscfg\nblscfg\n' > boot/grub2/grub.cfg
    tool fake-mkconfig grub2-mkconfig
    printf '#%%PAM-1.0\nauth       substack     system-auth\n' > etc/pam.d/login
    printf 'auth required pam_env.so\nauth sufficient pam_unix.so\n' > etc/pam.d/system-auth
    echo "BOOT_IMAGE=(hd0,gpt2)/vmlinuz-5.14.0-427.13.1.el9_4.x86_64 root=/dev/mapper/rhel-root ro rhgb quiet" > proc/cmdline
    ;;
  rocky8-bios)
    osrel "Rocky Linux" rocky 8.9 "rhel centos fedora"; systemd_init
    cat > etc/default/grub <<'G'
GRUB_TIMEOUT=5
GRUB_DEFAULT=saved
GRUB_TERMINAL_OUTPUT="console"
GRUB_CMDLINE_LINUX="resume=/dev/mapper/rl-swap rd.lvm.lv=rl/root rhgb quiet"
GRUB_ENABLE_BLSCFG=true
G
    mkdir -p boot/loader/entries boot/grub2
    # shellcheck disable=SC2016 # $kernelopts and $tuned_params are GRUB variables, written literally
    printf 'title Rocky Linux (4.18.0-513.el8.x86_64) 8.9\nversion 4.18.0-513.el8.x86_64\nlinux /vmlinuz-4.18.0-513.el8.x86_64\noptions $kernelopts $tuned_params\n' > boot/loader/entries/0123-4.18.0-513.el8.x86_64.conf
    env='# GRUB Environment Block
saved_entry=0123-4.18.0-513.el8.x86_64
kernelopts=root=/dev/mapper/rl-root ro resume=/dev/mapper/rl-swap rd.lvm.lv=rl/root rhgb quiet
'
    { printf '%s' "$env"; head -c $((1024 - ${#env})) /dev/zero | tr '\0' '#'; } > boot/grub2/grubenv
    printf 'terminal_output console\ninsmod blscfg\nblscfg\n' > boot/grub2/grub.cfg
    tool fake-mkconfig grub2-mkconfig
    printf 'auth substack system-auth\n' > etc/pam.d/login; printf 'auth sufficient pam_unix.so\n' > etc/pam.d/system-auth
    echo "BOOT_IMAGE=(hd0,msdos1)/vmlinuz-4.18.0-513.el8.x86_64 root=/dev/mapper/rl-root ro rhgb quiet" > proc/cmdline
    ;;
  sles15)
    osrel "SLES" sles 15.5 suse; systemd_init
    cat > etc/default/grub <<'G'
# If you change this file, run 'grub2-mkconfig -o /boot/grub2/grub.cfg' afterwards to update
GRUB_DISTRIBUTOR=
GRUB_DEFAULT=saved
GRUB_HIDDEN_TIMEOUT=0
GRUB_TIMEOUT=8
GRUB_CMDLINE_LINUX_DEFAULT="splash=silent resume=/dev/disk/by-uuid/0000 mitigations=auto quiet security=apparmor"
GRUB_CMDLINE_LINUX=""
GRUB_TERMINAL="gfxterm"
GRUB_GFXMODE="auto"
G
    mkdir -p boot/grub2; : > boot/vmlinuz-5.14.21-150500.55.39-default
    printf 'terminal_output gfxterm\n' > boot/grub2/grub.cfg
    tool fake-mkconfig grub2-mkconfig
    printf 'auth  requisite  pam_nologin.so\nauth  include  common-auth\n' > etc/pam.d/login
    printf 'auth required pam_unix.so\n' > etc/pam.d/common-auth
    echo "BOOT_IMAGE=/boot/vmlinuz-5.14.21-150500.55.39-default root=UUID=0000 splash=silent quiet" > proc/cmdline
    ;;
  centos6-legacy)
    rm -f etc/os-release; echo "CentOS release 6.10 (Final)" > etc/redhat-release
    printf '#!/bin/sh\n' > sbin/init; chmod 755 sbin/init; echo init > proc/1/comm
    mkdir -p etc/init boot/grub; cp "$here/bin/fake-recorder" sbin/initctl
    printf 'start on stopped rc RUNLEVEL=[2345]\nrespawn\nexec /sbin/mingetty tty1\n' > etc/init/tty.conf
    cat > boot/grub/grub.conf <<'G'
# grub.conf generated by anaconda
default=0
timeout=5
splashimage=(hd0,0)/grub/splash.xpm.gz
hiddenmenu
title CentOS 6 (2.6.32-754.35.1.el6.x86_64)
	root (hd0,0)
	kernel /vmlinuz-2.6.32-754.35.1.el6.x86_64 ro root=/dev/mapper/vg-lv_root rd_NO_LUKS LANG=en_US.UTF-8 KEYTABLE=us rhgb quiet
	initrd /initramfs-2.6.32-754.35.1.el6.x86_64.img
title CentOS 6 (2.6.32-754.el6.x86_64)
	root (hd0,0)
	kernel /vmlinuz-2.6.32-754.el6.x86_64 ro root=/dev/mapper/vg-lv_root console=ttyS0 rhgb quiet
	initrd /initramfs-2.6.32-754.el6.x86_64.img
G
    ln -s ../boot/grub/grub.conf etc/grub.conf
    printf '#%%PAM-1.0\nauth [user_unknown=ignore success=ok ignore=ignore default=bad] pam_securetty.so\nauth       include      system-auth\n' > etc/pam.d/login
    printf 'auth sufficient pam_unix.so\n' > etc/pam.d/system-auth
    printf 'console\nvc/1\ntty1\n' > etc/securetty
    echo "ro root=/dev/mapper/vg-lv_root rhgb quiet" > proc/cmdline
    ;;
  direct-boot)
    osrel "Debian GNU/Linux" debian 12; systemd_init
    echo "root=/dev/vda ro console=ttyS0" > proc/cmdline
    ;;
  *) echo "unknown fixture $name" >&2; exit 2 ;;
esac
