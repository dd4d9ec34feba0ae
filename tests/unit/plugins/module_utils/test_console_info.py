# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests for the pure console summary.

The fixtures under fixtures/console_info are XML that libvirt 9.0 / QEMU 7.2 really produced on qemu:///system
(``virsh dumpxml --inactive --security-info`` for *.config.xml, ``virsh dumpxml --security-info`` of the
running domain for *.live.xml); the synthetic cases below are small edits of those.
"""

from __future__ import annotations

import json
import os
import re

import pytest

from ansible_collections.ttyfleet.serial_console.plugins.module_utils._console_info import (
    ConsoleInfoError,
    describe_domain,
    parse_domain,
    state_name,
    vnc_display,
)
from ansible_collections.ttyfleet.serial_console.plugins.module_utils._domain_runtime import (
    pending_changes,
    same_at_runtime,
)

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "console_info")


def fixture(name):
    with open(os.path.join(FIXTURES, name), encoding="utf-8") as f:
        return f.read()


def pair(name):
    return fixture(name + ".config.xml"), fixture(name + ".live.xml")


def test_running_domain_with_three_serials_is_not_pending():
    config, live = pair("multi-running")
    info = describe_domain(config, live)
    assert info["name"] == "tf-h2-multi"
    assert info["uuid"] == "2f1c6a52-0d7e-4c53-9d0f-2b7a5e0c0001"
    assert info["restart_pending"] is False
    assert info["pending_changes"] == []
    assert [s["target_port"] for s in info["serials"]] == [0, 1, 2]
    pty_serial, file_serial, tcp_serial = info["serials"]
    assert pty_serial == {
        "type": "pty",
        "target_type": "isa-serial",
        "target_port": 0,
        "target_model": "isa-serial",
        "source_path": None,
        "source_host": None,
        "source_port": None,
        "source_mode": None,
        "protocol": None,
        "log_file": "/var/log/libvirt/qemu/tf-h2-multi-serial0.log",
        "log_append": True,
        "pty": "/dev/pts/1",
    }
    assert file_serial["type"] == "file"
    assert file_serial["source_path"] == "/tmp/h2/multi-ser1.log"
    assert file_serial["pty"] is None
    assert (tcp_serial["source_host"], tcp_serial["source_port"], tcp_serial["source_mode"]) == (
        "127.0.0.1",
        4555,
        "bind",
    )
    assert tcp_serial["protocol"] == "telnet"
    # libvirt mirrors serial 0 as the first console; the virtio console comes second, and the running copy
    # numbers it 0 while the persistent copy says 1 (libvirt renumbers virtio consoles at start): not drift
    assert [(c["target_type"], c["target_port"]) for c in info["consoles"]] == [("serial", 0), ("virtio", 0)]
    assert [c["target_port"] for c in describe_domain(config)["consoles"]] == [0, 1]
    assert info["consoles"][1]["pty"].startswith("/dev/pts/")
    assert info["pty"] == "/dev/pts/1"
    assert info["log_file"] == "/var/log/libvirt/qemu/tf-h2-multi-serial0.log"


def test_running_vnc_reports_the_assigned_ports_and_never_the_password():
    config, live = pair("multi-running")
    info = describe_domain(config, live)
    assert info["vnc"] == {
        "listen_type": "address",
        "listen": "127.0.0.1",
        "listen_network": None,
        "socket": None,
        "port": 5900,
        "autoport": True,
        "websocket": 5700,
        "keymap": "de",
        "password_set": True,
    }
    assert info["vnc_display"] == "127.0.0.1:0"
    assert "secret12" not in json.dumps(info)


def test_shutoff_domain_shows_config_and_no_runtime_data():
    info = describe_domain(fixture("multi-shutoff.config.xml"))
    assert info["pty"] is None
    assert info["vnc_display"] is None
    assert info["restart_pending"] is False
    assert info["vnc"]["port"] == -1
    assert info["vnc"]["websocket"] == -1
    assert info["vnc"]["listen"] == "127.0.0.1"
    assert all(s["pty"] is None for s in info["serials"] + info["consoles"])


def test_config_only_serial_makes_restart_pending():
    config, live = pair("multi-pending-serial")
    info = describe_domain(config, live)
    assert info["restart_pending"] is True
    assert info["pending_changes"] == ["serial port 3: in the persistent config only"]
    # what is shown is what runs now: the new pci-serial is not there yet
    assert [s["target_port"] for s in info["serials"]] == [0, 1, 2]


def test_live_only_password_change_makes_restart_pending_without_leaking():
    config, live = pair("multi-pending-passwd")
    info = describe_domain(config, live)
    assert info["pending_changes"] == ["graphics vnc: differs between the running domain and the persistent config"]
    dumped = json.dumps(info)
    assert "other123" not in dumped
    assert "secret12" not in dumped


def test_domain_without_consoles():
    config, live = pair("bare-running")
    info = describe_domain(config, live)
    assert info["serials"] == []
    assert info["consoles"] == []
    assert info["pty"] is None
    assert info["log_file"] is None
    assert info["vnc"] is None
    assert info["vnc_display"] is None
    assert info["restart_pending"] is False


def test_spice_beside_vnc_with_a_fixed_port_and_qemu_conf_listen():
    config, live = pair("spice-running")
    info = describe_domain(config, live)
    # spice's autoport-assigned port and the listen address filled in from qemu.conf are not drift
    assert info["restart_pending"] is False, info["pending_changes"]
    assert info["vnc"]["port"] == 5977
    assert info["vnc"]["autoport"] is False
    assert info["vnc_display"] == "127.0.0.1:77"
    assert info["vnc"]["password_set"] is False
    assert info["serials"][0]["type"] == "unix"
    assert info["serials"][0]["source_path"] == "/tmp/h2/spice-ser0.sock"
    config_info = describe_domain(config)
    assert config_info["vnc"]["listen"] is None
    assert config_info["vnc"]["listen_type"] == "address"


def test_vnc_on_a_unix_socket_has_no_display():
    config, live = pair("socket-running")
    info = describe_domain(config, live)
    assert info["restart_pending"] is False, info["pending_changes"]
    assert info["vnc"]["listen_type"] == "socket"
    assert info["vnc"]["socket"].endswith("/vnc.sock")
    assert info["vnc"]["port"] is None
    assert info["vnc_display"] is None  # virsh: "Failed to get VNC port. Is this domain using VNC?"


def test_read_without_secure_cannot_know_the_password():
    config, live = pair("multi-running")
    strip = re.compile(r" passwd='[^']*'")
    info = describe_domain(strip.sub("", config), strip.sub("", live), secure=False)
    assert info["vnc"]["password_set"] is None


def _graphics_domain(graphics):
    return "<domain><name>d</name><devices>%s</devices></domain>" % graphics


@pytest.mark.parametrize(
    "listen, port, expected",
    [
        # each line checked against `virsh vncdisplay` on libvirt 9.0
        ("127.0.0.1", 5900, "127.0.0.1:0"),
        ("0.0.0.0", 5900, ":0"),
        ("::", 5900, ":::0"),
        ("::1", 5901, "::1:1"),
        (None, 5977, ":77"),
    ],
)
def test_vnc_display_matches_virsh(listen, port, expected):
    listen_attr = "" if listen is None else " listen='%s'" % listen
    root = parse_domain(_graphics_domain("<graphics type='vnc' port='%d'%s/>" % (port, listen_attr)))
    assert vnc_display(root) == expected


def test_vnc_display_without_a_port():
    assert vnc_display(parse_domain(_graphics_domain("<graphics type='vnc'><listen type='none'/></graphics>"))) is None
    assert vnc_display(parse_domain(_graphics_domain("<graphics type='spice' port='5900'/>"))) is None


def test_network_listen_address_filled_at_start_is_not_drift():
    config = parse_domain(
        _graphics_domain(
            "<graphics type='vnc' port='-1' autoport='yes'><listen type='network' network='lab'/></graphics>"
        )
    )
    live = parse_domain(
        _graphics_domain(
            "<graphics type='vnc' port='5903' autoport='yes' listen='10.0.0.1'>"
            "<listen type='network' address='10.0.0.1' network='lab'/></graphics>"
        )
    )
    assert pending_changes(config, live) == []


def test_listen_change_is_drift():
    config = parse_domain(
        _graphics_domain(
            "<graphics type='vnc' port='-1' autoport='yes' listen='127.0.0.2'>"
            "<listen type='address' address='127.0.0.2'/></graphics>"
        )
    )
    live = parse_domain(
        _graphics_domain(
            "<graphics type='vnc' port='5900' autoport='yes' listen='127.0.0.1'>"
            "<listen type='address' address='127.0.0.1'/></graphics>"
        )
    )
    assert pending_changes(config, live) == [
        "graphics vnc: differs between the running domain and the persistent config"
    ]


def test_fixed_port_change_is_drift_but_autoport_is_not():
    def vnc(port, autoport):
        return parse_domain(_graphics_domain("<graphics type='vnc' port='%s' autoport='%s'/>" % (port, autoport)))

    assert pending_changes(vnc(-1, "yes"), vnc(5907, "yes")) == []
    assert pending_changes(vnc(5901, "no"), vnc(5900, "no")) != []
    assert pending_changes(vnc(-1, "yes"), vnc(5900, "no")) != []


def test_removed_log_and_changed_chardev_type_are_drift():
    config = parse_domain(
        "<domain><devices><serial type='pty'><target type='isa-serial' port='0'/></serial></devices></domain>"
    )
    live_log = parse_domain(
        "<domain><devices><serial type='pty'><source path='/dev/pts/4'/><log file='/x.log'/>"
        "<target type='isa-serial' port='0'/><alias name='serial0'/></serial></devices></domain>"
    )
    live_same = parse_domain(
        "<domain><devices><serial type='pty'><source path='/dev/pts/4'/>"
        "<target type='isa-serial' port='0'/><alias name='serial0'/></serial></devices></domain>"
    )
    config_file = parse_domain(
        "<domain><devices><serial type='file'><source path='/dev/pts/4'/>"
        "<target type='isa-serial' port='0'/></serial></devices></domain>"
    )
    assert pending_changes(config, live_same) == []
    assert pending_changes(config, live_log) == [
        "serial port 0: differs between the running domain and the persistent config"
    ]
    assert pending_changes(config_file, live_same) != []


def test_hotplugged_live_only_console_is_drift():
    config, live = pair("multi-running")
    extra = "<console type='pty'><source path='/dev/pts/9'/><target type='virtio' port='2'/></console></devices>"
    live = live.replace("</devices>", extra)
    assert describe_domain(config, live)["pending_changes"] == ["virtio console #2: in the running domain only"]


def test_transient_domain_has_nothing_pending():
    _config, live = pair("multi-running")
    info = describe_domain(None, live)
    assert info["restart_pending"] is False
    assert info["pty"] == "/dev/pts/1"


@pytest.mark.parametrize(
    "text, message",
    [
        ("<domain><devices>", "not well-formed XML: no element found: line 1, column 17"),
        ("<network/>", "root element <network>, expected <domain>"),
    ],
)
def test_malformed_xml_is_a_clear_error(text, message):
    with pytest.raises(ConsoleInfoError, match=re.escape(message)):
        describe_domain(text)


def test_nothing_to_describe():
    with pytest.raises(ConsoleInfoError):
        describe_domain(None, None)


def test_state_names():
    assert state_name(1) == "running"
    assert state_name(5) == "shutoff"
    assert state_name(42) == "unknown"


# --- the persistent config next to the live one (what the audit judges; no playbook reads it out of a diff) ------


def test_running_domain_reports_its_persistent_config_too():
    config, live = pair("multi-pending-serial")
    info = describe_domain(config, live)
    assert [s["target_port"] for s in info["serials"]] == [0, 1, 2]
    cfg = info["config"]
    # the pci-serial waiting for the next start is in the config copy, with its target type
    assert [(s["target_port"], s["target_type"]) for s in cfg["serials"]][-1] == (3, "pci-serial")
    tcp = [s for s in cfg["serials"] if s["type"] == "tcp"][0]
    assert (tcp["source_mode"], tcp["source_host"], tcp["source_port"]) == ("bind", "127.0.0.1", 4555)
    assert cfg["vnc"]["listen"] == "127.0.0.1" and cfg["vnc"]["password_set"] is True
    assert cfg["vnc"]["port"] == -1 and info["vnc"]["port"] == 5900  # the config's autoport, the live port
    assert all(s["pty"] is None for s in cfg["serials"])  # runtime data stays out of the config copy
    assert cfg["log_file"] == info["log_file"]
    assert "secret12" not in json.dumps(info)


def test_shutoff_and_transient_config():
    config, _live = pair("multi-running")
    shutoff = describe_domain(config)
    assert shutoff["config"] == {k: shutoff[k] for k in ("serials", "consoles", "pty", "log_file", "vnc", "spice")}
    assert describe_domain(None, _live)["config"] is None  # a transient domain has no persistent config


def test_spice_is_reported_live_and_in_the_config():
    config, live = pair("spice-running")
    info = describe_domain(config, live)
    assert info["spice"]["listen_type"] == "address" and info["spice"]["listen"] == "127.0.0.1"
    assert info["spice"]["port"] > 0 and info["spice"]["password_set"] is False
    assert info["config"]["spice"]["autoport"] is True and info["config"]["spice"]["listen"] is None
    socket_only = describe_domain(
        "<domain><name>s</name><devices><graphics type='spice' passwd='x'><listen type='socket' socket='/r/s.sock'/>"
        "</graphics><graphics type='vnc'><listen type='none'/></graphics></devices></domain>")
    assert (socket_only["spice"]["listen_type"], socket_only["spice"]["socket"]) == ("socket", "/r/s.sock")
    assert socket_only["spice"]["password_set"] is True
    assert socket_only["vnc"]["listen_type"] == "none" and socket_only["vnc"]["listen"] is None


def test_same_at_runtime_is_the_rule_restart_pending_is_made_of():
    config, live = pair("multi-running")
    croot, lroot = parse_domain(config), parse_domain(live)
    for kind in ("serial", "graphics"):
        assert same_at_runtime(lroot.find("devices").find(kind), croot.find("devices").find(kind), kind)
    changed = parse_domain(config.replace("keymap='de'", "keymap='fr'"))
    assert not same_at_runtime(lroot.find("devices").find("graphics"), changed.find("devices").find("graphics"),
                               "graphics")
