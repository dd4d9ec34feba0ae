#!/usr/bin/env bash
# Build stock Debian guest disks offline from the Debian mirror: debootstrap (mmdebstrap for a foreign
# architecture), a real boot loader, qcow2. The images reproduce the field's problem: no serial console anywhere
# (no GRUB serial terminal, no console= on the kernel command line, no serial getty), so `virsh console` prints
# "Escape character is ^]" and then nothing. Everything is cached under /var/cache/ttyfleet:
#   debs/<suite>/                 packages fetched by debootstrap
#   rootfs/<flavour>-<key>.tar    the debootstrap result (key: suite, packages, mirror, architecture)
#   images/<flavour>-<key>.qcow2  the image, named by the recipe key it was built from
#   images/<flavour>.qcow2        a symlink to the current one; overlays must be made on the resolved path, so
#                                 a rebuild never changes the base under an existing overlay
#   images/<flavour>-<key>.seed.iso  the NoCloud seed (cloud flavour only), `<flavour>.seed.iso` links to it
#   ssh/id_ed25519                key for root and for the sudo user `ops`
#   ssh/console_password          password of root and `ops` (console logins in tests; lab only, loopback only)
# An image is rebuilt when this script's code, the ssh key or the password changes (overlays made on the old image
# must then be recreated; Molecule's create makes fresh ones every run). A second run takes about a second.
#
# Flavours (firmware, disk, boot loader):
#   bookworm, bullseye, bookworm-sysvinit, trixie   BIOS, msdos label, grub-pc
#   bookworm-uefi    UEFI (OVMF), GPT + ESP, grub-efi-amd64 signed via shim, the ESP's grub.cfg a configfile stub
#   bookworm-cloud   Debian's cloud flavour: grub-cloud-amd64's /etc/default/grub (console=ttyS0, GRUB_TERMINAL
#                    "console serial"), BIOS + UEFI GRUB on one GPT disk, cloud-init from a NoCloud seed ISO. Its
#                    own settings name ttyS0, but the domain has no serial device: still silent.
#   bookworm-arm64   arm64 (AAVMF, `virt` machine), GPT + ESP, grub-efi-arm64; built with mmdebstrap and
#                    qemu-user (binfmt_misc): the emulated package configuration takes most of an hour, once.
#   bookworm-sdboot  UEFI (OVMF), GPT + ESP, systemd-boot and no GRUB at all: kernel, initrd and a Boot Loader
#                    Specification entry on the ESP (kernel-install), the entry's options from /etc/kernel/cmdline.
# This host's kernel has no vfat: the ESP is made with mkfs.vfat and filled with mtools (mcopy) from a tmpfs that
# grub-install wrote into; the guest mounts its /boot/efi itself.
#
# usage: build-image.sh [flavour...]      (default: bookworm bullseye bookworm-sysvinit)
#        build-image.sh --print-path FLAVOUR
#        build-image.sh --seed-path FLAVOUR  (the cloud flavour's NoCloud seed ISO)
set -euo pipefail

CACHE=${TTYFLEET_CACHE:-/var/cache/ttyfleet}
SIZE=${TTYFLEET_IMAGE_SIZE:-3G}
DEFAULT_FLAVOURS=(bookworm bullseye bookworm-sysvinit)
ALL_FLAVOURS=(bookworm bullseye bookworm-sysvinit trixie bookworm-uefi bookworm-cloud bookworm-arm64
  bookworm-sdboot)
SELF=$(readlink -f "$0")

t0=$SECONDS
log() { printf '[build-image %4ds] %s\n' "$((SECONDS - t0))" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# The mirror this machine's apt already uses (deb822 or one-line format); TTYFLEET_MIRROR overrides it.
mirror() {
  if [[ -n ${TTYFLEET_MIRROR:-} ]]; then echo "$TTYFLEET_MIRROR"; return; fi
  local m=""
  if [[ -r /etc/apt/sources.list.d/debian.sources ]]; then
    m=$(awk '/^URIs:/ && $2 ~ /\/debian\/?$/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
  fi
  if [[ -z $m && -r /etc/apt/sources.list ]]; then
    m=$(awk '$1 == "deb" && $2 ~ /\/debian\/?$/ {print $2; exit}' /etc/apt/sources.list)
  fi
  echo "${m:-http://deb.debian.org/debian}"
}

# flavour -> suite, init, packages, architecture, firmware, disk layout
flavour_vars() {
  ARCH=amd64 LAYOUT=msdos CLOUD=no
  local net=(ifupdown isc-dhcp-client)
  local common=(udev kmod initramfs-tools zstd openssh-server python3 sudo dbus iproute2 procps)
  local base=(linux-image-amd64 udev kmod grub-pc initramfs-tools zstd openssh-server python3 sudo dbus
    iproute2 procps "${net[@]}")
  case $1 in
    bookworm) SUITE=bookworm; INIT=systemd; PKGS=(systemd-sysv memtest86+ "${base[@]}") ;;
    bullseye) SUITE=bullseye; INIT=systemd; PKGS=(systemd-sysv "${base[@]}") ;;
    bookworm-sysvinit) SUITE=bookworm; INIT=sysvinit; PKGS=(sysvinit-core acpid "${base[@]}") ;;
    # Debian 13: isc-dhcp-client is on its way out; ifupdown uses dhcpcd.
    trixie) SUITE=trixie; INIT=systemd
      PKGS=(systemd-sysv linux-image-amd64 grub-pc "${common[@]}" ifupdown dhcpcd-base) ;;
    bookworm-uefi) SUITE=bookworm; INIT=systemd; LAYOUT=gpt-esp
      PKGS=(systemd-sysv linux-image-amd64 grub-efi-amd64 grub-efi-amd64-signed shim-signed "${common[@]}"
        "${net[@]}") ;;
    # debootstrap resolves no virtual packages: python3-cryptography's python3-cffi-backend-api-min is named.
    bookworm-cloud) SUITE=bookworm; INIT=systemd; LAYOUT=gpt-hybrid; CLOUD=yes
      PKGS=(systemd-sysv linux-image-amd64 grub-cloud-amd64 cloud-init python3-cffi-backend "${common[@]}"
        "${net[@]}") ;;
    bookworm-arm64) SUITE=bookworm; INIT=systemd; ARCH=arm64; LAYOUT=gpt-esp
      PKGS=(systemd-sysv linux-image-arm64 grub-efi-arm64 "${common[@]}" "${net[@]}") ;;
    bookworm-sdboot) SUITE=bookworm; INIT=systemd; LAYOUT=gpt-esp
      PKGS=(systemd-sysv systemd-boot linux-image-amd64 "${common[@]}" "${net[@]}") ;;
    *) die "unknown flavour '$1' (known: ${ALL_FLAVOURS[*]})" ;;
  esac
}

ensure_ssh() {
  install -d -m 0700 "$CACHE/ssh"
  (
    flock 9
    if [[ ! -f $CACHE/ssh/id_ed25519 ]]; then
      log "creating ssh key $CACHE/ssh/id_ed25519"
      ssh-keygen -q -t ed25519 -N '' -C ttyfleet-lab -f "$CACHE/ssh/id_ed25519"
    fi
    if [[ ! -s $CACHE/ssh/console_password ]]; then
      (umask 077; head -c 12 /dev/urandom | base64 | tr -d '/+=' >"$CACHE/ssh/console_password")
    fi
  ) 9>"$CACHE/ssh/.lock"
}

# A foreign architecture's binaries run through qemu-user, registered with binfmt_misc (not mounted by default
# where systemd is not PID 1). The F flag makes the kernel open the interpreter now, so it works inside chroots.
BINFMT_MOUNTED=""
foreign_ready() {
  local qarch=${ARCH/arm64/aarch64} conf
  conf=/usr/lib/binfmt.d/qemu-$qarch.conf
  command -v mmdebstrap >/dev/null || die "mmdebstrap is missing: run scripts/bootstrap.sh apt"
  [[ -r $conf ]] || die "$conf is missing (package qemu-user-static): run scripts/bootstrap.sh apt"
  if [[ ! -e /proc/sys/fs/binfmt_misc/register ]]; then
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
    BINFMT_MOUNTED=yes
  fi
  [[ -e /proc/sys/fs/binfmt_misc/qemu-$qarch ]] || grep -v '^#' "$conf" >/proc/sys/fs/binfmt_misc/register
}

# The debootstrap result, cached as a tarball keyed by what debootstrap was asked for.
rootfs_tar() {
  local flavour=$1 key tar tmp
  # amd64 keys are what they were before other architectures existed, so their caches stay valid.
  key=$({ printf '%s\n' "$SUITE" "$(mirror)" "${PKGS[@]}"; [[ $ARCH == amd64 ]] || echo "mmdebstrap arch=$ARCH"; } |
    sha256sum | cut -c1-12)
  tar=$CACHE/rootfs/$flavour-$key.tar
  if [[ -f $tar ]]; then log "$flavour: debootstrap cached ($tar)"; echo "$tar"; return; fi
  install -d "$CACHE/rootfs" "$CACHE/debs/$SUITE" "$CACHE/tmp"
  tmp=$(mktemp -d "$CACHE/tmp/rootfs-$flavour.XXXX")
  if [[ $ARCH == amd64 ]]; then
    log "$flavour: debootstrap $SUITE from $(mirror) (about 2-4 minutes)"
    if ! debootstrap --variant=minbase --cache-dir="$CACHE/debs/$SUITE" --include="$(IFS=,; echo "${PKGS[*]}")" \
      "$SUITE" "$tmp/root" "$(mirror)" >"$tmp/debootstrap.log" 2>&1; then
      tail -n 30 "$tmp/debootstrap.log" >&2
      rm -rf "$tmp"
      die "$flavour: debootstrap failed"
    fi
  else
    foreign_ready
    # apt runs natively outside the root; only dpkg and the maintainer scripts run emulated (qemu-user), which is
    # why this takes long: man pages, docs and translations are left out to spare the emulated dpkg.
    log "$flavour: mmdebstrap $SUITE ($ARCH, emulated by qemu-user) from $(mirror) (30-40 minutes, once)"
    # shellcheck disable=SC2016 # the hook's $1 is mmdebstrap's, expanded by its shell
    if ! nice -n 10 mmdebstrap --mode=root --variant=minbase --architectures="$ARCH" \
      --include="$(IFS=,; echo "${PKGS[*]}")" \
      --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
      --dpkgopt='path-exclude=/usr/share/locale/*' \
      --customize-hook='rm -f "$1"/etc/dpkg/dpkg.cfg.d/99mmdebstrap' \
      "$SUITE" "$tmp/root" "$(mirror)" >"$tmp/debootstrap.log" 2>&1; then
      tail -n 30 "$tmp/debootstrap.log" >&2
      rm -rf "$tmp"
      die "$flavour: mmdebstrap failed"
    fi
  fi
  rm -f "$tmp"/root/var/cache/apt/archives/*.deb
  tar --numeric-owner --xattrs --acls -C "$tmp/root" -cf "$tmp/rootfs.tar" .
  mv "$tmp/rootfs.tar" "$tar"
  rm -rf "$tmp"
  # Older tarballs of this flavour are dead weight now. Only names with a key right after the flavour count:
  # bookworm-* also matches bookworm-uefi-*, and another flavour's cache must survive this one's rebuild.
  find "$CACHE/rootfs" -regextype posix-extended -regex ".*/$flavour-[0-9a-f]{12}\.tar" ! -name "$(basename "$tar")" \
    -delete
  log "$flavour: rootfs cached ($(du -h "$tar" | cut -f1))"
  echo "$tar"
}

recipe_key() {
  local flavour=$1 tar=$2
  # Comments and blank lines do not change an image: leave them out, so editing them rebuilds nothing.
  { grep -Ev '^[[:space:]]*(#|$)' "$SELF"; echo "$flavour $(basename "$tar")"
    cat "$CACHE/ssh/id_ed25519.pub" "$CACHE/ssh/console_password"; } \
    | sha256sum | cut -c1-16
}

# systemd-boot the way `bootctl install` and kernel-install put it on a real ESP (a tmpfs here, copied with mtools
# as for GRUB; SYSTEMD_RELAX_ESP_CHECKS lets bootctl accept it): the loader at the removable path (no NVRAM entry),
# the entry token "debian" (the machine-id is made at first boot), every installed kernel as a type 1 entry whose
# options come from /etc/kernel/cmdline (kernel-install would read the build host's /proc/cmdline otherwise).
install_sdboot() {
  local uuid=$1 kver
  install -d "$MNT/etc/kernel"
  printf 'root=UUID=%s ro quiet\n' "$uuid" >"$MNT/etc/kernel/cmdline"
  mount -t tmpfs "$ESPPART" "$MNT/boot/efi"
  in_root env SYSTEMD_RELAX_ESP_CHECKS=1 bootctl install --esp-path=/boot/efi --no-variables --entry-token=os-id \
    >>"$WORK/grub.log" 2>&1 || { cat "$WORK/grub.log" >&2; die "bootctl install failed"; }
  for kver in "$MNT"/lib/modules/*; do
    kver=${kver##*/}
    in_root env SYSTEMD_RELAX_ESP_CHECKS=1 BOOT_ROOT=/boot/efi kernel-install add "$kver" "/boot/vmlinuz-$kver" \
      "/boot/initrd.img-$kver" >>"$WORK/grub.log" 2>&1 || { cat "$WORK/grub.log" >&2; die "kernel-install failed"; }
  done
  compgen -G "$MNT/boot/efi/loader/entries/*.conf" >/dev/null || die "kernel-install wrote no loader entry"
  [[ -f $MNT/boot/efi/EFI/BOOT/BOOTX64.EFI ]] || die "bootctl installed no loader at the removable path"
  MTOOLS_SKIP_CHECK=1 mcopy -s -Q -i "$ESPPART" "$MNT"/boot/efi/* ::/ || die "mcopy to the ESP failed"
  find "$MNT/boot/efi" -type f -printf 'ESP: %P\n' | sort >>"$WORK/grub.log"
  umount "$MNT/boot/efi"
}

# Everything mounted or attached by build_one, undone by cleanup even on failure.
MNT="" LOOP="" WORK="" ROOTPART="" ESPPART=""
cleanup() {
  if [[ -n $MNT ]]; then
    for d in boot/efi run sys proc dev/pts dev; do umount -l "$MNT/$d" 2>/dev/null || true; done
    umount -l "$MNT" 2>/dev/null || true
  fi
  if [[ -n $LOOP ]]; then losetup -d "$LOOP" 2>/dev/null || true; fi
  [[ -n $WORK ]] && rm -rf "$WORK"
  if [[ -n $BINFMT_MOUNTED ]]; then umount /proc/sys/fs/binfmt_misc 2>/dev/null || true; fi
  MNT="" LOOP="" WORK="" BINFMT_MOUNTED=""
}
trap cleanup EXIT

in_root() { chroot "$MNT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"; }

# Older images of a flavour are kept: an overlay of a lab or Molecule guest may still be based on one, running or
# not, and nothing records which. They are listed, to be removed by hand once no guest uses them.
report_old_images() {
  local flavour=$1 key=$2 f
  for f in "$CACHE/images/$flavour"-*.qcow2; do
    # bookworm-* also matches bookworm-sysvinit-*: only names with a recipe key right after the flavour count.
    [[ $(basename "$f") =~ ^$flavour-[0-9a-f]{16}\.qcow2$ && ! -L $f && $f != "$CACHE/images/$flavour-$key.qcow2" ]] || continue
    log "$flavour: older image kept for overlays that may use it: $f"
  done
}

# Partition the raw disk and attach it. Sets LOOP, ROOTPART and (UEFI/hybrid layouts) ESPPART.
#   msdos       p1 root (BIOS GRUB in the MBR gap)
#   gpt-esp     p1 ESP, p2 root
#   gpt-hybrid  p1 BIOS boot (core.img), p2 ESP, p3 root: Debian's cloud images boot either way
make_disk() {
  local raw=$1 p
  case $LAYOUT in
    msdos) parted -s "$raw" mklabel msdos mkpart primary ext4 1MiB 100% set 1 boot on ;;
    gpt-esp) parted -s "$raw" mklabel gpt mkpart ESP fat32 1MiB 129MiB set 1 esp on mkpart root ext4 129MiB 100% ;;
    gpt-hybrid) parted -s "$raw" mklabel gpt mkpart bios 1MiB 3MiB set 1 bios_grub on \
      mkpart ESP fat32 3MiB 131MiB set 2 esp on mkpart root ext4 131MiB 100% ;;
  esac
  LOOP=$(losetup -f --show -P "$raw")
  case $LAYOUT in
    msdos) ROOTPART=${LOOP}p1 ESPPART="" ;;
    gpt-esp) ESPPART=${LOOP}p1 ROOTPART=${LOOP}p2 ;;
    gpt-hybrid) ESPPART=${LOOP}p2 ROOTPART=${LOOP}p3 ;;
  esac
  p=$ROOTPART
  for _ in $(seq 10); do [[ -b $p ]] && break; sleep 0.1; done
  # Some kernels (this lab's) do not scan loop partitions despite -P: add them by hand.
  [[ -b $p ]] || partx -a "$LOOP"
  for _ in $(seq 20); do [[ -b $p ]] && break; sleep 0.1; done
  [[ -b $p ]] || die "$p did not appear"
}

# grub-install for an EFI target writes into a tmpfs over /boot/efi (this host cannot mount vfat), then mtools
# copies the tree onto the FAT file system. The tmpfs is mounted with the ESP's device as its source: grub-install
# looks up the device behind --efi-directory and checks it holds a FAT file system (GRUB reads FAT itself).
install_efi_grub() {
  local target=$1
  shift
  mount -t tmpfs "$ESPPART" "$MNT/boot/efi"
  in_root grub-install --target="$target" --efi-directory=/boot/efi --bootloader-id=debian --no-nvram "$@" \
    >>"$WORK/grub.log" 2>&1 || { cat "$WORK/grub.log" >&2; die "grub-install --target=$target failed"; }
  MTOOLS_SKIP_CHECK=1 mcopy -s -Q -i "$ESPPART" "$MNT/boot/efi/EFI" ::/ ||
    die "mcopy to the ESP failed"
  find "$MNT/boot/efi" -type f -printf 'ESP: %P\n' | sort >>"$WORK/grub.log"
  umount "$MNT/boot/efi"
}

build_one() {
  local flavour=$1 img key tar
  flavour_vars "$flavour"
  img=$CACHE/images/$flavour.qcow2
  install -d "$CACHE/images" "$CACHE/tmp"
  exec 8>"$CACHE/images/.$flavour.lock"
  if ! flock -n 8; then log "$flavour: another build holds the lock, waiting"; flock 8; fi
  tar=$(rootfs_tar "$flavour")
  key=$(recipe_key "$flavour" "$tar")
  if [[ -f $CACHE/images/$flavour-$key.qcow2 && $(readlink "$img") == "$flavour-$key.qcow2" ]]; then
    log "$flavour: image up to date ($img)"
    exec 8>&-
    return
  fi
  log "$flavour: building image (recipe $key)"
  WORK=$(mktemp -d "$CACHE/tmp/image-$flavour.XXXX")
  truncate -s "$SIZE" "$WORK/disk.raw"
  make_disk "$WORK/disk.raw"
  local part=$ROOTPART
  mkfs.ext4 -q -L root "$part"
  local uuid esp_uuid=""
  uuid=$(blkid -s UUID -o value "$part")
  if [[ -n $ESPPART ]]; then
    mkfs.vfat -F 32 -n ESP "$ESPPART" >/dev/null
    esp_uuid=$(blkid -s UUID -o value "$ESPPART")
  fi
  MNT=$WORK/mnt
  mkdir -p "$MNT"
  mount "$part" "$MNT"
  log "$flavour: unpacking rootfs"
  tar --numeric-owner --xattrs --acls -C "$MNT" -xpf "$tar"

  log "$flavour: configuring (hostname, fstab, network, users, ssh)"
  local host=ttyfleet-$flavour
  echo "$host" >"$MNT/etc/hostname"
  printf '127.0.0.1 localhost\n127.0.1.1 %s\n::1 localhost ip6-localhost ip6-loopback\n' "$host" >"$MNT/etc/hosts"
  printf 'UUID=%s / ext4 errors=remount-ro 0 1\n' "$uuid" >"$MNT/etc/fstab"
  if [[ -n $esp_uuid ]]; then
    install -d "$MNT/boot/efi"
    printf 'UUID=%s /boot/efi vfat umask=0077 0 1\n' "$esp_uuid" >>"$MNT/etc/fstab"
  fi
  # A fresh machine-id on first boot, so overlays of one image do not share it.
  : >"$MNT/etc/machine-id"
  rm -f "$MNT/var/lib/dbus/machine-id"
  # DHCP on whatever the virtio NIC is called (ens16 at PCI slot 0x10 on x86, enp0s16 and the like elsewhere;
  # eth0 if names are not predictable).
  cat >"$MNT/etc/network/interfaces" <<'EOF'
source /etc/network/interfaces.d/*
auto lo
iface lo inet loopback
allow-hotplug ens16
iface ens16 inet dhcp
allow-hotplug enp0s16
iface enp0s16 inet dhcp
allow-hotplug enp0s1
iface enp0s1 inet dhcp
allow-hotplug eth0
iface eth0 inet dhcp
EOF
  # Per-image ssh host keys (the rootfs tarball is shared).
  rm -f "$MNT"/etc/ssh/ssh_host_*
  in_root ssh-keygen -A >/dev/null
  install -d -m 0700 "$MNT/root/.ssh"
  install -m 0600 "$CACHE/ssh/id_ed25519.pub" "$MNT/root/.ssh/authorized_keys"
  in_root useradd -m -s /bin/bash -G sudo ops
  install -d -m 0700 -o 1000 -g 1000 "$MNT/home/ops/.ssh"
  install -m 0600 -o 1000 -g 1000 "$CACHE/ssh/id_ed25519.pub" "$MNT/home/ops/.ssh/authorized_keys"
  echo 'ops ALL=(ALL) NOPASSWD:ALL' >"$MNT/etc/sudoers.d/ops"
  chmod 0440 "$MNT/etc/sudoers.d/ops"
  local pw
  pw=$(cat "$CACHE/ssh/console_password")
  printf 'root:%s\nops:%s\n' "$pw" "$pw" | in_root chpasswd
  if [[ $INIT == sysvinit ]]; then
    # `virsh shutdown` sends an ACPI power-button event: let acpid turn it into a clean halt.
    install -d "$MNT/etc/acpi/events"
    printf 'event=button/power\naction=/sbin/shutdown -h -P now "Power button pressed"\n' \
      >"$MNT/etc/acpi/events/powerbtn"
  fi
  if [[ $CLOUD == yes ]]; then
    # The seed ISO (label cidata) is the NoCloud datasource; the lab's network stays the ifupdown one above.
    printf 'datasource_list: [NoCloud, None]\nnetwork: {config: disabled}\n' \
      >"$MNT/etc/cloud/cloud.cfg.d/90-ttyfleet-lab.cfg"
  fi

  mount --bind /dev "$MNT/dev"
  mount --bind /dev/pts "$MNT/dev/pts"
  mount -t proc proc "$MNT/proc"
  mount -t sysfs sys "$MNT/sys"
  mount -t tmpfs tmpfs "$MNT/run"
  : >"$WORK/grub.log"
  case $flavour/$LAYOUT in
    */msdos)
      log "$flavour: installing GRUB (i386-pc) on $LOOP"
      in_root grub-install --target=i386-pc --modules='part_msdos ext2' "$LOOP" >>"$WORK/grub.log" 2>&1 ||
        { cat "$WORK/grub.log" >&2; die "grub-install failed"; } ;;
    bookworm-sdboot/*)
      log "$flavour: installing systemd-boot and the kernels into the ESP (no GRUB)"
      install_sdboot "$uuid" ;;
    bookworm-arm64/*)
      # Unsigned GRUB at the removable path (EFI/BOOT/BOOTAA64.EFI): AAVMF needs no boot entry in NVRAM.
      log "$flavour: installing GRUB (arm64-efi) into the ESP"
      install_efi_grub arm64-efi --removable ;;
    */gpt-esp)
      # What Debian's installer does with Secure Boot packages present: shim + signed GRUB in EFI/debian with a
      # grub.cfg stub that configfiles /boot/grub/grub.cfg, plus a copy at the removable path for OVMF.
      log "$flavour: installing shim + GRUB (x86_64-efi, signed) into the ESP"
      install_efi_grub x86_64-efi --uefi-secure-boot --force-extra-removable ;;
    */gpt-hybrid)
      # What grub-cloud-amd64's postinst does in Debian's cloud images: BIOS GRUB and EFI GRUB on one disk.
      log "$flavour: installing GRUB (i386-pc on $LOOP, x86_64-efi into the ESP)"
      in_root grub-install --target=i386-pc --modules='part_gpt ext2' "$LOOP" >>"$WORK/grub.log" 2>&1 ||
        { cat "$WORK/grub.log" >&2; die "grub-install failed"; }
      install_efi_grub x86_64-efi --uefi-secure-boot --force-extra-removable ;;
  esac
  if [[ $flavour != bookworm-sdboot ]]; then
    in_root update-grub >>"$WORK/grub.log" 2>&1 || { cat "$WORK/grub.log" >&2; die "update-grub failed"; }
    # No udev on the build host, so update-grub wrote root=/dev/loopNpM: point it at the filesystem's UUID
    # (update-grub inside the booted guest writes the UUID by itself).
    sed -i "s|root=${part}\\b|root=UUID=${uuid}|g" "$MNT/boot/grub/grub.cfg"
    if grep -q '/dev/loop' "$MNT/boot/grub/grub.cfg"; then die "grub.cfg still names a loop device"; fi
  fi
  if [[ $flavour == bookworm-sdboot ]]; then
    # Stock: no GRUB anywhere, no console= for the kernel.
    if compgen -G "$MNT/usr/sbin/grub-*" >/dev/null || [[ -e $MNT/boot/grub ]]; then die "GRUB is installed"; fi
    if grep -q 'console=' "$MNT/etc/kernel/cmdline"; then die "/etc/kernel/cmdline names a console"; fi
  elif [[ $CLOUD == yes ]]; then
    # A cloud image ships its own console settings (ttyS0): the collection must override them, so they must be
    # there to begin with. The domain still has no serial device, so the console is silent all the same.
    grep -q 'console=ttyS0' "$MNT/boot/grub/grub.cfg" || die "the cloud image's grub.cfg lacks console=ttyS0"
  # memtest86+'s entries (bookworm installs it) carry a serial variant of their own: not the system's console.
  elif grep -Eq '^[^#]*(console=|serial)' "$MNT/etc/default/grub" \
    <(sed '/^### BEGIN \/etc\/grub.d\/20_memtest86+ ###/,/^### END \/etc\/grub.d\/20_memtest86+ ###/d' "$MNT/boot/grub/grub.cfg"); then
    # Stock means stock: fail the build if anything mentions a serial console.
    die "grub config mentions a serial console; the image must be stock"
  fi
  if [[ $INIT == sysvinit ]] && grep -Eq '^[^#].*ttyS' "$MNT/etc/inittab"; then die "inittab has a serial getty"; fi
  if compgen -G "$MNT/etc/systemd/system/*.wants/serial-getty@*" >/dev/null; then die "a serial getty is enabled"; fi
  sync -f "$MNT"
  for d in run sys proc dev/pts dev; do umount "$MNT/$d"; done
  umount "$MNT"
  MNT=""
  losetup -d "$LOOP"
  LOOP=""

  log "$flavour: converting to qcow2"
  qemu-img convert -O qcow2 "$WORK/disk.raw" "$WORK/disk.qcow2"
  if [[ $CLOUD == yes ]]; then make_seed "$flavour" "$key"; fi
  mv "$WORK/disk.qcow2" "$CACHE/images/$flavour-$key.qcow2"
  ln -sfn "$flavour-$key.qcow2" "$WORK/link"
  mv -T "$WORK/link" "$img"
  rm -f "$CACHE/images/$flavour.recipe"
  report_old_images "$flavour" "$key"
  rm -rf "$WORK"
  WORK=""
  log "$flavour: done: $img -> $flavour-$key.qcow2 ($(du -h "$CACHE/images/$flavour-$key.qcow2" | cut -f1) on disk)"
  exec 8>&-
}

# The NoCloud seed: an ISO 9660 volume labelled cidata with meta-data and user-data (made with xorriso, no
# mounts). It gives cloud-init real work on first boot (instance id, hostname, root's key), as in a cloud.
make_seed() {
  local flavour=$1 key=$2 d=$WORK/seed
  mkdir -p "$d"
  printf 'instance-id: ttyfleet-%s\nlocal-hostname: ttyfleet-%s\n' "$flavour" "$flavour" >"$d/meta-data"
  { printf '#cloud-config\ndisable_root: false\nssh_pwauth: false\nssh_authorized_keys:\n  - '
    cat "$CACHE/ssh/id_ed25519.pub"; } >"$d/user-data"
  xorriso -as mkisofs -quiet -V cidata -J -r -o "$WORK/seed.iso" "$d/meta-data" "$d/user-data" ||
    die "xorriso could not build the seed ISO"
  mv "$WORK/seed.iso" "$CACHE/images/$flavour-$key.seed.iso"
  ln -sfn "$flavour-$key.seed.iso" "$WORK/seedlink"
  mv -T "$WORK/seedlink" "$CACHE/images/$flavour.seed.iso"
}

if [[ ${1:-} == --print-path ]]; then
  flavour_vars "${2:?flavour}"
  readlink -f "$CACHE/images/$2.qcow2"
  exit 0
fi
if [[ ${1:-} == --seed-path ]]; then
  flavour_vars "${2:?flavour}"
  [[ $CLOUD == yes ]] || die "flavour '$2' has no NoCloud seed"
  readlink -f "$CACHE/images/$2.seed.iso"
  exit 0
fi
[[ $EUID -eq 0 ]] || die "run as root (debootstrap, loop devices, mounts)"
for tool in debootstrap parted losetup mkfs.ext4 qemu-img flock ssh-keygen; do
  command -v "$tool" >/dev/null || die "$tool is missing: run scripts/bootstrap.sh apt"
done
flavours=("$@")
((${#flavours[@]})) || flavours=("${DEFAULT_FLAVOURS[@]}")
for f in "${flavours[@]}"; do
  flavour_vars "$f"
  if [[ $LAYOUT != msdos ]]; then
    for tool in mkfs.vfat mcopy; do command -v "$tool" >/dev/null || die "$tool is missing: run scripts/bootstrap.sh apt"; done
  fi
  if [[ $CLOUD == yes ]]; then command -v xorriso >/dev/null || die "xorriso is missing: run scripts/bootstrap.sh apt"; fi
done
install -d -m 0755 "$CACHE"
ensure_ssh
for f in "${flavours[@]}"; do
  s=$SECONDS
  build_one "$f"
  log "$f: $((SECONDS - s)) s"
done
log "all done: ${flavours[*]}"
