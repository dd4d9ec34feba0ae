# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""domain_serial with per-domain paths ({name}, {uuid}) against libvirt's test driver (test:///default)."""

from __future__ import annotations

import pytest

libvirt = pytest.importorskip("libvirt")

from libvirt_test_driver import run as run_module  # noqa: E402
from libvirt_test_driver import xml_of  # noqa: E402

from ansible_collections.ttyfleet.serial_console.plugins.module_utils import _libvirt as lv  # noqa: E402
from ansible_collections.ttyfleet.serial_console.plugins.modules import domain_serial  # noqa: E402


def run(args, capsys, check=False):
    return run_module(domain_serial, args, capsys, check=check, diff=True)


def test_each_domain_gets_its_own_log_file(conn, capsys):
    names = [conn.make(), conn.make()]
    args = {"name": names, "log_file": "/var/log/libvirt/qemu/{name}-serial0.log", "log_append": True}
    pre = run(args, capsys, check=True)
    assert pre["changed"] and all("<serial" not in xml_of(conn, n) for n in names)
    real = run(args, capsys)
    assert real["domains"] == pre["domains"] and real["diff"] == pre["diff"]
    for n, d in zip(names, real["domains"], strict=True):
        assert d["changes"][0] == ("add serial port 0 (pty, log /var/log/libvirt/qemu/%s-serial0.log (append on), "
                                   "isa-serial)" % n)
        stored = xml_of(conn, n)
        assert "<log file='/var/log/libvirt/qemu/%s-serial0.log' append='on'/>" % n in stored
        assert "{name}" not in stored
    assert not run(args, capsys, check=True)["changed"]
    assert not run(args, capsys)["changed"]


def test_uuid_placeholder_and_unix_sockets(conn, capsys):
    names = [conn.make(), conn.make()]
    args = {"name": names, "port": 1, "source_type": "unix", "source_path": "/run/tf-unit/{uuid}.sock"}
    out = run(args, capsys)
    assert out["changed"]
    for n in names:
        path = "/run/tf-unit/%s.sock" % conn.lookupByName(n).UUIDString()
        assert "<source mode='bind' path='%s'/>" % path in xml_of(conn, n)
    assert not run(args, capsys)["changed"]


def test_uuid_is_only_asked_for_when_used(conn, capsys, monkeypatch):
    name = conn.make()
    dom = conn.lookupByName(name)

    class NoUUID:
        def UUIDString(self):
            raise AssertionError("UUIDString asked for without {uuid}")

    device = domain_serial.SerialDevice(domain_serial.specs.validate_serial_spec({"log_file": "/l/{name}.log"}))
    assert device.for_domain(name, NoUUID()).spec.log_file == "/l/%s.log" % name
    assert device.for_domain(name, dom) is not device
    plain = domain_serial.SerialDevice(domain_serial.specs.validate_serial_spec({"log_file": "/l/x.log"}))
    assert plain.for_domain(name, NoUUID()) is plain


@pytest.mark.parametrize("args, message", [
    ({"log_file": "/var/log/libvirt/qemu/serial0.log"},
     "log_file /var/log/libvirt/qemu/serial0.log would be shared by 2 domains (%s, %s); put {name} in it, "
     "for example /var/log/libvirt/qemu/{name}-serial0.log; nothing was changed"),
    ({"source_type": "file", "source_path": "/tmp/tf-unit.out"},
     "source_path /tmp/tf-unit.out would be shared by 2 domains (%s, %s); put {name} in it; nothing was changed"),
    ({"source_type": "tcp", "source_host": "127.0.0.1", "source_port": 4999},
     "a tcp source with source_mode bind listens on 127.0.0.1:4999, which can serve one domain, not 2 (%s, %s); "
     "give each domain its own source_port in its own task, or use source_mode connect; nothing was changed"),
])
def test_shared_settings_fail_before_anything_is_read_or_written(conn, capsys, monkeypatch, args, message):
    names = [conn.make(), conn.make()]
    before = [xml_of(conn, n) for n in names]
    reads = []
    monkeypatch.setattr(lv, "read_domain_xml", lambda *a, **k: reads.append(a) or "")
    for check in (True, False):
        out = run(dict(args, name=names), capsys, check=check)
        assert out["failed"] and out["msg"] == message % tuple(names)
    assert reads == []
    monkeypatch.undo()
    assert [xml_of(conn, n) for n in names] == before


def test_all_domains_with_a_shared_log_file_fails(conn, capsys):
    names = [conn.make(), conn.make()]
    before = [xml_of(conn, n) for n in names]
    out = run({"all_domains": True, "log_file": "/var/log/libvirt/qemu/serial0.log"}, capsys)
    assert out["failed"] and "would be shared by" in out["msg"] and "put {name} in it" in out["msg"]
    assert [xml_of(conn, n) for n in names] == before


def test_one_domain_keeps_a_fixed_path_and_a_tcp_bind(conn, capsys):
    name = conn.make()
    out = run({"name": name, "log_file": "/var/log/one.log", "port": 1, "source_type": "tcp",
               "source_host": "127.0.0.1", "source_port": 4999}, capsys)
    assert out["changed"] and "<log file='/var/log/one.log' append='off'/>" in xml_of(conn, name)


def test_unknown_placeholder_fails_clearly(conn, capsys):
    name = conn.make()
    before = xml_of(conn, name)
    out = run({"name": [name], "log_file": "/var/log/{domain}.log"}, capsys)
    assert out["failed"] and out["msg"] == ("log_file '/var/log/{domain}.log' has an unknown placeholder {domain}; "
                                            "only {name} (the domain name) and {uuid} are replaced")
    assert xml_of(conn, name) == before


def test_a_name_that_cannot_be_a_path_fails_every_domain_before_writing(conn, capsys, monkeypatch):
    good = conn.make()
    before = xml_of(conn, good)
    real_select = domain_serial.runner._select

    class Renamed:
        def __init__(self, dom):
            self._dom = dom

        def __getattr__(self, attr):
            return getattr(self._dom, attr)

    def select(c, params):
        picked = real_select(c, params)
        return picked + [("bad/name", Renamed(picked[0][1]))]

    monkeypatch.setattr(domain_serial.runner, "_select", select)
    out = run({"name": [good], "log_file": "/var/log/{name}.log"}, capsys)
    assert out["failed"] and "domain bad/name: the domain name 'bad/name' cannot be put into a path" in out["msg"]
    assert "nothing was changed" in out["msg"] and xml_of(conn, good) == before
