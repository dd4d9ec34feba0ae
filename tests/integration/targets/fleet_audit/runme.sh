#!/usr/bin/env bash
# The fleet playbooks' read-only logic, without booting a guest:
#  1. (the guest read on prepared root file systems, a clean guest without finding and each planted fault its own,
#     is a unit test now: tests/unit/plugins/modules/test_guest_console_info_findings.py)
#  2. audit and doctor against three shut-off domains on qemu:///system: stock (no serial, no VNC), exposed
#     (serial, VNC on 0.0.0.0 without a password) and converged; the report names each drift, the CI gate fails
#     on drift and passes on the converged domain, and nothing is changed;
#     the report is also JUnit XML (one testcase per guest, one failure per finding), files 0600 in a 0700 directory,
#     and the Markdown puts the summary by finding kind and hypervisor before the per-guest table;
#  2b. exposure findings on a fourth shut-off domain: a tcp serial bound to 0.0.0.0, VNC on ::, SPICE on 0.0.0.0;
#  2c. a VNC password given to the audit appears in -v output neither as itself nor as any hash of it;
#  2e. a hypervisor call that fails makes its guests host_unreadable with the module's message (no secret);
#  3. rollout on them: --check changes nothing; the host phase fixes both, skips the guests of shut-off domains,
#     a second run changes nothing, and the audit gate passes.
# TTYFLEET_QUICK=1 (make matrix, on the oldest ansible-core; ansible-test passes no such variable, so `make
# integration` runs everything): the audits of 2. and their checks only, then stop.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# ansible-test runs a copy of this target; the collection itself is on ANSIBLE_COLLECTIONS_PATH.
coll=""
IFS=: read -r -a cpaths <<<"${ANSIBLE_COLLECTIONS_PATH:-}:$here/../../../../../../.."
for p in "${cpaths[@]}"; do
  if [[ -n $p && -f $p/ansible_collections/ttyfleet/serial_console/plugins/modules/guest_console_info.py ]]; then
    coll=$(cd "$p/ansible_collections/ttyfleet/serial_console" && pwd); break
  fi
done
[[ -n $coll ]] || { echo "cannot find the collection on ANSIBLE_COLLECTIONS_PATH"; exit 1; }
PY=${ANSIBLE_TEST_PYTHON_INTERPRETER:-python3}
URI=qemu:///system
# FLEET_AUDIT_PREFIX: the domains' name prefix. make matrix runs this script under a prefix of its own, so that it
# never meets a `make integration` on the same host; ansible-test passes no such variable: there it is fleet-fx-.
PREFIX=${FLEET_AUDIT_PREFIX:-fleet-fx-}
[[ $PREFIX =~ ^[a-z][a-z0-9-]{0,40}-$ ]] || { echo "FLEET_AUDIT_PREFIX: lower-case letters, digits and -, ending in -"; exit 2; }
work=$(mktemp -d /tmp/fleet-audit.XXXXXX)

cleanup() {
  for d in a b c d; do
    virsh -c "$URI" undefine "${PREFIX}$d" >/dev/null 2>&1 || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
cleanup_keep_work() { for d in a b c; do virsh -c "$URI" undefine "${PREFIX}$d" >/dev/null 2>&1 || true; done; }

echo "== 2. audit and doctor on shut-off domains"
cleanup_keep_work
mkdir -p "$work"
domain_xml() { # name, extra devices
  cat <<XML
<domain type='qemu'>
  <name>$1</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <features><acpi/></features>
  <devices>$2</devices>
</domain>
XML
}
domain_xml "${PREFIX}a" "" >"$work/a.xml"
domain_xml "${PREFIX}b" "<serial type='pty'><target port='0'/></serial><console type='pty'><target type='serial' port='0'/></console><graphics type='vnc' port='-1' autoport='yes' listen='0.0.0.0'><listen type='address' address='0.0.0.0'/></graphics>" >"$work/b.xml"
domain_xml "${PREFIX}c" "<serial type='pty'><target port='0'/></serial><console type='pty'><target type='serial' port='0'/></console><graphics type='vnc' port='-1' autoport='yes' listen='127.0.0.1'><listen type='address' address='127.0.0.1'/></graphics>" >"$work/c.xml"
for d in a b c; do virsh -c "$URI" define "$work/$d.xml" >/dev/null; done
for d in a b c; do virsh -c "$URI" dumpxml --inactive --security-info "${PREFIX}$d" >"$work/$d.before"; done

inventory() { # the guests' inventory names
  cat <<INV
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
INV
  for g in "$@"; do echo "        $g:"; done
}
# c leaves its VNC device alone (serial_console_vnc: false), so the host phase has two groups, one of them without
# VNC settings: the drift sent to domain_console_info then holds vnc: None (before ansible-core 2.19 a None templated
# on its own became '' and the call failed: every guest of it host_unreadable)
inventory "${PREFIX}a" "${PREFIX}b" "${PREFIX}c" | sed "s/^        ${PREFIX}c:\$/        ${PREFIX}c: {serial_console_vnc: false}/" \
  >"$work/inventory.yml"
export ANSIBLE_FORCE_COLOR=0
play() { ansible-playbook -i "$work/inventory.yml" -e "serial_console_report_dir=$work/report" "$@"; }

# the whole fleet: drift, and the CI gate fails
set +e
play ttyfleet.serial_console.audit -e serial_console_fail_on_drift=true >"$work/audit-all.log" 2>&1
rc=$?
set -e
cat "$work/audit-all.log"
[[ $rc -ne 0 ]] || { echo "FAIL: audit with serial_console_fail_on_drift=true passed on a drifted fleet"; exit 1; }
grep -q "serial console drift on ${PREFIX}a, ${PREFIX}b" "$work/audit-all.log" || { echo "FAIL: gate message"; exit 1; }
"$PY" - "$work/report/audit.json" "$PREFIX" <<'PY'
import json, sys
report, prefix = json.load(open(sys.argv[1])), sys.argv[2]
got = {g["guest"]: sorted(f["kind"] for f in g["findings"]) for g in report["guests"]}
want = {
    prefix + "a": ["domain_not_running", "serial_console", "vnc"],
    prefix + "b": ["domain_not_running", "vnc_exposed"],
    prefix + "c": ["domain_not_running"],
}
assert got == want, "findings %s, expected %s" % (got, want)
assert report["drift"] is True and report["guests_with_drift"] == [prefix + "a", prefix + "b"], report
b = [f for f in report["guests"] if f["guest"] == prefix + "b"][0]["findings"]
assert any("0.0.0.0" in f["detail"] and "WITHOUT a password" in f["detail"] for f in b), b
print("audit.json: each planted host drift reported:", got)
PY
grep -qF "| host | \`vnc_exposed\` | VNC is set to listen on 0.0.0.0" "$work/report/audit.md" || { echo "FAIL: audit.md"; exit 1; }
# JUnit XML next to the JSON and the Markdown; every report file private
"$PY" - "$work/report" <<'PY'
import json, os, stat, sys
import xml.etree.ElementTree as ET
d = sys.argv[1]
report = json.load(open(os.path.join(d, "audit.json")))
root = ET.parse(os.path.join(d, "audit.junit.xml")).getroot()
cases = {c.get("name"): c for c in root.iter("testcase")}
assert sorted(cases) == sorted(g["guest"] for g in report["guests"]), sorted(cases)
assert (root.get("tests"), root.get("failures")) == ("3", "2"), root.attrib
for g in report["guests"]:
    want = sorted(f["kind"] for f in g["findings"] if f["kind"] != "domain_not_running")  # a note, not a failure
    got = sorted(f.get("type") for f in cases[g["guest"]].findall("failure"))
    assert got == want, (g["guest"], got, want)
for name in ("audit.json", "audit.md", "audit.junit.xml"):
    mode = stat.S_IMODE(os.stat(os.path.join(d, name)).st_mode)
    assert mode == 0o600, "%s has mode %o, expected 600" % (name, mode)
mode = stat.S_IMODE(os.stat(d).st_mode)
assert mode == 0o700, "the report directory has mode %o, expected 700" % mode
md = open(os.path.join(d, "audit.md")).read().splitlines()
first = lambda prefix: next(i for i, line in enumerate(md) if line.startswith(prefix))
assert first("| finding | side |") < first("| hypervisor | guests |") < first("| guest | domain |"), md[:30]
print("audit.junit.xml: %d testcases, one failure per finding; reports 0600 in a 0700 directory; summary first"
      % len(cases))
PY

# the converged domain alone: no drift, the gate passes
play ttyfleet.serial_console.audit -e serial_console_fail_on_drift=true -e serial_console_targets="${PREFIX}c" \
  >"$work/audit-c.log" 2>&1 || { cat "$work/audit-c.log"; echo "FAIL: gate on a converged domain"; exit 1; }
grep -q "No drift" "$work/report/audit.md" || { cat "$work/report/audit.md"; echo "FAIL: clean report"; exit 1; }

# audit changed nothing
for d in a b c; do
  virsh -c "$URI" dumpxml --inactive --security-info "${PREFIX}$d" >"$work/$d.after"
  diff -u "$work/$d.before" "$work/$d.after" || { echo "FAIL: audit changed ${PREFIX}$d"; exit 1; }
done
if [[ -n ${TTYFLEET_QUICK:-} ]]; then
  echo "fleet_audit (quick: the audit of the fleet, the gate, nothing changed): all checks passed"; exit 0
fi

# doctor: stock domain -> link 1 (no serial); serial present but shut off -> link 2 (not running)
for case in "a 1" "c 2"; do
  read -r d link <<<"$case"
  set -- "$d" "$link"
  play ttyfleet.serial_console.doctor -e guest="${PREFIX}$1" >"$work/doctor-$1.log" 2>&1 || { cat "$work/doctor-$1.log"; exit 1; }
  "$PY" - "$work/report/doctor-${PREFIX}$1.json" "$2" <<'PY'
import json, sys
d, want = json.load(open(sys.argv[1])), int(sys.argv[2])
assert d["first_broken_index"] == want, (d["first_broken_index"], d["first_broken"], d["links"])
print("doctor %s: first broken link %d: %s; fix: %s" % (d["guest"], want, d["first_broken"], d["fix"]))
PY
done
# doctor without a guest named: a clear error
if play ttyfleet.serial_console.doctor >"$work/doctor-none.log" 2>&1; then echo "FAIL: doctor without a guest"; exit 1; fi
grep -q "name one guest of the inventory with -e guest=NAME" "$work/doctor-none.log"
# a guest without serial_console_hypervisor: the inventory check stops everything before any call
if play ttyfleet.serial_console.audit -e '{"serial_console_hypervisor": null}' >"$work/bad-inv.log" 2>&1; then
  echo "FAIL: audit with a bad inventory"; exit 1
fi
grep -q "needs serial_console_hypervisor naming a host of the inventory" "$work/bad-inv.log" || { cat "$work/bad-inv.log"; exit 1; }

echo "== 2b. exposure findings, with the address, on a shut-off domain"
domain_xml "${PREFIX}d" "<serial type='pty'><target port='0'/></serial><serial type='tcp'><source mode='bind' host='0.0.0.0' service='4555'/><protocol type='telnet'/><target port='1'/></serial><console type='pty'><target type='serial' port='0'/></console><graphics type='vnc' port='-1' autoport='yes' listen='::'><listen type='address' address='::'/></graphics><graphics type='spice' autoport='yes'><listen type='address' address='0.0.0.0'/></graphics>" >"$work/d.xml"
virsh -c "$URI" define "$work/d.xml" >/dev/null
inventory "${PREFIX}d" >"$work/inventory-d.yml"
ansible-playbook -i "$work/inventory-d.yml" -e "serial_console_report_dir=$work/report-d" ttyfleet.serial_console.audit \
  >"$work/audit-d.log" 2>&1 || { cat "$work/audit-d.log"; echo "FAIL: audit of the exposed domain"; exit 1; }
"$PY" - "$work/report-d/audit.json" "${PREFIX}d" <<'PY'
import json, sys
report, name = json.load(open(sys.argv[1])), sys.argv[2]
[g] = report["guests"]
assert g["guest"] == name, g
got = {f["kind"]: f["detail"] for f in g["findings"]}
assert sorted(got) == ["domain_not_running", "serial_exposed", "spice_exposed", "vnc_exposed"], got
assert "serial port 1 (tcp telnet) is set to listen on 0.0.0.0 (every interface) port 4555" in got["serial_exposed"], got
assert got["vnc_exposed"] == "VNC is set to listen on :: (every interface) WITHOUT a password", got
assert got["spice_exposed"] == "SPICE is set to listen on 0.0.0.0 (every interface) WITHOUT a password", got
print("exposure findings:", got)
PY
virsh -c "$URI" undefine "${PREFIX}d" >/dev/null

echo "== 2c. a VNC password given to the audit is in no output, as itself or any hash of it (-v)"
pw=Pl4nt3d9
ansible-playbook -v -i "$work/inventory.yml" -e "serial_console_report_dir=$work/report-pw" \
  -e "serial_console_vnc_password=$pw" ttyfleet.serial_console.audit >"$work/audit-pw.log" 2>&1 || true
# the password goes to the one host call (domain_console_info's drift.vnc, what domain_vnc would change)
if ! grep -q "TASK \[Read the domains' console devices" "$work/audit-pw.log" || [[ ! -f $work/report-pw/audit.json ]]; then
  cat "$work/audit-pw.log"; echo "FAIL: the audit with a VNC password did not run"; exit 1
fi
"$PY" - "$pw" "$work/audit-pw.log" "$work/report-pw" <<'PY'
import base64, glob, hashlib, os, sys
pw, files = sys.argv[1], [sys.argv[2]] + glob.glob(os.path.join(sys.argv[3], "*"))
forms = {"password": pw, "base64": base64.b64encode(pw.encode()).decode()}
for algo in sorted(hashlib.algorithms_guaranteed):
    if not algo.startswith("shake"):
        forms[algo] = hashlib.new(algo, pw.encode()).hexdigest()
for path in files:
    text = open(path, encoding="utf-8", errors="replace").read()
    leaked = [name for name, form in forms.items() if form in text or form.upper() in text]
    assert not leaked, "%s holds the VNC password as %s" % (path, ", ".join(leaked))
print("not in the -v output nor the reports: the password, its %s" % ", ".join(sorted(set(forms) - {"password"})))
PY

echo "== 2d. console logs (opt-in): serial_console_logging=true reports the unlogged consoles, and only those"
# b and c have a pty serial without <log file>; a has no serial at all (serial_console's, not console_not_logged).
# The hypervisor's own qemu.conf decides console_log_unbounded: with stdio_handler logd (libvirt's default) none.
play ttyfleet.serial_console.audit -e serial_console_logging=true -e "serial_console_report_dir=$work/report-log" \
  >"$work/audit-log.log" 2>&1 || true
"$PY" - "$work/report-log/audit.json" "$PREFIX" <<'PY'
import json, re, sys
r, prefix = json.load(open(sys.argv[1])), sys.argv[2]
got = {g["guest"]: sorted(f["kind"] for f in g["findings"]) for g in r["guests"]}
conf = open("/etc/libvirt/qemu.conf").read()
m = re.findall(r'(?m)^\s*stdio_handler\s*=\s*"([a-z]+)"', conf)
bounded = (m[-1] if m else "logd") == "logd"
for guest in (prefix + "b", prefix + "c"):
    assert "console_not_logged" in got[guest], got
    assert ("console_log_unbounded" in got[guest]) is False, got  # not logged: nothing to bound
assert "console_not_logged" not in got[prefix + "a"], got
[f] = [f for f in r["guests"][1]["findings"] if f["kind"] == "console_not_logged"]
assert f["detail"] == "serial port 0 (pty) has no <log file>: what it prints is lost unless someone is attached", f
print("console logs: console_not_logged on b and c only (hypervisor bounds its logs: %s)" % bounded)
PY

echo "== 2e. a failed hypervisor call: its guests are unreadable with the module's message (no secret)"
# fleet-fx-ghost has no domain, so the hypervisor's one domain_console_info call fails (an unknown name fails the
# call): every guest of that call is host_unreadable with the module's own message, not "missing from the answer"
inventory "${PREFIX}c" "${PREFIX}ghost" >"$work/inventory-ghost.yml"
ansible-playbook -v -i "$work/inventory-ghost.yml" -e "serial_console_report_dir=$work/report-ghost" \
  -e "serial_console_vnc_password=$pw" ttyfleet.serial_console.audit >"$work/audit-ghost.log" 2>&1 \
  || { cat "$work/audit-ghost.log"; echo "FAIL: the audit stopped on a failed hypervisor call"; exit 1; }
"$PY" - "$work/report-ghost/audit.json" "$PREFIX" "$pw" "$work/audit-ghost.log" <<'PY'
import json, sys
report, prefix, pw, log = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3], sys.argv[4]
got = {g["guest"]: [f for f in g["findings"] if f["kind"] == "host_unreadable"] for g in report["guests"]}
assert sorted(got) == [prefix + "c", prefix + "ghost"], sorted(got)
for guest, found in got.items():
    assert len(found) == 1, (guest, found)
    detail = found[0]["detail"]
    assert "domain_console_info: domain not found on qemu:///system: %sghost" % prefix in detail, (guest, detail)
    assert "missing from the hypervisor's answer" not in detail, (guest, detail)
for path in (sys.argv[1], log):
    assert pw not in open(path).read(), "%s holds the VNC password" % path
print("failed call reported:", got[prefix + "c"][0]["detail"])
PY

echo "== 3. rollout on shut-off domains: host devices only (their guests are skipped), idempotent, then a clean audit"
set +e
play ttyfleet.serial_console.rollout --check >"$work/rollout-check.log" 2>&1
rc=$?
set -e
[[ $rc -eq 0 ]] || { cat "$work/rollout-check.log"; echo "FAIL: rollout --check"; exit 1; }
for d in a b c; do
  virsh -c "$URI" dumpxml --inactive --security-info "${PREFIX}$d" >"$work/$d.after"
  diff -u "$work/$d.before" "$work/$d.after" || { echo "FAIL: rollout --check changed ${PREFIX}$d"; exit 1; }
done
play ttyfleet.serial_console.rollout >"$work/rollout-1.log" 2>&1 || { cat "$work/rollout-1.log"; exit 1; }
"$PY" - "$work/report/rollout.json" "$PREFIX" <<'PY'
import json, sys
s, prefix = json.load(open(sys.argv[1]))["summary"], sys.argv[2]
got = {r["guest"]: (r["host"], r["guest_config"], r["restart"]) for r in s}
want = {prefix + "a": ("changed", "skipped: domain shutoff", "-"),
        prefix + "b": ("changed", "skipped: domain shutoff", "-"),
        prefix + "c": ("ok", "skipped: domain shutoff", "-")}
assert got == want, (got, want)
print("rollout summary:", got)
PY
play ttyfleet.serial_console.rollout >"$work/rollout-2.log" 2>&1 || { cat "$work/rollout-2.log"; exit 1; }
if grep -E "^${PREFIX}.*changed=[1-9]" "$work/rollout-2.log"; then
  cat "$work/rollout-2.log"; echo "FAIL: the second rollout changed something"; exit 1
fi
play ttyfleet.serial_console.audit -e serial_console_fail_on_drift=true >"$work/audit-after.log" 2>&1 ||
  { cat "$work/audit-after.log"; echo "FAIL: audit after the rollout"; exit 1; }
echo "fleet_audit: all checks passed"
