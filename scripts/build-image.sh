#!/usr/bin/env bash
# Build stock Debian guest disks offline from the Debian mirror: debootstrap, a real GRUB on a BIOS (msdos) disk,
# qcow2. The images reproduce the field's problem: no serial console anywhere (no GRUB serial terminal, no
# console= on the kernel command line, no serial getty), so `virsh console` prints "Escape character is ^]" and
# then nothing. Everything is cached under /var/cache/ttyfleet:
#   debs/<suite>/                 packages fetched by debootstrap
#   rootfs/<flavour>-<key>.tar    the debootstrap result (key: suite, packages, mirror)
#   images/<flavour>-<key>.qcow2  the image, named by the recipe key it was built from
#   images/<flavour>.qcow2        a symlink to the current one; overlays must be made on the resolved path, so
#                                 a rebuild never changes the base under an existing overlay
#   ssh/id_ed25519                key for root and for the sudo user `ops`
#   ssh/console_password          password of root and `ops` (console logins in tests; lab only, loopback only)
# An image is rebuilt when this script's code, the ssh key or the password changes (overlays made on the old image
# must then be recreated; Molecule's create makes fresh ones every run). A second run takes about a second.
#
# usage: build-image.sh [flavour...]      flavours: bookworm bullseye bookworm-sysvinit (default: all)
#        build-image.sh --print-path FLAVOUR
set -euo pipefail

CACHE=${TTYFLEET_CACHE:-/var/cache/ttyfleet}
SIZE=${TTYFLEET_IMAGE_SIZE:-3G}
ALL_FLAVOURS=(bookworm bullseye bookworm-sysvinit)
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

# flavour -> suite, init packages, extra packages
flavour_vars() {
  local base=(linux-image-amd64 udev kmod grub-pc initramfs-tools zstd openssh-server python3 sudo dbus
    iproute2 procps ifupdown isc-dhcp-client)
  case $1 in
    bookworm) SUITE=bookworm; INIT=systemd; PKGS=(systemd-sysv "${base[@]}") ;;
    bullseye) SUITE=bullseye; INIT=systemd; PKGS=(systemd-sysv "${base[@]}") ;;
    bookworm-sysvinit) SUITE=bookworm; INIT=sysvinit; PKGS=(sysvinit-core acpid "${base[@]}") ;;
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

# The debootstrap result, cached as a tarball keyed by what debootstrap was asked for.
rootfs_tar() {
  local flavour=$1 key tar tmp
  key=$(printf '%s\n' "$SUITE" "$(mirror)" "${PKGS[@]}" | sha256sum | cut -c1-12)
  tar=$CACHE/rootfs/$flavour-$key.tar
  if [[ -f $tar ]]; then log "$flavour: debootstrap cached ($tar)"; echo "$tar"; return; fi
  install -d "$CACHE/rootfs" "$CACHE/debs/$SUITE" "$CACHE/tmp"
  tmp=$(mktemp -d "$CACHE/tmp/rootfs-$flavour.XXXX")
  log "$flavour: debootstrap $SUITE from $(mirror) (about 2 minutes)"
  if ! debootstrap --variant=minbase --cache-dir="$CACHE/debs/$SUITE" --include="$(IFS=,; echo "${PKGS[*]}")" \
    "$SUITE" "$tmp/root" "$(mirror)" >"$tmp/debootstrap.log" 2>&1; then
    tail -n 30 "$tmp/debootstrap.log" >&2
    rm -rf "$tmp"
    die "$flavour: debootstrap failed"
  fi
  rm -f "$tmp"/root/var/cache/apt/archives/*.deb
  tar --numeric-owner --xattrs --acls -C "$tmp/root" -cf "$tmp/rootfs.tar" .
  mv "$tmp/rootfs.tar" "$tar"
  rm -rf "$tmp"
  # Older tarballs of this flavour are dead weight now.
  find "$CACHE/rootfs" -name "$flavour-*.tar" ! -name "$(basename "$tar")" -delete
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

# Everything mounted or attached by build_one, undone by cleanup even on failure.
MNT="" LOOP="" WORK=""
cleanup() {
  if [[ -n $MNT ]]; then
    for d in run sys proc dev/pts dev; do umount -l "$MNT/$d" 2>/dev/null || true; done
    umount -l "$MNT" 2>/dev/null || true
  fi
  if [[ -n $LOOP ]]; then losetup -d "$LOOP" 2>/dev/null || true; fi
  [[ -n $WORK ]] && rm -rf "$WORK"
  MNT="" LOOP="" WORK=""
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
  parted -s "$WORK/disk.raw" mklabel msdos mkpart primary ext4 1MiB 100% set 1 boot on
  LOOP=$(losetup -f --show -P "$WORK/disk.raw")
  local part=${LOOP}p1
  for _ in $(seq 10); do [[ -b $part ]] && break; sleep 0.1; done
  # Some kernels (this lab's) do not scan loop partitions despite -P: add them by hand.
  [[ -b $part ]] || partx -a "$LOOP"
  for _ in $(seq 20); do [[ -b $part ]] && break; sleep 0.1; done
  [[ -b $part ]] || die "$part did not appear"
  mkfs.ext4 -q -L root "$part"
  local uuid
  uuid=$(blkid -s UUID -o value "$part")
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
  # A fresh machine-id on first boot, so overlays of one image do not share it.
  : >"$MNT/etc/machine-id"
  rm -f "$MNT/var/lib/dbus/machine-id"
  # DHCP on whatever the virtio NIC is called (ens16 at PCI slot 0x10; eth0 if names are not predictable).
  cat >"$MNT/etc/network/interfaces" <<'EOF'
source /etc/network/interfaces.d/*
auto lo
iface lo inet loopback
allow-hotplug ens16
iface ens16 inet dhcp
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

  log "$flavour: installing GRUB (i386-pc) on $LOOP"
  mount --bind /dev "$MNT/dev"
  mount --bind /dev/pts "$MNT/dev/pts"
  mount -t proc proc "$MNT/proc"
  mount -t sysfs sys "$MNT/sys"
  mount -t tmpfs tmpfs "$MNT/run"
  in_root grub-install --target=i386-pc --modules='part_msdos ext2' "$LOOP" >"$WORK/grub.log" 2>&1 ||
    { cat "$WORK/grub.log" >&2; die "grub-install failed"; }
  in_root update-grub >>"$WORK/grub.log" 2>&1 || { cat "$WORK/grub.log" >&2; die "update-grub failed"; }
  # No udev on the build host, so update-grub wrote root=/dev/loopNp1: point it at the filesystem's UUID
  # (update-grub inside the booted guest writes the UUID by itself).
  sed -i "s|root=${part}\\b|root=UUID=${uuid}|g" "$MNT/boot/grub/grub.cfg"
  if grep -q '/dev/loop' "$MNT/boot/grub/grub.cfg"; then die "grub.cfg still names a loop device"; fi
  # Stock means stock: fail the build if anything mentions a serial console.
  if grep -Eq '^[^#]*(console=|serial)' "$MNT/boot/grub/grub.cfg" "$MNT/etc/default/grub"; then
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

if [[ ${1:-} == --print-path ]]; then
  flavour_vars "${2:?flavour}"
  readlink -f "$CACHE/images/$2.qcow2"
  exit 0
fi
[[ $EUID -eq 0 ]] || die "run as root (debootstrap, loop devices, mounts)"
for tool in debootstrap parted losetup mkfs.ext4 qemu-img flock ssh-keygen; do
  command -v "$tool" >/dev/null || die "$tool is missing: run scripts/bootstrap.sh apt"
done
flavours=("$@")
((${#flavours[@]})) || flavours=("${ALL_FLAVOURS[@]}")
for f in "${flavours[@]}"; do flavour_vars "$f"; done
install -d -m 0755 "$CACHE"
ensure_ssh
for f in "${flavours[@]}"; do
  s=$SECONDS
  build_one "$f"
  log "$f: $((SECONDS - s)) s"
done
log "all done: ${flavours[*]}"
