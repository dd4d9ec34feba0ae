# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Validation, parse errors, libvirt's serial/console twin rule and live-state helpers of _domain_xml."""

from __future__ import annotations

import pytest
from domain_xml_helpers import semantic

from ansible_collections.ttyfleet.serial_console.plugins.module_utils import _domain_doc as xdoc
from ansible_collections.ttyfleet.serial_console.plugins.module_utils import _domain_runtime as rt
from ansible_collections.ttyfleet.serial_console.plugins.module_utils import _domain_spec as specs
from ansible_collections.ttyfleet.serial_console.plugins.module_utils import _redact as redact
from ansible_collections.ttyfleet.serial_console.plugins.module_utils import _serial_plan as sp
from ansible_collections.ttyfleet.serial_console.plugins.module_utils import _vnc_plan as vp

BARE = """<domain type='qemu'><name>d</name><memory unit='MiB'>64</memory>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
  </devices>
</domain>"""


def serial(**kw):
    return specs.validate_serial_spec(kw)


def vnc(**kw):
    return specs.validate_vnc_spec(kw)


# ----------------------------------------------------------------------------------------- spec validation

@pytest.mark.parametrize("params, message", [
    ({"port": 4}, "port must be between 0 and 3"),
    ({"port": -1}, "port must be between 0 and 3"),
    ({"port": "x"}, "port must be an integer"),
    ({"target_type": "usb-serial"}, "target_type must be one of"),
    ({"source_type": "udp"}, "source_type must be one of"),
    ({"source_type": "tcp"}, "source_type tcp needs source_host and source_port"),
    ({"source_type": "tcp", "source_host": "127.0.0.1"}, "needs source_host and source_port"),
    ({"source_type": "tcp", "source_port": 4000}, "needs source_host and source_port"),
    ({"source_type": "tcp", "source_host": "h", "source_port": 0}, "source_port must be between 1 and 65535"),
    ({"source_type": "tcp", "source_host": "h", "source_port": 65536}, "source_port must be between 1 and 65535"),
    ({"source_type": "tcp", "source_host": "a b", "source_port": 1}, "is not a host name"),
    ({"source_type": "file"}, "source_type file needs source_path"),
    ({"source_type": "unix", "source_path": "rel/x.sock"}, "must be an absolute path"),
    ({"source_path": "/tmp/x"}, "source_path is only used together with source_type"),
    ({"source_type": "pty", "source_path": "/tmp/x"}, "source_path is only used with source_type file or unix"),
    ({"source_host": "h"}, "only used together with source_type"),
    ({"source_type": "unix", "source_path": "/x", "source_host": "h"}, "only used with source_type tcp"),
    ({"source_type": "pty", "protocol": "telnet"}, "protocol is only used with source_type tcp"),
    ({"source_type": "pty", "source_mode": "connect"}, "source_mode is only used with source_type tcp or unix"),
    ({"source_type": "file", "source_path": "/x", "source_tls": True}, "source_tls is only used with source_type tcp"),
    ({"log_file": "serial.log"}, "log_file must be an absolute path"),
    ({"log_file": "/var/log/../../etc/shadow"}, "log_file must not contain '..'"),
    ({"log_file": "/var/log/a\nb"}, "without control characters"),
    ({"log_file": "", "log_append": True}, "log_append cannot be used with log_file"),
    ({"model": "pl011"}, "model needs target_type"),
    ({"model": "pl011", "target_type": "isa-serial"}, "model pl011 does not fit target_type isa-serial"),
    ({"source_type": "tcp", "source_host": "0.0.0.0", "source_port": 4000}, "set allow_remote_source: true"),
    ({"source_type": "tcp", "source_host": "::ffff:0.0.0.0", "source_port": 4000}, "every interface"),
    ({"source_type": "tcp", "source_host": "web1", "source_port": 4000}, "never resolved"),
    ({"source_type": "tcp", "source_host": "0.0.0.0", "source_port": 4000, "allow_remote_source": True,
      "source_tls": False}, "needs source_tls"),
    ({"state": "enabled"}, "state must be present or absent"),
])
def test_serial_spec_rejects(params, message):
    with pytest.raises(specs.SpecError, match=message):
        specs.validate_serial_spec(params)


def test_serial_spec_defaults_and_normalisation():
    # Left out means "keep what the device has"; plan_serial applies the defaults to a new device only.
    s = serial(port=None, source_type=None)
    assert (s.port, s.target_type, s.source_type, s.log_file) == (0, None, None, None)
    t = serial(port="2", source_type="tcp", source_host="127.0.0.1", source_port="4000")
    assert (t.port, t.source_port, t.source_mode, t.protocol) == (2, 4000, None, None)
    # absent ignores source settings: only the port (and virtio or not) identifies the device
    a = serial(state="absent", port=1, source_type="tcp")
    assert (a.state, a.port, a.source_type) == ("absent", 1, None)


@pytest.mark.parametrize("params, message", [
    ({"password": ""}, "password must not be empty"),
    ({"password": "123456789"}, "password is 9 characters long; VNC allows at most 8"),
    ({"port": 5899}, "port must be -1 .automatic. or between 5900 and 65535, got 5899"),
    ({"port": 65536}, "between 5900 and 65535"),
    ({"port": 0}, "between 5900 and 65535"),
    ({"websocket": 80}, "websocket must be -1 .automatic., between 5900 and 65535, or 0"),
    ({"listen": "999.1.1.1"}, "listen must be an IP address"),
    ({"listen": "localhost"}, "listen must be an IP address"),
    ({"listen": "0.0.0.0"}, "set allow_remote_listen: true"),
    ({"listen": "::", "password": "abc"}, "set allow_remote_listen: true"),
    ({"listen": "::ffff:0.0.0.0", "password": "abc"}, "every interface.*set allow_remote_listen: true"),
    ({"listen": "0:0::0", "password": "abc"}, "every interface.*set allow_remote_listen: true"),
    ({"listen": "[::]", "password": "abc"}, "every interface.*set allow_remote_listen: true"),
    ({"listen": "0", "password": "abc", "allow_remote_listen": True}, "numeric shorthand"),
    ({"listen": "192.0.2.7", "password": "abc"}, "exposes VNC beyond this host.*allow_remote_listen: true"),
    ({"listen": "vnc.example.org", "allow_remote_listen": True, "password": "abc"}, "host name"),
    ({"listen": "socket", "port": 5900}, "port and websocket are only used with a TCP listen"),
    ({"keymap": "en us; rm"}, "keymap must look like"),
    ({"password_valid_to": "tomorrow", "password": "abc"}, "password_valid_to must be an ISO 8601 time"),
    ({"password_valid_to": "2026-13-01T00:00:00", "password": "abc"}, "not a valid date"),
    ({"password_valid_to": "2000-01-01T00:00:00", "password": "abc"}, "not in the future"),
    ({"password": "ab\ncd"}, "control characters"),
])
def test_vnc_spec_rejects(params, message):
    with pytest.raises(specs.SpecError, match=message):
        specs.validate_vnc_spec(params)


def test_vnc_spec_never_echoes_the_password():
    for bad in ("", "toolongpassword"):
        with pytest.raises(specs.SpecError) as e:
            specs.validate_vnc_spec({"password": bad})
        assert bad == "" or bad not in str(e.value)
    assert "pw12" not in repr(vnc(password="pw12"))


def test_vnc_spec_accepts():
    s = vnc(listen="::", allow_wildcard_listen=True, password="12345678", port=5900, websocket=-1)
    assert (s.listen, s.port, s.websocket) == ("::", 5900, -1)
    assert vnc(listen=" 127.0.0.1 ").listen == "127.0.0.1"
    assert vnc(listen="0:0:0:0:0:0:0:1").listen == "::1"


# ----------------------------------------------------------------------------------------- parsing

def test_malformed_xml_names_line_and_column():
    with pytest.raises(xdoc.DomainXMLError, match=r"malformed domain XML at line 3, column \d+"):
        sp.plan_serial("<domain>\n<name>x</name>\n<devices></device>\n</domain>", serial())


@pytest.mark.parametrize("text, message", [("", "empty"), ("<network/>", "root element is <network>")])
def test_not_a_domain(text, message):
    with pytest.raises(xdoc.DomainXMLError, match=message):
        vp.plan_vnc(text, vnc())


def test_duplicate_existing_ports_are_refused():
    text = BARE.replace("</devices>", "<serial type='pty'><target port='1'/></serial>"
                        "<serial type='pty'><target port='1'/></serial></devices>")
    with pytest.raises(xdoc.PlanError, match="already has 2 serial devices on port 1"):
        sp.plan_serial(text, serial(port=1))


# ----------------------------------------------------------------------------------------- serial semantics

def test_add_default_serial_then_idempotent():
    plan = sp.plan_serial(BARE, serial())
    assert plan.changes == ["add serial port 0 (pty, isa-serial)", "add console bound to serial port 0"]
    assert "<serial" not in plan.before and "<serial" in plan.after and "<console" in plan.after
    assert sp.plan_serial(plan.xml, serial()).changes == []


@pytest.mark.parametrize("devices", [
    "<serial type='pty'/>",
    "<console type='pty'/>",
    "<serial type='pty'><target port='0'/></serial><console type='pty'><target type='serial'/></console>",
])
def test_serial_only_console_only_or_both_are_the_same(devices):
    # libvirt canonicalises all three to serial port 0 + console twin (research A6). From hand-written XML
    # the plan adds what libvirt would add, and never a second serial or a second console.
    text = BARE.replace("</devices>", devices + "</devices>")
    plan = sp.plan_serial(text, serial())
    out = plan.xml or text
    assert out.count("<console") == 1 and out.count("<serial") == 1
    assert not any(c.startswith("change serial") for c in plan.changes)
    assert sp.plan_serial(out, serial()).changes == []


def test_adding_port0_before_port1_makes_it_the_console():
    text = BARE.replace("</devices>", "<serial type='pty'><target port='1'/></serial>"
                        "<console type='pty'><target type='serial' port='1'/></console></devices>")
    plan = sp.plan_serial(text, serial(port=0))
    assert plan.changes == ["add serial port 0 (pty, isa-serial)",
                            "update console (twin of the first serial, port 0)"]
    assert plan.xml.index("port=\"0\"") < plan.xml.index("port=\"1\"")


def test_remove_last_serial_removes_twin():
    once = sp.plan_serial(BARE, serial()).xml
    plan = sp.plan_serial(once, serial(state="absent"))
    assert plan.changes == ["remove serial port 0", "remove console bound to the removed serial"]
    assert "<serial" not in plan.xml and "<console" not in plan.xml
    assert plan.after == ""
    assert sp.plan_serial(plan.xml, serial(state="absent")).changes == []


def test_absent_virtio_leaves_serials_alone():
    once = sp.plan_serial(BARE, serial()).xml
    assert sp.plan_serial(once, serial(state="absent", target_type="virtio")).changes == []


def test_virtio_console_without_serial():
    plan = sp.plan_serial(BARE, serial(target_type="virtio", port=1))
    assert plan.changes == ["add virtio console port 1 (hvc1, pty)"]
    assert "<serial" not in plan.xml
    assert "type=\"virtio\" port=\"1\"" in plan.xml


def test_change_keeps_pci_address_on_same_bus_only():
    text = BARE.replace("</devices>", "<serial type='pty'><target type='pci-serial' port='0'/>"
                        "<address type='pci' domain='0x0000' bus='0x00' slot='0x05' function='0x0'/></serial>"
                        "</devices>")
    same = sp.plan_serial(text, serial(target_type="pci-serial", log_file="/var/log/x.log"))
    assert "slot=\"0x05\"" in same.xml
    other = sp.plan_serial(text, serial(target_type="isa-serial"))
    assert "slot=\"0x05\"" not in other.xml


def test_defaults_libvirt_adds_are_not_differences():
    text = BARE.replace("</devices>", "<serial type='pty'><source path='/dev/pts/7'/>"
                        "<target type='isa-serial' port='0'><model name='isa-serial'/></target>"
                        "<alias name='serial0'/></serial><console type='pty' tty='/dev/pts/7'>"
                        "<source path='/dev/pts/7'/><target type='serial' port='0'/><alias name='serial0'/>"
                        "</console></devices>")
    assert sp.plan_serial(text, serial()).changes == []


def test_tcp_protocol_default_raw_matches():
    text = BARE.replace("</devices>", "<serial type='tcp'><source mode='bind' host='127.0.0.1' service='4000'/>"
                        "<target port='0'/></serial></devices>")
    spec = serial(source_type="tcp", source_host="127.0.0.1", source_port=4000)
    assert [c for c in sp.plan_serial(text, spec).changes if c.startswith("change serial")] == []


# ----------------------------------------------------------------------------------------- VNC semantics

VNC_DOM = BARE.replace("</devices>", "<graphics type='vnc' port='-1' autoport='yes' listen='127.0.0.1' "
                       "passwd='old12345' passwdValidTo='2030-01-01T00:00:00'>"
                       "<listen type='address' address='127.0.0.1'/></graphics>"
                       "<graphics type='spice' autoport='yes'/></devices>")


def test_vnc_password_only_change_keeps_other_attributes():
    plan = vp.plan_vnc(VNC_DOM, vnc(password="new12345"))
    assert plan.changes == ["change VNC password"]
    assert "passwdValidTo" in plan.xml and "type=\"spice\"" in plan.xml
    assert "old12345" not in plan.before + plan.after and "new12345" not in plan.before + plan.after
    assert redact.REDACTED in plan.before and redact.REDACTED in plan.after


def test_vnc_password_omitted_keeps_the_existing_one():
    assert vp.plan_vnc(VNC_DOM, vnc()).changes == []
    plan = vp.plan_vnc(VNC_DOM, vnc(port=5905))
    assert "passwd=\"old12345\"" in plan.xml


def test_vnc_absent_keeps_spice():
    plan = vp.plan_vnc(VNC_DOM, vnc(state="absent"))
    assert plan.changes == ["remove VNC graphics"]
    assert "type=\"spice\"" in plan.xml and "type=\"vnc\"" not in plan.xml


def test_vnc_live_state():
    live = VNC_DOM.replace("port='-1' autoport='yes'", "port='5900' autoport='yes'")
    assert rt.vnc_live_state(live, VNC_DOM) == (False, False)
    assert rt.vnc_live_state(live.replace("old12345", "x"), VNC_DOM) == (False, True)
    assert rt.vnc_live_state(live.replace("127.0.0.1", "::1"), VNC_DOM) == (True, False)
    assert rt.vnc_live_state(BARE, VNC_DOM) == (True, False)


def test_with_vnc_password():
    device = rt.vnc_device_xml(VNC_DOM)
    assert "passwd=\"abc\"" in rt.with_vnc_password(device, "abc")


# ----------------------------------------------------------------------------------------- live helpers

def test_serial_live_key_ignores_runtime_data():
    # (serial_live_key, a key per copy, is now the runtime model's serial_restart_required over a pair)
    persistent = sp.plan_serial(BARE, serial()).xml
    live = persistent.replace("<target type=\"isa-serial\"", "<source path='/dev/pts/3'/><alias name='serial0'/>"
                              "<target type=\"isa-serial\"")
    assert not rt.serial_restart_required(live, persistent, serial())
    assert rt.serial_restart_required(BARE, persistent, serial())


def test_serial_restart_required_only_for_the_specs_own_port():
    """A pending port 0 (serial + console twin in the definition only) is not a port 3 spec's business: with
    restart=true over all_domains the old rule power-cycled such a domain (seen beside a guest being converged)."""
    persistent = sp.plan_serial(BARE, serial()).xml
    assert "<console" in persistent
    assert rt.serial_restart_required(BARE, persistent, serial())
    assert not rt.serial_restart_required(BARE, persistent, serial(port=3))
    assert not rt.serial_restart_required(BARE, persistent, serial(port=3, state="absent"))
    # port 3 as the only (so first) serial: its console twin is still its own
    only3 = sp.plan_serial(BARE, serial(port=3)).xml
    assert rt.serial_restart_required(BARE, only3, serial(port=3))
    assert rt.serial_restart_required(only3, BARE, serial(port=3, state="absent"))


def test_device_xml_for_hotplug_has_no_address():
    text = sp.plan_serial(BARE, serial(target_type="pci-serial")).xml
    text = text.replace("</serial>", "<address type='pci' slot='0x05'/></serial>")
    device = rt.serial_device_xml(text, serial(target_type="pci-serial"))
    assert device.startswith("<serial") and "address" not in device
    assert rt.serial_device_xml(BARE, serial()) is None


def test_acpi_and_virtio_serial_detection():
    assert not rt.has_acpi(BARE)
    assert rt.has_acpi(BARE.replace("</os>", "</os><features><acpi/></features>"))
    assert not rt.has_virtio_serial_controller(BARE)
    assert rt.has_virtio_serial_controller(BARE.replace("</devices>",
                                                        "<controller type='virtio-serial'/></devices>"))


def test_untouched_documents_are_not_reserialised():
    plan = sp.plan_serial(sp.plan_serial(BARE, serial()).xml, serial())
    assert plan.xml is None and plan.before == plan.after


def test_output_is_semantically_input_plus_device():
    plan = vp.plan_vnc(BARE, vnc())
    assert semantic(plan.xml) != semantic(BARE)
    assert semantic(vp.plan_vnc(plan.xml, vnc(state="absent")).xml) == semantic(BARE)
