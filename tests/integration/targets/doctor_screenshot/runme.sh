#!/usr/bin/env bash
# doctor, serial console silent: the diagnosis names a PNG of the VGA display (playbooks/tasks/screenshot.yml), the
# file is on the hypervisor, 0600, decodes with an independent decoder (../domain_screenshot/files/png_check.py)
# and is not blank (SeaBIOS has drawn its text). A domain whose console answers gets no screenshot (link 1 case:
# a shut-off domain is never captured).
set -euo pipefail
PY=${ANSIBLE_TEST_PYTHON_INTERPRETER:-python3}
# ansible-test runs a copy of this target alone; the oracle is found in the collection on ANSIBLE_COLLECTIONS_PATH
oracle=""
IFS=: read -r -a cpaths <<<"${ANSIBLE_COLLECTIONS_PATH:-}"
for p in "${cpaths[@]}"; do
  f=$p/ansible_collections/ttyfleet/serial_console/tests/integration/targets/domain_screenshot/files/png_check.py
  if [[ -n $p && -f $f ]]; then oracle=$f; break; fi
done
[[ -n $oracle ]] || { echo "cannot find the collection (and png_check.py) on ANSIBLE_COLLECTIONS_PATH"; exit 1; }
URI=qemu:///system
DOM=tf-eco-doc
work=$(mktemp -d /tmp/tf-eco-doc.XXXXXX)
cleanup() {
  virsh -c "$URI" destroy "$DOM" >/dev/null 2>&1 || true
  virsh -c "$URI" undefine "$DOM" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
cleanup; mkdir -p "$work/shots"

cat >"$work/dom.xml" <<XML
<domain type='qemu'>
  <name>$DOM</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>
  <devices>
    <serial type='pty'><target port='0'/></serial>
    <console type='pty'><target type='serial' port='0'/></console>
    <video><model type='vga'/></video>
  </devices>
</domain>
XML
virsh -c "$URI" define "$work/dom.xml" >/dev/null
virsh -c "$URI" start "$DOM" >/dev/null

cat >"$work/inventory.yml" <<INV
all:
  children:
    hypervisors:
      hosts:
        hv1:
          ansible_connection: local
          ansible_python_interpreter: $PY
    guests:
      vars:
        serial_console_hypervisor: hv1
        serial_console_become: false
        ansible_connection: local
        ansible_python_interpreter: $PY
      hosts:
        $DOM:
INV
export ANSIBLE_FORCE_COLOR=0
# SeaBIOS draws within a second or two under TCG; the console watch below takes its 5 s first
ansible-playbook -i "$work/inventory.yml" ttyfleet.serial_console.doctor -e guest=$DOM \
  -e serial_console_report_dir="$work/report" -e serial_console_screenshot_dir="$work/shots" \
  -e serial_console_doctor_timeout_s=5 >"$work/doctor.log" 2>&1 || { cat "$work/doctor.log"; exit 1; }

report=$work/report/doctor-$DOM.json
"$PY" - "$report" "$work/shots/doctor-$DOM-vga.png" <<'PY' || { cat "$work/doctor.log"; exit 1; }
import json, sys
d = json.load(open(sys.argv[1]))
assert d["prompt_seen"] is False, d
shot = d.get("vga_screenshot")
assert shot, "the diagnosis names no VGA screenshot: %s" % sorted(d)
assert shot["error"] is None, shot
assert shot["path"] == sys.argv[2] and shot["hypervisor"] == "hv1", shot
assert shot["width"] >= 640 and shot["height"] >= 350, shot
print("doctor names %(path)s on %(hypervisor)s: %(width)sx%(height)s, blank=%(blank)s" % shot)
PY
png=$work/shots/doctor-$DOM-vga.png
[[ $(stat -c %a "$png") == 600 ]] || { echo "FAIL: $png is not 0600"; exit 1; }
grep -q "VGA display of $DOM saved on hv1: $png" "$work/doctor.log" || { cat "$work/doctor.log"; echo "FAIL: the run does not say where the PNG is"; exit 1; }
"$PY" "$oracle" "$png" --min-colours 2
echo "OK: doctor saved and named a non-blank VGA screenshot"
