#!/usr/bin/env bash
# The libvirt_guests inventory plugin:
#  1. test:///<fixture file>: hosts, the three variables, console-state and power groups, constructed (compose,
#     groups, keyed_groups), an address from libvirt (never a connection variable), no VNC password anywhere,
#     an unreachable hypervisor reported (not fatal; fatal with strict_hypervisors), URIs that run commands refused;
#  2. qemu:///system: stock / exposed / converged shut-off domains and one running diskless domain whose config
#     changed (restart_pending); inventory caching (a cached answer, then --flush-cache);
#  3. the audit playbook, unchanged, over the plugin's inventory: its host phase reports each planted drift.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
PY=${ANSIBLE_TEST_PYTHON_INTERPRETER:-python3}
URI=qemu:///system
P=tf-fl-inv-
work=$(mktemp -d /tmp/fl-inv.XXXXXX)
cleanup() {
  for d in a b c d e; do
    virsh -c "$URI" destroy "$P$d" >/dev/null 2>&1 || true
    virsh -c "$URI" undefine "$P$d" >/dev/null 2>&1 || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
export ANSIBLE_FORCE_COLOR=0
started=$SECONDS

echo "== 1. test:///<fixture file>"
cp "$here/node.xml" "$work/node.xml"  # ansible-test's copy of the target lives under a non-ASCII path
cat >"$work/fx.libvirt_guests.yml" <<INV
plugin: ttyfleet.serial_console.libvirt_guests
hypervisors:
  - name: hv-fx
    uri: test://$work/node.xml
    vars: {ansible_connection: local}
  - name: hv-gone
    uri: test:///nonexistent/ttyfleet-node.xml
compose:
  fx_tag: "'tag-' ~ serial_console_domain"
groups:
  fx_vnc_password: serial_console_inventory.vnc_password_set is true
keyed_groups:
  - key: serial_console_hypervisor
    prefix: hv
INV
ansible-inventory -i "$work/fx.libvirt_guests.yml" --list >"$work/fx.json" 2>"$work/fx.err" \
  || { cat "$work/fx.err"; fail "ansible-inventory on the fixture node"; }
cat "$work/fx.err"
grep -q "hypervisor hv-gone left out" "$work/fx.err" || fail "the unreachable hypervisor is not reported"
! grep -q FXsecr3t "$work/fx.json" "$work/fx.err" || fail "the VNC password reached the inventory"
"$PY" - "$work/fx.json" "$work/node.xml" <<'PY'
import json, sys
# ansible-core 2.19 marks inventory strings as untrusted: {"__ansible_unsafe": "text"}
inv = json.load(open(sys.argv[1]), object_hook=lambda d: d["__ansible_unsafe"] if list(d) == ["__ansible_unsafe"] else d)
hv = inv["_meta"]["hostvars"]
members = lambda g: sorted(inv.get(g, {}).get("hosts", []))
assert members("guests") == ["fx-exposed", "fx-serial", "fx-stock"], members("guests")
assert members("hypervisors") == ["hv-fx", "hv-gone"], members("hypervisors")
assert members("libvirt_unreachable") == ["hv-gone"], inv.get("libvirt_unreachable")
assert "nonexistent" in hv["hv-gone"]["serial_console_inventory_error"]
for g in members("guests"):
    h = hv[g]
    assert h["serial_console_hypervisor"] == "hv-fx" and h["serial_console_domain"] == g, h
    assert h["serial_console_uri"] == "test://" + sys.argv[2], h["serial_console_uri"]
    assert "ansible_connection" not in h and not any(k.startswith("ansible_ssh") for k in h), h
    assert h["fx_tag"] == "tag-" + g, h
assert members("serial_console_missing") == ["fx-stock"], inv.get("serial_console_missing")
assert members("vnc_exposed") == ["fx-exposed"], inv.get("vnc_exposed")
assert members("state_running") == ["fx-stock"] and members("state_shutoff") == ["fx-exposed", "fx-serial"]
assert members("fx_vnc_password") == ["fx-serial"], inv.get("fx_vnc_password")
assert members("hv_hv_fx") == ["fx-exposed", "fx-serial", "fx-stock"], inv.get("hv_hv_fx")
assert hv["fx-serial"]["serial_console_inventory"]["vnc_password_set"] is True
assert hv["fx-serial"]["serial_console_inventory"]["log_file"] is None  # a file source, no <log>
# the test driver answers ARP with a made-up address; lease is unsupported there and falls through
assert hv["fx-stock"]["ansible_host"] == "192.0.2.3", hv["fx-stock"]
assert hv["fx-stock"]["serial_console_inventory"]["addresses"][0]["source"] == "arp"
assert "ansible_host" not in hv["fx-serial"], "a shut-off domain got an address"
print("fixture inventory: hosts, variables, groups, constructed, address, unreachable hypervisor: ok")
PY

# strict_hypervisors makes the unreachable hypervisor fatal
sed 's/^plugin:.*/&\nstrict_hypervisors: true/' "$work/fx.libvirt_guests.yml" >"$work/strict.libvirt_guests.yml"
if ansible-inventory -i "$work/strict.libvirt_guests.yml" --list >"$work/strict.json" 2>"$work/strict.err"; then
  grep -q '"fx-stock"' "$work/strict.json" && fail "strict_hypervisors=true still listed the fleet"
fi
grep -q "hypervisor hv-gone" "$work/strict.err" || { cat "$work/strict.err"; fail "strict_hypervisors message"; }
# a URI that makes libvirt run a command, a bad host name: refused, naming the option
for bad in "uri: 'qemu+ext:///system?command=/bin/true'" "uri: 'qemu+ssh://h/system?command=/bin/sh'" \
           "uri: qemu:///system
    name2: x" ; do
  printf 'plugin: ttyfleet.serial_console.libvirt_guests\nstrict_hypervisors: true\nhypervisors:\n  - name: hv1\n    %s\n' \
    "$bad" >"$work/bad.libvirt_guests.yml"
  ansible-inventory -i "$work/bad.libvirt_guests.yml" --list >/dev/null 2>"$work/bad.err" || true
  grep -q "hypervisors\[0\]" "$work/bad.err" || { cat "$work/bad.err"; fail "refusal of [$bad] does not name the option"; }
done
echo "strict and refused configurations: ok"

echo "== 2. qemu:///system"
cleanup; mkdir -p "$work"
domain_xml() { # name, extra devices, extra os
  cat <<XML
<domain type='qemu'>
  <name>$1</name>
  <memory unit='MiB'>32</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type>${3:-}</os>
  <features><acpi/></features>
  <devices>$2</devices>
</domain>
XML
}
SER="<serial type='pty'><target port='0'/></serial><console type='pty'><target type='serial' port='0'/></console>"
domain_xml "${P}a" "" >"$work/a.xml"
domain_xml "${P}b" "$SER<graphics type='vnc' port='-1' autoport='yes' listen='0.0.0.0' passwd='QEs3cret'><listen type='address' address='0.0.0.0'/></graphics>" >"$work/b.xml"
domain_xml "${P}c" "$SER<graphics type='vnc' port='-1' autoport='yes' listen='127.0.0.1'><listen type='address' address='127.0.0.1'/></graphics>" >"$work/c.xml"
domain_xml "${P}d" "$SER" "<bios useserial='yes'/>" >"$work/d.xml"
for d in a b c d; do virsh -c "$URI" define "$work/$d.xml" >/dev/null; done
virsh -c "$URI" start "${P}d" >/dev/null
# change the running domain's persistent config: a second serial port (takes effect at the next cold start)
virsh -c "$URI" dumpxml --inactive "${P}d" \
  | sed "s#</devices>#<serial type='pty'><target port='1'/></serial></devices>#" >"$work/d2.xml"
virsh -c "$URI" define "$work/d2.xml" >/dev/null

cat >"$work/qemu.libvirt_guests.yml" <<INV
plugin: ttyfleet.serial_console.libvirt_guests
hypervisors:
  - name: hv-local
    uri: qemu+unix:///system
    domain_regex: '^${P}[a-e]\$'
    vars:
      ansible_connection: local
      ansible_python_interpreter: $PY
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: $work/cache
cache_timeout: 3600
INV
ansible-inventory -i "$work/qemu.libvirt_guests.yml" --list >"$work/q1.json" 2>"$work/q1.err" \
  || { cat "$work/q1.err"; fail "ansible-inventory on qemu:///system"; }
! grep -q QEs3cret "$work/q1.json" "$work/q1.err" "$work"/cache/* || fail "the VNC password reached the inventory or its cache"
"$PY" - "$work/q1.json" "$P" <<'PY'
import json, sys
p = sys.argv[2]
inv = json.load(open(sys.argv[1]), object_hook=lambda d: d["__ansible_unsafe"] if list(d) == ["__ansible_unsafe"] else d)
hv = inv["_meta"]["hostvars"]
members = lambda g: sorted(inv.get(g, {}).get("hosts", []))
assert members("guests") == [p + x for x in "abcd"], members("guests")
for x in "abcd":
    h = hv[p + x]
    assert (h["serial_console_hypervisor"], h["serial_console_domain"], h["serial_console_uri"]) == \
        ("hv-local", p + x, "qemu:///system"), h
    assert "ansible_host" not in h, h  # no network, no lease, no agent: no address, none made up
assert members("serial_console_missing") == [p + "a"], inv.get("serial_console_missing")
assert members("vnc_exposed") == [p + "b"], inv.get("vnc_exposed")
assert members("restart_pending") == [p + "d"], inv.get("restart_pending")
assert members("state_running") == [p + "d"], inv.get("state_running")
assert members("state_shutoff") == [p + x for x in "abc"], inv.get("state_shutoff")
d = hv[p + "d"]["serial_console_inventory"]
assert d["active"] and any("serial port 1" in c for c in d["pending_changes"]), d
assert hv[p + "b"]["serial_console_inventory"]["vnc_password_set"] is True
assert hv["hv-local"]["serial_console_inventory_domains"] == [p + x for x in "abcd"], hv["hv-local"]
print("qemu:///system inventory: variables, groups (missing, exposed, restart pending, power): ok")
PY
# caching: a new domain is not seen while the cache is fresh, and is after --flush-cache
domain_xml "${P}e" "" >"$work/e.xml"
virsh -c "$URI" define "$work/e.xml" >/dev/null
ansible-inventory -i "$work/qemu.libvirt_guests.yml" --list >"$work/q2.json" 2>/dev/null
! grep -q "\"${P}e\"" "$work/q2.json" || fail "the cached inventory was not used"
ansible-inventory -i "$work/qemu.libvirt_guests.yml" --list --flush-cache >"$work/q3.json" 2>/dev/null
grep -q "\"${P}e\"" "$work/q3.json" || fail "--flush-cache did not read the hypervisor again"
echo "inventory cache: used, then flushed: ok"
virsh -c "$URI" destroy "${P}d" >/dev/null
virsh -c "$URI" undefine "${P}d" >/dev/null
virsh -c "$URI" undefine "${P}e" >/dev/null

echo "== 3. the audit, unchanged, over the plugin's inventory"
ansible-playbook -i "$work/qemu.libvirt_guests.yml" --flush-cache -e "serial_console_report_dir=$work/report" \
  -e serial_console_become=false ttyfleet.serial_console.audit >"$work/audit.log" 2>&1 \
  || { cat "$work/audit.log"; fail "the audit over the plugin's inventory"; }
"$PY" - "$work/report/audit.json" "$P" <<'PY'
import json, sys
report, p = json.load(open(sys.argv[1])), sys.argv[2]
got = {g["guest"]: sorted(f["kind"] for f in g["findings"]) for g in report["guests"]}
want = {
    p + "a": ["domain_not_running", "serial_console", "vnc"],
    p + "b": ["domain_not_running", "vnc_exposed"],
    p + "c": ["domain_not_running"],
}
assert got == want, "findings %s, expected %s" % (got, want)
assert all(g["hypervisor"] == "hv-local" and g["uri"] == "qemu:///system" for g in report["guests"]), report
print("audit over the plugin's inventory: every planted drift found, per guest:", got)
PY
! grep -q QEs3cret "$work/audit.log" "$work"/report/* || fail "the VNC password reached the audit output"
echo "inventory_libvirt_guests: all passed in $((SECONDS - started)) s"
