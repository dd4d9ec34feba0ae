#!/usr/bin/env bash
# Runs the guest roles' real tasks against prepared root file systems of distributions that cannot be booted in
# this lab, with stand-ins for update-grub/grub2-mkconfig/telinit/initctl that act on the fixture files.
# Per fixture: check mode changes no file but reports changes; converge; files are right; a second converge and a
# second check report 0 changed. Then the failure paths: a failing and a "Syntax errors" grub-mkconfig (previous
# files restored), bad input (clear error, no file touched), no GRUB, no live UART, a lost grub.cfg.
# TTYFLEET_QUICK=1 (make matrix, on the oldest ansible-core; ansible-test passes no such variable, so `make
# integration` runs everything): Debian 12's check mode and converge, and its files, then stop.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/ttyfleet-role-fixtures.XXXXXX)
# the quick pass never makes the throw-away user: leave one of a `make integration` running beside it alone
trap 'rm -rf "$work"; [[ -n ${TTYFLEET_QUICK:-} ]] || userdel -r tf-h5-user >/dev/null 2>&1 || true' EXIT
export ANSIBLE_NOCOLOR=1 ANSIBLE_RETRY_FILES_ENABLED=0
fails=0
log() { printf '\n=== %s\n' "$*"; }
die() { printf 'FAIL: %s\n' "$*" >&2; fails=$((fails + 1)); }
fixture() { bash "$here/files/make-fixture.sh" "$1" "$work/$1"; }
tree_sum() { (cd "$1" && find . \( -type f -o -type l \) ! -name .calls -printf '%p %l\n' | sort && find . -type f ! -name .calls -print0 | sort -z | xargs -0 sha256sum); }
play() {  # play ROOT [args]: runs the guest role on ROOT; output in $work/out; returns ansible's status
  local root=$1; shift
  ansible-playbook -i "$here/inventory" "$here/converge.yml" -e "__guest_root=$root" "$@" >"$work/out" 2>&1
}
changed() { sed -n "s/^${1:-localhost} *:.*changed=\([0-9]*\).*/\1/p" "$work/out" | tail -1; }
has() { grep -qF -- "$2" "$1" || die "$1 lacks: $2"; }
hasnt() { ! grep -qF -- "$2" "$1" || die "$1 still has: $2"; }

# All distributions converge in one ansible-playbook run per step (one host per fixture root, run in parallel).
cycle_hosts=(debian12 ubuntu2204-cloud debian10-sysvinit rhel9-uefi rocky8-bios sles15 centos6-legacy)
# The quick pass: Debian 12 alone (systemd, the drop-in, every role but the sysvinit/upstart getty paths), check
# mode and converge: each host costs about 10 s a play on this 2-core machine, and each play 15 s more.
[[ -z ${TTYFLEET_QUICK:-} ]] || cycle_hosts=(debian12)
{
  echo "all:"
  echo "  vars: {ansible_connection: local, ansible_python_interpreter: '{{ ansible_playbook_python }}'}"
  echo "  hosts:"
  for h in debian12 debian10-sysvinit rocky8-bios sles15 centos6-legacy; do echo "    $h: {fixture_root: $work/$h}"; done
  echo "    ubuntu2204-cloud: {fixture_root: $work/ubuntu2204-cloud, guest_remove_quiet: true, guest_grub_timeout_s: 5}"
  echo "    rhel9-uefi: {fixture_root: $work/rhel9-uefi, guest_remove_args: [rhgb], guest_remove_quiet: true}"
} >"$work/cycle.yml"
# The test hook is an extra var (role vars outrank inventory), templated per host from the inventory.
# shellcheck disable=SC2016
cycle_play() {
  ansible-playbook -i "$work/cycle.yml" -l "$(IFS=,; echo "${cycle_hosts[*]}")" -f 7 "$here/converge.yml" \
    -e '__guest_root={{ fixture_root }}' "$@" >"$work/out" 2>&1
}

converge_cycle() {  # check, converge, idempotence, check again, on every fixture at once
  local h; declare -A sum_before sum_after
  for h in "${cycle_hosts[@]}"; do fixture "$h"; sum_before[$h]=$(tree_sum "$work/$h"); done
  cycle_play --check --diff || { cat "$work/out"; die "check mode failed"; }
  for h in "${cycle_hosts[@]}"; do
    [[ $(changed "$h") -gt 0 ]] || die "$h: check mode predicted no change"
    [[ $(tree_sum "$work/$h") == "${sum_before[$h]}" ]] || die "$h: check mode changed files"
  done
  cycle_play --diff || { cat "$work/out"; die "converge failed"; }
  for h in "${cycle_hosts[@]}"; do
    [[ $(changed "$h") -gt 0 ]] || die "$h: converge reported no change"; sum_after[$h]=$(tree_sum "$work/$h")
  done
  if [[ -n ${TTYFLEET_QUICK:-} ]]; then echo "${cycle_hosts[*]}: check (changes predicted, no file touched) -> converge"; return; fi
  cycle_play || { cat "$work/out"; die "second converge failed"; }
  for h in "${cycle_hosts[@]}"; do
    [[ $(changed "$h") == 0 ]] || { grep -B3 'changed:' "$work/out"; die "$h: second converge changed $(changed "$h")"; }
  done
  cycle_play --check || die "second check failed"
  for h in "${cycle_hosts[@]}"; do
    [[ $(changed "$h") == 0 ]] || die "$h: second check mode reported changes"
    [[ $(tree_sum "$work/$h") == "${sum_after[$h]}" ]] || die "$h: idempotent runs touched files"
    echo "$h: check (changes predicted, no file touched) -> converge -> 0 changed -> check 0 changed"
  done
}

console='console=tty0 console=ttyS0,115200n8'
serial='serial --unit=0 --speed=115200 --word=8 --parity=no --stop=1'

log "Every fixture: check mode, converge, idempotence"
converge_cycle

log "Debian 12 (drop-in + update-grub, systemd in an image: enable link)"
r=$work/debian12
has "$r/etc/default/grub.d/90-ttyfleet-serial-console.cfg" "GRUB_TERMINAL='console serial'"
has "$r/boot/grub/grub.cfg" "$serial"
has "$r/boot/grub/grub.cfg" "net.ifnames=0 apparmor=0 $console quiet"
has "$r/boot/grub/grub.cfg" "terminal_output console serial"
has "$r/etc/default/grub" 'GRUB_CMDLINE_LINUX="net.ifnames=0 apparmor=0"'     # the packaged file is not edited
[[ $(readlink "$r/etc/systemd/system/getty.target.wants/serial-getty@ttyS0.service") == /lib/systemd/system/serial-getty@.service ]] \
  || die "debian12: serial-getty@ttyS0 not enabled"
[[ ! -e $r/etc/securetty ]] || die "debian12: /etc/securetty was created"
has "$r/etc/systemd/system/dev-ttyS0.device.d/ttyfleet.conf" "JobRunningTimeoutSec=300"   # getty_device_timeout_s

if [[ -n ${TTYFLEET_QUICK:-} ]]; then
  if ((fails)); then echo "role fixtures (quick): $fails failure(s)"; exit 1; fi
  echo "role fixtures (quick: Debian 12, check mode then converge, its files): all passed"; exit 0
fi

log "Effective state: grub.cfg lost after update-grub (power cut) is regenerated"
printf 'terminal_output console\n' >"$r/boot/grub/grub.cfg"
play "$r" || die "regenerate run failed"
[[ $(changed) == 1 ]] || die "lost grub.cfg: expected 1 change, got $(changed)"
has "$r/boot/grub/grub.cfg" "$serial"

log "Ubuntu 22.04 cloud image (50-cloudimg-settings.cfg overrides /etc/default/grub)"
r=$work/ubuntu2204-cloud
has "$r/boot/grub/grub.cfg" "net.ifnames=0 apparmor=0 $console"
hasnt "$r/boot/grub/grub.cfg" "console=tty1"
hasnt "$r/boot/grub/grub.cfg" " quiet"
has "$r/boot/grub/grub.cfg" "terminal_input console serial"
has "$r/etc/default/grub.d/50-cloudimg-settings.cfg" 'GRUB_CMDLINE_LINUX_DEFAULT="console=tty1 console=ttyS0"'
has "$r/etc/default/grub.d/90-ttyfleet-serial-console.cfg" "GRUB_TIMEOUT='5'"

log "Debian 10 with sysvinit and pam_securetty"
r=$work/debian10-sysvinit
has "$r/etc/inittab" "T0:23:respawn:/sbin/getty -L ttyS0 115200 vt102"
[[ $(grep -c ttyS0 "$r/etc/inittab") == 2 ]] || die "inittab: expected the example comment + 1 line for ttyS0"
has "$r/.calls" "telinit q"
[[ $(grep -c 'telinit q' "$r/.calls") == 1 ]] || die "telinit q ran more than once"
has "$r/etc/securetty" "ttyS0"
[[ ! -e $r/etc/systemd/system/dev-ttyS0.device.d ]] || die "debian10-sysvinit: a systemd device drop-in was written"

log "RHEL 9 on UEFI (BLS entries, /etc/kernel/cmdline, ESP stub untouched, quiet+rhgb removed)"
r=$work/rhel9-uefi
for e in "$r"/boot/loader/entries/*.conf; do
  grep -q "^options root=/dev/mapper/rhel-root ro crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M resume=/dev/mapper/rhel-swap rd.lvm.lv=rhel/root rd.lvm.lv=rhel/swap $console\$" "$e" \
    || die "BLS entry $e: $(grep ^options "$e")"
done
has "$r/etc/kernel/cmdline" "crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M $console"
has "$r/etc/default/grub" "GRUB_CMDLINE_LINUX=\"crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M resume=/dev/mapper/rhel-swap rd.lvm.lv=rhel/root rd.lvm.lv=rhel/swap $console\""
has "$r/etc/default/grub" "GRUB_SERIAL_COMMAND=\"$serial\""
has "$r/boot/grub2/grub.cfg" "$serial"
# shellcheck disable=SC2016 # a literal GRUB variable
has "$r/boot/efi/EFI/redhat/grub.cfg" 'configfile $prefix/grub.cfg'
has "$r/.calls" "grub2-mkconfig -o $r/boot/grub2/grub.cfg"

log "Rocky 8 on BIOS (BLS entries with \$kernelopts: grubenv kernelopts edited, 1024 bytes kept)"
r=$work/rocky8-bios
has "$r/boot/grub2/grubenv" "kernelopts=root=/dev/mapper/rl-root ro resume=/dev/mapper/rl-swap rd.lvm.lv=rl/root rhgb quiet $console"
[[ $(stat -c %s "$r/boot/grub2/grubenv") == 1024 ]] || die "grubenv is not 1024 bytes"
has "$r/boot/grub2/grubenv" "saved_entry=0123-4.18.0-513.el8.x86_64"
# shellcheck disable=SC2016 # a literal GRUB variable
has "$r/boot/loader/entries/0123-4.18.0-513.el8.x86_64.conf" 'options $kernelopts $tuned_params'
has "$r/boot/grub2/grub.cfg" "$serial"

log "SLES 15 (/etc/default/grub, gfxterm replaced, grub2-mkconfig -o /boot/grub2/grub.cfg)"
r=$work/sles15
has "$r/etc/default/grub" 'GRUB_TERMINAL="console serial"'
has "$r/boot/grub2/grub.cfg" "ro $console splash=silent"
has "$r/boot/grub2/grub.cfg" "$serial"

log "CentOS 6 (GRUB 0.97 grub.conf through /etc/grub.conf, upstart, pam_securetty)"
r=$work/centos6-legacy
has "$r/boot/grub/grub.conf" "$serial"
has "$r/boot/grub/grub.conf" "terminal --timeout=5 console serial"
has "$r/boot/grub/grub.conf" "#splashimage"
[[ $(grep -c "kernel .* rhgb quiet $console\$" "$r/boot/grub/grub.conf") == 2 ]] || die "grub.conf kernel lines"
[[ -L $r/etc/grub.conf ]] || die "/etc/grub.conf symlink was replaced"
has "$r/etc/init/ttyS0.conf" "exec /sbin/agetty -L 115200 ttyS0 vt102"
has "$r/.calls" "initctl start ttyS0"
has "$r/etc/securetty" "ttyS0"

for distro in debian12 rhel9-uefi; do
  for mode in fail syntax; do
    log "$distro: grub-mkconfig '$mode' -> previous files restored, tool's message shown"
    fixture "$distro"; r=$work/$distro
    echo "$mode" >"$r/.fake-mkconfig-mode"
    before=$(tree_sum "$r")
    if play "$r"; then die "$distro/$mode: play succeeded"; fi
    if [[ $mode == fail ]]; then has "$work/out" "exited 1; previous files restored"; has "$work/out" "No space left on device"
    else has "$work/out" "reported 'Syntax errors are detected' (exit 0); previous files restored"; fi
    [[ $(tree_sum "$r") == "$before" ]] || { diff <(tree_sum "$r") <(echo "$before") || true; die "$distro/$mode: files not restored"; }
  done
done

log "Bad input: clear error before any write"
fixture debian12; r=$work/debian12; before=$(tree_sum "$r")
for bad in "guest_speed=1234|guest_speed must be one of" "guest_word=9|guest_word must be one of" \
  "guest_parity=mark|guest_parity must be one of" "guest_stop=3|guest_stop must be one of" \
  "guest_unit=4|guest_unit must be one of" "guest_tty=tty0|must be a serial device name" \
  "guest_tty=ttyS1|must agree with guest_unit" "guest_getty_device_timeout_s=30|getty_device_timeout_s must be 0" \
  "guest_getty_device_timeout_s=5min|guest_getty_device_timeout_s"; do
  if play "$r" -e "${bad%%|*}"; then die "accepted ${bad%%|*}"; fi
  has "$work/out" "${bad#*|}"
done
[[ $(tree_sum "$r") == "$before" ]] || die "bad input changed files"

log "No GRUB (direct kernel boot): fail with the reason, or skip the GRUB part when told to"
fixture direct-boot; r=$work/direct-boot
if play "$r"; then die "no-GRUB guest accepted"; fi
has "$work/out" "has no GRUB"
play "$r" -e guest_grub_missing_ok=true || { cat "$work/out"; die "guest_grub_missing_ok run failed"; }
[[ -L $r/etc/systemd/system/getty.target.wants/serial-getty@ttyS0.service ]] || die "no getty on no-GRUB guest"

log "No live UART: enable for the next boot and say a power cycle is needed; fail when a live UART is required"
fixture debian12; r=$work/debian12; echo 0 >"$r/sys/class/tty/ttyS0/type"
play "$r" || die "no-UART run failed"
has "$work/out" "power it off and on from the hypervisor"
[[ -L $r/etc/systemd/system/getty.target.wants/serial-getty@ttyS0.service ]] || die "getty not enabled for next boot"
if play "$r" -e guest_require_live_uart=true; then die "guest_require_live_uart accepted a missing UART"; fi
has "$work/out" "is not a live UART"

log "systemd-networkd-wait-online fix (opt-in) and the serial-getty drop-in"
fixture debian12; r=$work/debian12
extra=(-e guest_wait_online_fix=true -e guest_getty_systemd_dropin=true -e guest_getty_term=vt220)
play "$r" "${extra[@]}" || { cat "$work/out"; die "wait-online run failed"; }
play "$r" "${extra[@]}"; [[ $(changed) == 0 ]] || die "wait-online second run changed $(changed)"
has "$r/etc/systemd/system/systemd-networkd-wait-online.service.d/ttyfleet.conf" "systemd-networkd-wait-online --any --timeout=10"
has "$r/etc/systemd/system/serial-getty@ttyS0.service.d/ttyfleet.conf" "--keep-baud 115200,57600,38400,9600 %I \$TERM"

log "systemd device timeout: another value rewrites the drop-in, 0 removes it; one call, then none"
fixture debian12; r=$work/debian12; dev=$r/etc/systemd/system/dev-ttyS0.device.d/ttyfleet.conf
play "$r" || { cat "$work/out"; die "device timeout: converge failed"; }
for t in 600 0; do
  play "$r" -e guest_getty_device_timeout_s=$t --diff || { cat "$work/out"; die "device timeout $t: run failed"; }
  [[ $(changed) == 1 ]] || die "device timeout $t: expected 1 change (the serial_getty call), got $(changed)"
  play "$r" -e guest_getty_device_timeout_s=$t; [[ $(changed) == 0 ]] || die "device timeout $t: second run changed"
  if ((t)); then has "$dev" "JobRunningTimeoutSec=$t"; else [[ ! -e $dev ]] || die "device timeout 0: drop-in kept"; fi
done
printf '[Unit]\nJobRunningTimeoutSec=5\n' >"$dev"    # a hand-edited file is not what was asked: rewritten
play "$r"; [[ $(changed) == 1 ]] || die "hand-edited device drop-in: expected 1 change, got $(changed)"
has "$dev" "JobRunningTimeoutSec=300"

log "console_access on this machine: append a throw-away user to dialout, keep its other groups"
userdel -r tf-h5-user >/dev/null 2>&1 || true
useradd -M -G users tf-h5-user
ansible-playbook -i "$here/inventory" "$here/access.yml" >"$work/out" 2>&1 || { cat "$work/out"; die "console_access failed"; }
id -nG tf-h5-user | grep -qw dialout || die "tf-h5-user not in dialout"
id -nG tf-h5-user | grep -qw users || die "tf-h5-user lost group users"
ansible-playbook -i "$here/inventory" "$here/access.yml" >"$work/out" 2>&1
[[ $(changed) == 0 ]] || die "console_access second run changed"
if ansible-playbook -i "$here/inventory" "$here/access.yml" -e '{"users": ["tf-h5-nosuchuser"]}' >"$work/out" 2>&1; then
  die "console_access accepted a missing user"; fi
has "$work/out" "this role never creates them"
! getent passwd tf-h5-nosuchuser >/dev/null || die "a missing user was created"

log "memtest86+ installed (Debian 12): its entries are not judged; converge, then 0 changed"
fixture debian12; r=$work/debian12; : >"$r/boot/memtest86+x64.bin"
play "$r" || { cat "$work/out"; die "memtest: converge failed"; }
has "$r/boot/grub/grub.cfg" "        linux   /boot/memtest86+x64.bin"
has "$r/boot/grub/grub.cfg" "linux	/boot/memtest86+x64.bin console=ttyS0,115200"
has "$r/boot/grub/grub.cfg" "net.ifnames=0 apparmor=0 $console quiet"
play "$r" || die "memtest: second run failed"
[[ $(changed) == 0 ]] || die "memtest: second run changed $(changed)"

log "Debian 12 cloud image (grub-cloud-amd64's /etc/default/grub), console on hvc0: its earlyprintk=ttyS0 goes too"
fixture debian12; r=$work/debian12
cat >"$r/etc/default/grub" <<'G'
GRUB_DEFAULT=0
GRUB_TIMEOUT=5
GRUB_CMDLINE_LINUX_DEFAULT=""
GRUB_CMDLINE_LINUX="console=tty0 console=ttyS0,115200 earlyprintk=ttyS0,115200 consoleblank=0"
GRUB_TERMINAL="console serial"
GRUB_SERIAL_COMMAND="serial --speed=115200"
G
packaged=$(sha256sum <"$r/etc/default/grub")
play "$r" -e guest_tty=hvc0 || { cat "$work/out"; die "cloud hvc0: converge failed"; }
has "$r/boot/grub/grub.cfg" "consoleblank=0 console=tty0 console=hvc0"
hasnt "$r/boot/grub/grub.cfg" "earlyprintk"
[[ $(sha256sum <"$r/etc/default/grub") == "$packaged" ]] || die "cloud hvc0: the packaged /etc/default/grub was edited"
play "$r" -e guest_tty=hvc0; [[ $(changed) == 0 ]] || die "cloud hvc0: second run changed $(changed)"
play "$r" || { cat "$work/out"; die "cloud ttyS0: converge failed"; }   # back on ttyS0: the image's argument is kept
has "$r/boot/grub/grub.cfg" "earlyprintk=ttyS0,115200 consoleblank=0 $console"

log "BLS entries with two options lines (RHEL 9): no stale console= kept in either"
fixture rhel9-uefi; r=$work/rhel9-uefi
sed -i 's/^grub_users /options console=tty1 rd.debug\ngrub_users /' "$r"/boot/loader/entries/*.conf
play "$r" -e '{"guest_remove_args": ["rhgb"]}' || { cat "$work/out"; die "two options lines: converge failed"; }
for e in "$r"/boot/loader/entries/*.conf; do
  hasnt "$e" "console=tty1"
  [[ $(grep -c "console=" "$e") == 1 ]] || die "$e: console= on more than one options line"
  has "$e" "options rd.debug $console"
done
play "$r" -e '{"guest_remove_args": ["rhgb"]}'; [[ $(changed) == 0 ]] || die "two options lines: second run changed"

log "/etc/default/grub that prints to stdout (RHEL 9): the kernel arguments are not corrupted"
fixture rhel9-uefi; r=$work/rhel9-uefi
sed -i '1i echo "Loading GRUB defaults"\nprintf "quiet\\0splash\\0"' "$r/etc/default/grub"
play "$r" || { cat "$work/out"; die "printing /etc/default/grub: converge failed"; }
has "$r/etc/default/grub" "GRUB_CMDLINE_LINUX=\"crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M resume=/dev/mapper/rhel-swap rd.lvm.lv=rhel/root rd.lvm.lv=rhel/swap rhgb quiet $console\""
hasnt "$r/etc/default/grub" 'GRUB_CMDLINE_LINUX="Loading'

log "Check mode fails where the run would: no runnable generator on the guest (the module's own check: unit test)"
fixture debian12; r=$work/debian12; chmod 644 "$r/usr/sbin/update-grub" "$r/usr/sbin/grub-mkconfig"; before=$(tree_sum "$r")
if play "$r" --check; then die "check mode reported success without a generator"; fi
has "$work/out" "has no GRUB"
[[ $(tree_sum "$r") == "$before" ]] || die "no generator: files changed"

log "Hostile values: refused naming the option, nothing written, nothing run"
fixture debian12; r=$work/debian12; before=$(tree_sum "$r")
for bad in \
  "{\"guest_remove_args\": [\"x=\$(touch $work/ran)\"]}|grub_remove_args" \
  "{\"guest_remove_args\": [\"quiet\\nGRUB_X=1\"]}|grub_remove_args" \
  "{\"guest_getty_term\": \"vt220\\nExecStartPre=/bin/touch $work/ran\"}|getty_term" \
  "{\"guest_getty_term\": \"vt220 \$(touch $work/ran)\"}|getty_term" \
  "{\"guest_console_access_users\": [\"tf-h5-user\"], \"guest_console_access_groups\": [\"tty\"]}|console_access_groups"; do
  if play "$r" -e "${bad%%|*}"; then die "accepted ${bad%%|*}"; fi
  has "$work/out" "${bad#*|}"
  ! grep -q Traceback "$work/out" || die "traceback for ${bad%%|*}"
done
[[ ! -e $work/ran ]] || die "a hostile value ran a command"
[[ $(tree_sum "$r") == "$before" ]] || die "hostile input changed files"

log "console_access never grants tty: hvc0 without a group is refused, tty is refused"
if ansible-playbook -i "$here/inventory" "$here/access.yml" -e '{"access_tty": "hvc0", "access_groups": []}' >"$work/out" 2>&1; then
  die "console_access granted a group for hvc0"; fi
has "$work/out" "virtio console (hvc)"
if ansible-playbook -i "$here/inventory" "$here/access.yml" -e '{"access_groups": ["tty"]}' >"$work/out" 2>&1; then
  die "console_access granted tty"; fi
has "$work/out" "console_access_groups must not contain tty"
ansible-playbook -i "$here/inventory" "$here/access.yml" -e '{"access_groups": []}' >"$work/out" 2>&1 || { cat "$work/out"; die "default group run failed"; }
has "$work/out" "already in dialout"
! id -nG tf-h5-user | grep -qw tty || die "tf-h5-user is in tty"

if ((fails)); then echo "role fixtures: $fails failure(s)"; exit 1; fi
echo "role fixtures: all passed"
