#!/usr/bin/env bash
# Role console_logging and module console_log, on the real libvirtd/virtlogd of this host:
#  1. the role in check mode changes nothing, the real run sets max_size/max_backups/stdio_handler and re-executes
#     the running virtlogd (SIGUSR1: same pid), a second run changes nothing and signals nothing; bad values fail;
#  2. a diskless domain with SeaBIOS on its serial port (rebooting at once: a steady stream of output) logs through
#     virtlogd: the log rotates at max_size and keeps max_backups backups; a second re-exec while it writes keeps
#     its log open (no byte lost: the stream goes on in the same file);
#  3. console_log: output from an offset, the last N lines, a cursor that survives a rotation, redaction, a domain
#     without a log accounted for, several domains in one call.
# virtlogd.conf and qemu.conf are restored (and virtlogd re-executed again) at the end. virtlogd is shared by every
# domain of the host, so this runs under the boot lock, like a libvirtd restart.
set -euo pipefail
if [[ -z ${TTYFLEET_BOOT_LOCKED:-} ]]; then
  exec env TTYFLEET_BOOT_LOCKED=1 flock /var/lock/ttyfleet-boot "$0" "$@"
fi
PY=${ANSIBLE_TEST_PYTHON_INTERPRETER:-python3}
URI=qemu:///system
P=tf-fl-log-
VL=/etc/libvirt/virtlogd.conf
QC=/etc/libvirt/qemu.conf
LOGDIR=/var/log/libvirt/qemu
work=$(mktemp -d /tmp/fl-log.XXXXXX)
cp -p "$VL" "$work/virtlogd.conf.orig"
cp -p "$QC" "$work/qemu.conf.orig"
# The role's lineinfile backups (FILE.PID.DATE@TIME~) keep the mtime of the file they copy, so no time test tells
# them apart: the ones to remove at the end are exactly those that were not there before this run.
backups() { find /etc/libvirt -maxdepth 1 -type f \( -name "${VL##*/}.*~" -o -name "${QC##*/}.*~" \) | sort; }
backups >"$work/backups.before"
vpid() { cat /run/virtlogd.pid; }
cleanup() {
  for d in a b; do
    virsh -c "$URI" destroy "$P$d" >/dev/null 2>&1 || true
    virsh -c "$URI" undefine "$P$d" >/dev/null 2>&1 || true
  done
  rm -f "$LOGDIR/${P}"*
  if ! cmp -s "$work/virtlogd.conf.orig" "$VL" || ! cmp -s "$work/qemu.conf.orig" "$QC"; then
    cp -p "$work/virtlogd.conf.orig" "$VL"; cp -p "$work/qemu.conf.orig" "$QC"
    kill -USR1 "$(vpid)" && sleep 1
    echo "restored $VL and $QC, virtlogd re-executed"
  fi
  backups | comm -13 "$work/backups.before" - | while IFS= read -r f; do rm -f -- "$f"; done
  rm -rf "$work"
}
trap cleanup EXIT
trap "exit 143" TERM INT  # the EXIT trap restores virtlogd.conf and qemu.conf also when the run is stopped
fail() { echo "FAIL: $*" >&2; exit 1; }
export ANSIBLE_FORCE_COLOR=0
started=$SECONDS

cat >"$work/role.yml" <<'YML'
- hosts: localhost
  gather_facts: false
  roles:
    - role: ttyfleet.serial_console.console_logging
  post_tasks:
    - name: Report the role's facts
      ansible.builtin.copy:
        content: "{{ {'reexec': console_logging_virtlogd_reexec, 'restart': console_logging_libvirtd_restart_required} | to_json }}"
        dest: "{{ out }}"
        mode: "0644"
      check_mode: false
      changed_when: false  # the test's own report file: the recap counts only the role's changes
YML
role() { # out-file, extra args
  local out=$1; shift
  ansible-playbook -i localhost, -c local -e "ansible_python_interpreter=$PY" -e "out=$out" "$work/role.yml" "$@"
}
recap_changed() { sed -n 's/.*localhost *: ok=[0-9]* *changed=\([0-9]*\).*/\1/p' "$1"; }

echo "== 1. role console_logging"
pid0=$(vpid)
role "$work/f0.json" -e console_logging_max_size=4096 -e console_logging_max_backups=2 --check --diff >"$work/check.log" 2>&1 \
  || { cat "$work/check.log"; fail "check mode"; }
if ! { cmp -s "$work/virtlogd.conf.orig" "$VL" && cmp -s "$work/qemu.conf.orig" "$QC"; }; then fail "check mode changed a file"; fi
[[ $(vpid) == "$pid0" ]] || fail "check mode touched virtlogd"
grep -q '^+max_size = 4096' "$work/check.log" || { cat "$work/check.log"; fail "the diff does not show max_size"; }
grep -q '"reexec": true' "$work/f0.json" || fail "check mode does not predict the re-exec"
[[ $(recap_changed "$work/check.log") -ge 2 ]] || fail "check mode reports no change"

role "$work/f1.json" -e console_logging_max_size=4096 -e console_logging_max_backups=2 >"$work/run1.log" 2>&1 \
  || { cat "$work/run1.log"; fail "real run"; }
if ! { grep -qx 'max_size = 4096' "$VL" && grep -qx 'max_backups = 2' "$VL"; }; then fail "virtlogd.conf not set"; fi
grep -qx 'stdio_handler = "logd"' "$QC" || fail "qemu.conf not set"
[[ $(grep -c '' "$VL") == $(grep -c '' "$work/virtlogd.conf.orig") ]] || fail "virtlogd.conf lost or gained lines"
grep -q "Re-execute virtlogd (SIGUSR1)" "$work/run1.log" || fail "no re-exec task"
grep -A1 "Re-execute virtlogd (SIGUSR1)" "$work/run1.log" | grep -q changed || { cat "$work/run1.log"; fail "virtlogd was not re-executed"; }
if ! { [[ $(vpid) == "$pid0" ]] && [[ $(readlink /proc/"$pid0"/exe) == */virtlogd ]]; }; then fail "virtlogd did not survive its re-exec"; fi
# the stock qemu.conf states no stdio_handler: logd is the default, so no libvirtd restart is needed
grep -q '"restart": false' "$work/f1.json" || fail "restart_required"

role "$work/f2.json" -e console_logging_max_size=4096 -e console_logging_max_backups=2 >"$work/run2.log" 2>&1 \
  || { cat "$work/run2.log"; fail "second run"; }
[[ $(recap_changed "$work/run2.log") == 0 ]] || { cat "$work/run2.log"; fail "second run changed something"; }
grep -q '"reexec": false' "$work/f2.json" || fail "second run re-executed virtlogd"

for bad in "console_logging_max_size=100" "console_logging_max_backups=1000" "console_logging_max_size=8k;rm"; do
  if role "$work/bad.json" -e "$bad" >"$work/bad.log" 2>&1; then fail "$bad accepted"; fi
  # out-of-range values: the role's own check; text that is no number: the argument spec, both naming the option
  grep -Eq "console_logging_max_size must be 4096-2147483647|argument 'console_logging_max_size' is of type str" \
    "$work/bad.log" || { cat "$work/bad.log"; fail "$bad message"; }
done
echo "role: check mode, real run, re-exec with the same pid, idempotence, bad values: ok"

echo "== 2. a SeaBIOS console logged through virtlogd, rotating at 4096 bytes"
domain_xml() { # name, log element
  cat <<XML
<domain type='qemu'>
  <name>$1</name>
  <memory unit='MiB'>32</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><bios useserial='yes' rebootTimeout='0'/></os>
  <devices>
    <serial type='pty'>$2<target port='0'/></serial>
    <console type='pty'><target type='serial' port='0'/></console>
    <graphics type='vnc' autoport='yes' listen='127.0.0.1' passwd='LogPw123'/>
  </devices>
</domain>
XML
}
LOG=$LOGDIR/${P}a-serial0.log
domain_xml "${P}a" "<log file='$LOG' append='off'/>" >"$work/a.xml"
domain_xml "${P}b" "" >"$work/b.xml"
virsh -c "$URI" define "$work/a.xml" >/dev/null
virsh -c "$URI" define "$work/b.xml" >/dev/null
virsh -c "$URI" start "${P}a" >/dev/null
for _ in $(seq 1 240); do [[ -e $LOG.1 ]] && break; sleep 0.5; done
[[ -e $LOG.1 ]] || { ls -l "$LOGDIR"/${P}* || true; fail "the console log did not rotate twice within 120 s"; }
sleep 2
ls -l "$LOG"*
for f in "$LOG" "$LOG".*; do
  [[ $(stat -c %s "$f") -le 4096 ]] || fail "$f is over max_size"
done
[[ ! -e $LOG.2 ]] || fail "more than max_backups=2 backups kept"
grep -aq SeaBIOS "$LOG.0" "$LOG.1" || fail "the backups do not hold SeaBIOS's output"
echo "rotation at max_size with max_backups backups: ok"

echo "== 3. console_log"
mod() { ansible localhost -c local -e "ansible_python_interpreter=$PY" -m ttyfleet.serial_console.console_log -a "$1" -o; }
json() { sed -n 's/^localhost | SUCCESS => //p'; }
mod "{\"name\": [\"${P}a\", \"${P}b\"], \"offset\": 0, \"max_bytes\": 4096}" | json >"$work/m1.json"
"$PY" - "$work/m1.json" "$P" "$LOG" <<'PY'
import json, sys
r, p, log = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3]
a, b = r["domains"]
assert r["changed"] is False and [a["name"], b["name"]] == [p + "a", p + "b"], r
assert a["log_file"] == log and "SeaBIOS" in a["output"], a
assert a["start_offset"] == 0 and 0 < a["next_offset"] <= 4096, a
assert a["more"] is True and a["size"] > 4096 and len(a["files"]) >= 2, a
assert a["files"][0]["path"].startswith(log + "."), a["files"]  # oldest backup first
assert b["log_file"] is None and "console_not_logged" in b["note"] and b["output"] == "", b
lg = r["logging"]
assert (lg["stdio_handler"], lg["max_size"], lg["max_backups"], lg["bounded"]) == ("logd", 4096, 2, True), lg
print("offset 0 on two domains: output, next offset, a domain without a log accounted for: ok")
PY
cursor=$("$PY" -c "import json,sys; print(json.load(open(sys.argv[1]))['domains'][0]['next_cursor'])" "$work/m1.json")
# wait for a rotation to move the cursor's file to a new name, then page on from the cursor
ino=${cursor%%:*}
for _ in $(seq 1 160); do [[ $(stat -c %i "$LOG") != "$ino" && -e $LOG.0 && $(stat -c %i "$LOG.0") != "$ino" ]] && break; sleep 0.5; done
mod "{\"name\": \"${P}a\", \"cursor\": \"$cursor\", \"max_bytes\": 100000, \"secrets\": [\"SeaBIOS\"]}" | json >"$work/m2.json"
mod "{\"name\": \"${P}a\", \"lines\": 3}" | json >"$work/m3.json"
mod "{\"name\": \"${P}a\", \"cursor\": \"1:0:00000000\"}" | json >"$work/m4.json"
"$PY" - "$work/m1.json" "$work/m2.json" "$work/m3.json" "$work/m4.json" <<'PY'
import json, os, sys
m1, m2, m3, m4 = (json.load(open(f))["domains"][0] for f in sys.argv[1:5])
ino, byte = (int(x) for x in m1["next_cursor"].split(":")[:2])  # inode:byte:crc32 of the first bytes
names = {f["inode"]: f["path"] for f in m2["files"]}
if ino in names and not m2["missed"]:
    # the cursor's file was found again (under its rotated name) and reading went on at the same byte of it
    older = sum(f["size"] for f in m2["files"][: [f["inode"] for f in m2["files"]].index(ino)])
    assert m2["start_offset"] == older + byte and not m2["missed"], (m2["start_offset"], older, byte)
    assert not names[ino].endswith("-serial0.log"), "the cursor's file did not rotate: %s" % names[ino]
    print("cursor across a rotation: found in", os.path.basename(names[ino]), "at byte", byte)
else:
    assert m2["missed"] and m2["start_offset"] == 0, m2
    # rotated out of the kept files, or its inode was reused by a newer file (the crc of its head tells them apart)
    print("cursor rotated out of the kept files: missed=true, read from the oldest byte")
assert "SeaBIOS" not in m2["output"] and "********" in m2["output"], m2["output"][:200]
assert "LogPw123" not in json.dumps([m1, m2, m3, m4])
lines = m3["output"].splitlines()
assert 1 <= len(lines) <= 3 and m3["next_offset"] >= m3["size"], m3  # the domain still writes: the read may end past the listed size
assert m4["missed"] is True and m4["start_offset"] == 0, m4
print("redaction, last N lines, an unknown cursor: ok")
PY
# bad input fails before reading, naming the option
for bad in "{\"name\": \"${P}a\", \"cursor\": \"x;y\"}" "{\"name\": \"${P}a\", \"max_bytes\": 0}" "{\"name\": \"${P}nope\"}"; do
  if mod "$bad" >"$work/bad.out" 2>&1; then fail "accepted $bad"; fi
  grep -Eq "cursor must be|max_bytes must be|not found" "$work/bad.out" || { cat "$work/bad.out"; fail "message for $bad"; }
done
echo "bad input: ok"

echo "== 2b. a re-exec while the console writes keeps its log open"
size_before=$(stat -c %s "$LOG"); ino_before=$(stat -c %i "$LOG")
role "$work/f3.json" -e console_logging_max_size=65536 -e console_logging_max_backups=2 >"$work/run3.log" 2>&1 \
  || { cat "$work/run3.log"; fail "re-exec run"; }
grep -q '"reexec": true' "$work/f3.json" || fail "no re-exec"
[[ $(vpid) == "$pid0" ]] || fail "virtlogd changed pid"
sleep 3
state=$(virsh -c "$URI" domstate "${P}a")  # captured: grep -q could end the pipe early (SIGPIPE under pipefail)
[[ $state == running* ]] || fail "the domain stopped (state: $state)"
# the log goes on: either the same file grew, or it rotated on (its old inode is now a backup)
if [[ $(stat -c %i "$LOG") == "$ino_before" ]]; then
  [[ $(stat -c %s "$LOG") -gt $size_before ]] || fail "the console log stopped growing after the re-exec"
else
  # at ~200 bytes/s against max_size 4096 it may have rotated once or twice during the role's run
  rotated=""
  for b in "$LOG.0" "$LOG.1"; do
    if [[ -e $b && $(stat -c %i "$b") == "$ino_before" ]]; then rotated=$b; fi
  done
  [[ -n $rotated ]] || fail "the console log was replaced, not rotated (its inode is in no kept backup)"
fi
sleep 3
big=$(stat -c %s "$LOG")
echo "after the re-exec: log $big bytes (new max_size 65536), virtlogd pid $(vpid) unchanged"
echo "console_logging: all passed in $((SECONDS - started)) s"
