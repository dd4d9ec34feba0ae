#!/usr/bin/env bash
# Install what the lab needs on a bare Debian 12 machine: apt packages, the venv, and a running libvirtd.
# Idempotent and quick on a machine that already has everything. Used by `make test` and `make demo`.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
VENV=${VENV:-$here/.venv}
PY=${PYTHON:-python3}

APT_PACKAGES=(qemu-system-x86 qemu-utils libvirt-daemon-system libvirt-clients libvirt-dev pkg-config
  debootstrap libvirt-daemon-driver-qemu dnsmasq-base iptables parted dosfstools e2fsprogs fdisk kmod udev
  virtinst openssh-client rsync shellcheck
  ovmf qemu-efi-aarch64 qemu-system-arm qemu-user-static mmdebstrap mtools xorriso
  chromium) # chromium: make docs opens the built docs site headless and checks a page's screenshot

log() { printf '[bootstrap] %s\n' "$*" >&2; }

apt_install() {
  local missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if ((${#missing[@]})); then
    log "apt: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # policy-rc.d keeps the packages' maintainer scripts from trying to start services (no systemd here).
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    rm -f /usr/sbin/policy-rc.d
  fi
}

venv_install() {
  local stamp="$VENV/.requirements.sha"
  local want
  want=$(sha256sum "$here/requirements.txt" | cut -d' ' -f1)
  if [[ -x $VENV/bin/python && -f $stamp && $(cat "$stamp") == "$want" ]]; then return; fi
  log "venv: $VENV"
  # The pyenv shim is not a stable interpreter for a venv: resolve the real binary.
  local real
  real=$("$PY" -c 'import sys; print(sys.executable)')
  "$real" -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip 2> >(grep -v "is ignored: it is neither" >&2)
  "$VENV/bin/pip" install -q -r "$here/requirements.txt" 2> >(grep -v "is ignored: it is neither" >&2)
  echo "$want" >"$stamp"
}

ansible_test_offline() {
  # ansible-test --venv downloads get-pip.py from a host this lab cannot reach; give it the offline stand-in.
  local ver
  ver=$("$VENV/bin/python" - <<'PY'
import re, ansible_test, pathlib
src = (pathlib.Path(ansible_test.__file__).parent / "_internal/python_requirements.py").read_text()
print(re.search(r"pip='([0-9.]+)'", src).group(1))
PY
)
  mkdir -p ~/.ansible/test/cache
  cp "$here/scripts/ansible-test/get_pip.py" ~/.ansible/test/cache/"get_pip_${ver//./_}.py"
}

# Start a daemon with no descriptor of ours but stdin/stdout/stderr: one inherited from a caller that runs under
# `flock /var/lock/ttyfleet-boot` would keep the boot lock held for as long as the daemon lives (seen here).
daemon() {
  (
    for fd in "/proc/$BASHPID/fd/"*; do
      fd=${fd##*/}
      if ((fd > 2)); then eval "exec $fd>&-"; fi
    done
    exec "$@"
  )
}

libvirtd_start() {
  if virsh -c qemu:///system version >/dev/null 2>&1; then return; fi
  log "starting virtlogd, virtlockd, libvirtd"
  mkdir -p /run/libvirt /var/log/libvirt/qemu /var/lib/libvirt/images
  pgrep -x virtlogd >/dev/null || daemon virtlogd -d
  pgrep -x virtlockd >/dev/null || daemon virtlockd -d
  pgrep -x libvirtd >/dev/null || daemon libvirtd -d 2>/dev/null
  for _ in $(seq 1 100); do
    if virsh -c qemu:///system version >/dev/null 2>&1; then return; fi
    sleep 0.2
  done
  log "libvirtd did not answer on qemu:///system"; exit 1
}

case "${1:-all}" in
  apt) apt_install ;;
  venv) venv_install ;;
  libvirtd) libvirtd_start ;;
  ansible-test-offline) ansible_test_offline ;; # VENV=<a venv with another ansible-core> (make matrix)
  all) apt_install; venv_install; ansible_test_offline; libvirtd_start ;;
  *) echo "usage: $0 [apt|venv|libvirtd|ansible-test-offline|all]" >&2; exit 2 ;;
esac
