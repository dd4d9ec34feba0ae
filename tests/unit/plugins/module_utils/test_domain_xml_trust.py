# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Issue 8 on the pure core: exposure, "omitted means untouched" and fidelity of the managed devices.
(The golden corpus holds the full-document cases; these are the refusals and the rules around them.)"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from ansible_collections.ttyfleet.serial_console.plugins.module_utils import _domain_doc as xdoc
from ansible_collections.ttyfleet.serial_console.plugins.module_utils import _domain_runtime as rt
from ansible_collections.ttyfleet.serial_console.plugins.module_utils import _domain_spec as specs
from ansible_collections.ttyfleet.serial_console.plugins.module_utils import _serial_plan as sp
from ansible_collections.ttyfleet.serial_console.plugins.module_utils import _vnc_plan as vp

BASE = """<domain type='qemu'><name>d</name><memory unit='KiB'>65536</memory>
  <os><type arch='x86_64' machine='pc-i440fx-7.2'>hvm</type></os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    %s
  </devices>
</domain>"""


def vnc(**kw):
    return specs.validate_vnc_spec(kw)


def graphics(text):
    return vp._first_vnc(xdoc.parse_domain(text).find("devices"))


def plan_vnc(device, **kw):
    return vp.plan_vnc(BASE % device, vnc(**kw))


def out_vnc(device, **kw):
    plan = plan_vnc(device, **kw)
    return plan, graphics(plan.xml if plan.changed else BASE % device)


SOCKET = "<graphics type='vnc' socket='/run/v.sock'><listen type='socket' socket='/run/v.sock'/></graphics>"
NONE = "<graphics type='vnc'><listen type='none'/></graphics>"
WILD_NOPW = ("<graphics type='vnc' port='-1' autoport='yes' listen='0.0.0.0'>"
             "<listen type='address' address='0.0.0.0'/></graphics>")
WILD_PW = WILD_NOPW.replace("listen='0.0.0.0'", "listen='0.0.0.0' passwd='oldpass1'")
LOOP = ("<graphics type='vnc' port='5901' autoport='no' websocket='5701' keymap='de' listen='127.0.0.1' "
        "passwd='oldpass1'%s><listen type='address' address='127.0.0.1'/></graphics>")


# ----------------------------------------------------------------------------------------- exposure

@pytest.mark.parametrize("device", [SOCKET, NONE])
@pytest.mark.parametrize("kw", [{}, {"password": "n3wpass"}, {"keymap": "de"}])
def test_socket_and_none_are_never_turned_into_tcp_by_default(device, kw):
    plan, g = out_vnc(device, **kw)
    assert vp.vnc_listen(g)[0] in ("socket", "none")
    assert g.get("listen") is None and g.find("listen[@type='address']") is None
    assert not any("listen 127.0.0.1" in c for c in plan.changes)


@pytest.mark.parametrize("device", [SOCKET, NONE])
def test_an_explicit_tcp_listen_over_a_private_one_needs_replace_private_listen(device):
    with pytest.raises(xdoc.PlanError, match="more private than listen 127.0.0.1; set replace_private_listen: true"):
        plan_vnc(device, listen="127.0.0.1")
    _plan, g = out_vnc(device, listen="127.0.0.1", replace_private_listen=True)
    assert vp.vnc_listen(g) == ("address", "127.0.0.1")


def test_none_to_socket_is_less_private_too_socket_to_none_is_not():
    with pytest.raises(xdoc.PlanError, match="replace_private_listen"):
        plan_vnc(NONE, listen="socket")
    _plan, g = out_vnc(SOCKET, listen="none")
    assert vp.vnc_listen(g) == ("none", None)


def test_existing_wildcard_without_opt_in_is_closed_and_says_why():
    plan, g = out_vnc(WILD_PW)
    assert vp.vnc_listen(g) == ("address", "127.0.0.1")
    assert "allow_remote_listen is not set" in plan.changes[0]


def test_existing_wildcard_with_opt_in_and_password_is_kept():
    plan, _g = out_vnc(WILD_PW, allow_remote_listen=True)
    assert plan.changes == []


def test_opt_in_without_any_password_is_refused():
    with pytest.raises(xdoc.PlanError, match="needs password"):
        plan_vnc(WILD_NOPW, allow_remote_listen=True)
    with pytest.raises(xdoc.PlanError, match="needs password"):
        plan_vnc(WILD_NOPW.replace("0.0.0.0", "127.0.0.1"), listen="::ffff:0.0.0.0", allow_remote_listen=True)
    with pytest.raises(xdoc.PlanError, match="needs password"):
        vp.plan_vnc(BASE % "", vnc(listen="192.0.2.5", allow_remote_listen=True))


def test_opt_in_counts_the_password_the_device_already_has():
    _plan, g = out_vnc(WILD_PW.replace("0.0.0.0", "127.0.0.1"), listen="::", allow_remote_listen=True)
    assert vp.vnc_listen(g) == ("address", "::") and g.get("passwd") == "oldpass1"


def test_the_old_option_name_is_an_alias():
    assert vnc(listen="0.0.0.0", allow_wildcard_listen=True, password="x").allow_remote_listen


@pytest.mark.parametrize("spelling", ["::ffff:0.0.0.0", "0:0::0", "[::]", "0000::0000", "10.1.2.3", "2001:db8::5"])
def test_every_non_loopback_spelling_needs_the_opt_in(spelling):
    with pytest.raises(specs.SpecError, match="allow_remote_listen: true"):
        vnc(listen=spelling, password="abc")


# ----------------------------------------------------------------------------------------- omitted = untouched

def test_omitted_options_keep_port_websocket_keymap_password():
    plan, g = out_vnc(LOOP % "", password="n3wpass")
    assert plan.changes == ["change VNC password"]
    assert (g.get("port"), g.get("websocket"), g.get("keymap")) == ("5901", "5701", "de")


def test_removal_takes_an_explicit_value():
    plan, g = out_vnc(LOOP % "", keymap="", websocket=0)
    assert g.get("keymap") is None and g.get("websocket") is None and g.get("passwd") == "oldpass1"
    assert len(plan.changes) == 1


def test_a_new_device_gets_the_safe_defaults():
    plan = vp.plan_vnc(BASE % "", vnc())
    g = graphics(plan.xml)
    assert vp.vnc_listen(g) == ("address", "127.0.0.1") and g.get("autoport") == "yes"


# ----------------------------------------------------------------------------------------- passwdValidTo

def test_a_stale_expiry_never_survives_a_password_change():
    _plan, g = out_vnc(LOOP % " passwdValidTo='2011-05-31T16:11:22'", password="n3wpass")
    assert g.get("passwdValidTo") is None and g.get("passwd") == "n3wpass"


def test_a_future_expiry_is_kept_across_a_password_change_and_untouched_without_one():
    _plan, g = out_vnc(LOOP % " passwdValidTo='2999-05-31T16:11:22'", password="n3wpass")
    assert g.get("passwdValidTo") == "2999-05-31T16:11:22"
    plan, g = out_vnc(LOOP % " passwdValidTo='2011-05-31T16:11:22'")
    assert plan.changes == [] and g.get("passwdValidTo") == "2011-05-31T16:11:22"


def test_password_valid_to_is_normalised_to_utc_and_checked_against_now():
    assert vnc(password="a", password_valid_to="2030-01-01T01:30:00+01:30").password_valid_to == "2030-01-01T00:00:00"
    assert vnc(password="a", password_valid_to="2030-01-01T00:00:00Z").password_valid_to == "2030-01-01T00:00:00"
    with pytest.raises(specs.SpecError, match="not in the future"):
        specs.validate_vnc_spec({"password": "a", "password_valid_to": "2030-01-01T00:00:00",
                                 "_now": "2030-01-01T00:00:01"})


def test_password_valid_to_without_a_password_is_refused():
    with pytest.raises(xdoc.PlanError, match="password_valid_to needs a password"):
        vp.plan_vnc(BASE % "", vnc(password_valid_to="2999-01-01T00:00:00"))


def test_live_update_carries_the_expiry_or_removes_it():
    dev = "<graphics type='vnc' passwd='old' passwdValidTo='2011-01-01T00:00:00'/>"
    assert ET.fromstring(rt.with_vnc_password(dev, "new")).get("passwdValidTo") is None
    assert ET.fromstring(rt.with_vnc_password(dev, "new", "2999-01-01T00:00:00")).get("passwdValidTo") == \
        "2999-01-01T00:00:00"


def test_live_state_sees_an_expiry_difference():
    live = BASE % (LOOP % " passwdValidTo='2011-05-31T16:11:22'")
    persistent = BASE % (LOOP % "")
    assert rt.vnc_live_state(live, persistent) == (False, True)


def test_live_state_ignores_values_only_the_running_domain_knows():
    persistent = BASE % "<graphics type='vnc'><listen type='socket'/></graphics>"
    path = "/var/lib/libvirt/qemu/d/vnc.sock"
    live = BASE % ("<graphics type='vnc' socket='%s'><listen type='socket' socket='%s'/></graphics>" % (path, path))
    assert rt.vnc_live_state(live, persistent) == (False, False)


# ----------------------------------------------------------------------------------------- fidelity

def test_unmanaged_vnc_attributes_and_children_are_kept():
    device = ("<graphics type='vnc' port='5901' autoport='no' sharePolicy='force-shared' connected='keep' "
              "powerControl='yes' listen='127.0.0.1'><listen type='address' address='127.0.0.1'/>"
              "<audio id='1'/></graphics>")
    _plan, g = out_vnc(device, port=5902)
    assert (g.get("sharePolicy"), g.get("connected"), g.get("powerControl")) == ("force-shared", "keep", "yes")
    assert g.find("audio").get("id") == "1" and g.get("port") == "5902"


# ----------------------------------------------------------------------------------------- serial

def serial(**kw):
    return specs.validate_serial_spec(kw)


def serial_out(device, arch="x86_64", machine="pc-i440fx-7.2", **kw):
    text = (BASE % device).replace("arch='x86_64' machine='pc-i440fx-7.2'", "arch='%s' machine='%s'" % (arch, machine))
    plan = sp.plan_serial(text, serial(**kw))
    root = xdoc.parse_domain(plan.xml if plan.changed else text)
    return plan, root.find("devices/serial")


LOGGED = ("<serial type='pty'><log file='/var/log/s0.log' append='on'/><target type='isa-serial' port='0'>"
          "<model name='isa-serial'/></target></serial><console type='pty'><log file='/var/log/s0.log' append='on'/>"
          "<target type='serial' port='0'/></console>")
TCP = ("<serial type='tcp'><source mode='bind' host='%s' service='4555'%s/><protocol type='raw'/>"
       "<target type='isa-serial' port='0'><model name='isa-serial'/></target></serial>")


def test_omitted_log_file_keeps_the_log_and_an_empty_one_removes_it():
    plan, s = serial_out(LOGGED)
    assert plan.changes == [] and s.find("log").get("file") == "/var/log/s0.log"
    plan, s = serial_out(LOGGED, log_file="")
    assert s.find("log") is None and plan.changes


def test_log_append_alone_changes_only_the_append_flag():
    _plan, s = serial_out(LOGGED, log_append=False)
    assert (s.find("log").get("file"), s.find("log").get("append")) == ("/var/log/s0.log", "off")
    with pytest.raises(xdoc.PlanError, match="log_append needs log_file"):
        serial_out("", log_append=True)


def test_a_new_log_keeps_the_append_flag_the_old_one_had():
    _plan, s = serial_out(LOGGED, log_file="/var/log/new.log")
    assert (s.find("log").get("file"), s.find("log").get("append")) == ("/var/log/new.log", "on")


def test_omitted_source_keeps_a_tcp_source_and_its_tls():
    _plan, s = serial_out(TCP % ("127.0.0.1", " tls='yes'"), log_file="/var/log/t.log")
    assert s.get("type") == "tcp" and s.find("source").get("tls") == "yes"
    assert s.find("source").get("service") == "4555"


def test_source_tls_false_removes_tls():
    _plan, s = serial_out(TCP % ("127.0.0.1", " tls='yes'"), source_type="tcp", source_host="127.0.0.1",
                          source_port=4555, source_tls=False)
    assert s.find("source").get("tls") is None


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "::ffff:0.0.0.0", "192.0.2.9"])
def test_an_existing_exposed_tcp_source_is_never_rewritten_without_opt_in(host):
    with pytest.raises(xdoc.PlanError, match="serial port 0: source_host .* allow_remote_source: true"):
        serial_out(TCP % (host, ""), log_file="/var/log/t.log")
    with pytest.raises(xdoc.PlanError, match="needs source_tls"):
        serial_out(TCP % (host, ""), log_file="/var/log/t.log", allow_remote_source=True)
    _plan, s = serial_out(TCP % (host, " tls='yes'"), log_file="/var/log/t.log", allow_remote_source=True)
    assert s.find("log").get("file") == "/var/log/t.log"


def test_an_exposed_device_that_needs_no_change_is_not_refused():
    plan, _s = serial_out(TCP % ("0.0.0.0", "") + "<console type='tcp'><source mode='bind' host='0.0.0.0' "
                          "service='4555'/><protocol type='raw'/><target type='serial' port='0'/></console>")
    assert plan.changes == []


def test_a_new_remote_source_needs_opt_in_and_tls():
    with pytest.raises(specs.SpecError, match="allow_remote_source: true to confirm and set source_tls"):
        serial(source_type="tcp", source_host="0.0.0.0", source_port=4000)
    with pytest.raises(xdoc.PlanError, match="needs source_tls"):
        serial_out("", source_type="tcp", source_host="0.0.0.0", source_port=4000, allow_remote_source=True)
    _plan, s = serial_out("", source_type="tcp", source_host="logs.example.org", source_port=4000,
                          source_mode="connect", source_tls=True, allow_remote_source=True)
    assert (s.find("source").get("host"), s.find("source").get("tls")) == ("logs.example.org", "yes")


def test_reconnect_is_refused_when_the_source_would_bind():
    device = ("<serial type='unix'><source mode='connect' path='/run/s.sock'><reconnect enabled='yes' "
              "timeout='5'/></source><target type='isa-serial' port='0'/></serial>")
    with pytest.raises(xdoc.PlanError, match="reconnect.*only works with source_mode connect"):
        serial_out(device, source_type="unix", source_path="/run/s.sock", source_mode="bind")
    _plan, s = serial_out(device, source_type="unix", source_path="/run/t.sock")
    assert s.find("source/reconnect") is not None and s.find("source").get("mode") == "connect"


# ----------------------------------------------------------------------------------------- platform

def test_aarch64_virt_gets_a_pl011_by_default():
    _plan, s = serial_out("", arch="aarch64", machine="virt-7.2")
    assert (s.find("target").get("type"), s.find("target/model").get("name")) == ("system-serial", "pl011")


@pytest.mark.parametrize("arch, machine, target_type, message", [
    ("aarch64", "virt-7.2", "isa-serial", "isa-serial needs an ISA bus"),
    ("x86_64", "pc-q35-7.2", "system-serial", "system-serial .pl011. exists only on arm virt"),
    ("x86_64", "pc-i440fx-7.2", "system-serial", "exists only on arm virt"),
])
def test_combinations_libvirt_would_reject_are_refused_when_planned(arch, machine, target_type, message):
    with pytest.raises(xdoc.PlanError, match=message):
        serial_out("", arch=arch, machine=machine, target_type=target_type)


def test_an_unknown_platform_needs_an_explicit_target_type():
    with pytest.raises(xdoc.PlanError, match="knows no default serial port for arch armv7l, machine vexpress-a9"):
        serial_out("", arch="armv7l", machine="vexpress-a9")
    _plan, s = serial_out("", arch="armv7l", machine="vexpress-a9", target_type="pci-serial")
    assert s.find("target").get("type") == "pci-serial"


def test_x86_keeps_isa_serial_and_q35_too():
    for machine in ("pc-i440fx-7.2", "pc-q35-7.2", "q35", "pc"):
        _plan, s = serial_out("", machine=machine)
        assert s.find("target").get("type") == "isa-serial"


def test_a_pl011_cannot_be_hot_plugged():
    text = (BASE % "").replace("arch='x86_64' machine='pc-i440fx-7.2'", "arch='aarch64' machine='virt'")
    persistent = sp.plan_serial(text, serial()).xml
    assert "cannot be hot-plugged" in rt.live_attach_blocker(text, serial(), persistent)
    assert "system-serial" in rt.live_attach_blocker(text, serial(), persistent)


# ----------------------------------------------------------------------------------------- document fidelity

def _fixture_bytes(case):
    from pathlib import Path
    d = Path(__file__).resolve().parents[2] / "fixtures" / "domain_xml" / case
    # libvirt's dumpxml writes a carriage return in text as a raw CR; the fixture stores it as "&#13;" (sanity
    # forbids CR LF in files), and the raw CR is put back here, without newline translation.
    return (d / "input.xml").read_bytes().decode("utf-8").replace("&#13;", "\r")


def test_a_carriage_return_in_the_description_survives():
    text = _fixture_bytes("description-cr-metadata-default-ns")
    assert "\r" in text  # as libvirt's dumpxml gives it
    out = sp.plan_serial(text, serial()).xml
    assert "&#13;" in out and "\r" not in out
    desc = xdoc.parse_domain(out).find("description").text
    assert desc == "line one\r\nline two & <three>\r"


def test_description_and_default_namespace_metadata_mean_the_same_to_libvirt():
    libvirt = pytest.importorskip("libvirt")
    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
    from domain_xml_helpers import semantic
    text = _fixture_bytes("description-cr-metadata-default-ns")
    out = sp.plan_serial(text, serial()).xml
    conn = libvirt.open("test:///default")
    seen = []
    try:
        for i, doc in enumerate((text.replace("\r", "&#13;"), out)):
            doc = doc.replace("<name>tf-h1-description-cr-metadata-default-ns</name>", "<name>tf-cr-%d</name>" % i)
            dom = conn.defineXMLFlags(doc, libvirt.VIR_DOMAIN_DEFINE_VALIDATE)
            try:
                desc = dom.metadata(libvirt.VIR_DOMAIN_METADATA_DESCRIPTION, None, libvirt.VIR_DOMAIN_AFFECT_CONFIG)
                stored = xdoc.parse_domain(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
                seen.append((desc, semantic(stored.find("metadata"))))
            finally:
                dom.undefine()
    finally:
        conn.close()
    assert seen[0] == seen[1]
    assert seen[1][0] == "line one\r\nline two & <three>\r"


def test_a_trailing_newline_never_passes_a_grammar():
    # "$" matches before a final newline; libvirt then stored keymap='de&#10;' (seen by hostile_input/host.yml)
    with pytest.raises(specs.SpecError, match="keymap must look like"):
        specs.validate_vnc_spec({"keymap": "de\n"})
    with pytest.raises(specs.SpecError, match="password_valid_to must be an ISO 8601 time"):
        specs.validate_vnc_spec({"password": "a", "password_valid_to": "2999-01-01T00:00:00\nx"})
    # surrounding white space of a time and a listen address is dropped: what is written is the clean value
    assert vnc(password="a", password_valid_to="2999-01-01T00:00:00\n").password_valid_to == "2999-01-01T00:00:00"
    assert vnc(listen=" 127.0.0.1\n").listen == "127.0.0.1"
