# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""domain_serial and domain_vnc run in-process against libvirt's test driver (test:///default, shared by all
connections of this process), with proxies where a test needs a domain to change under the module's feet."""

from __future__ import annotations

import importlib
import json
import sys

import pytest

libvirt = pytest.importorskip("libvirt")

from libvirt_test_driver import FLAGS, run, xml_of  # noqa: E402

from ansible_collections.ttyfleet.serial_console.plugins.module_utils import _libvirt as lv  # noqa: E402
from ansible_collections.ttyfleet.serial_console.plugins.module_utils import _redact as redact  # noqa: E402
from ansible_collections.ttyfleet.serial_console.plugins.modules import domain_serial, domain_vnc  # noqa: E402


# ---------------------------------------------------------------------------------------------- happy paths
def test_serial_check_real_check_real(conn, capsys):
    name = conn.make()
    before = xml_of(conn, name)
    pre = run(domain_serial, {"name": [name]}, capsys, check=True, diff=True)
    assert pre["changed"] and xml_of(conn, name) == before  # check mode wrote nothing
    real = run(domain_serial, {"name": [name]}, capsys, diff=True)
    assert real["changed"]
    assert real["domains"][0]["changes"] == pre["domains"][0]["changes"]
    assert real["diff"] == pre["diff"]
    assert real["domains"][0]["changes"] == ["add serial port 0 (pty, isa-serial)",
                                             "add console bound to serial port 0"]
    post = run(domain_serial, {"name": [name]}, capsys, check=True)
    again = run(domain_serial, {"name": name}, capsys)
    assert not post["changed"] and not again["changed"]
    stored = xml_of(conn, name)
    assert stored.count("<serial") == 1 and stored.count("<console") == 1


def test_serial_absent_removes_the_twin(conn, capsys):
    name = conn.make("<serial type='pty'><target port='0'/></serial>")
    assert "<console" in xml_of(conn, name)
    out = run(domain_serial, {"name": [name], "state": "absent"}, capsys)
    assert out["changed"]
    stored = xml_of(conn, name)
    assert "<serial" not in stored and "<console" not in stored
    assert not run(domain_serial, {"name": [name], "state": "absent"}, capsys)["changed"]


def test_vnc_password_is_never_returned(conn, capsys):
    name = conn.make("<graphics type='vnc' passwd='old12345'/>")
    out = run(domain_vnc, {"name": [name], "password": "new12345"}, capsys, diff=True)
    text = json.dumps(out)
    assert out["changed"] and "new12345" not in text and "old12345" not in text
    assert redact.REDACTED in text
    assert "passwd='new12345'" in xml_of(conn, name)
    assert not run(domain_vnc, {"name": [name], "password": "new12345"}, capsys)["changed"]
    # a serial change keeps the password (the XML is read with SECURE)
    run(domain_serial, {"name": [name]}, capsys)
    assert "passwd='new12345'" in xml_of(conn, name)


def test_many_domains_one_call(conn, capsys):
    names = [conn.make() for _i in range(3)]
    out = run(domain_serial, {"name": names}, capsys)
    assert [d["name"] for d in out["domains"]] == names
    assert all(d["changed"] for d in out["domains"])
    everything = run(domain_serial, {"all_domains": True}, capsys, check=True)
    mine = [d for d in everything["domains"] if d["name"] in names]
    assert len(mine) == 3 and not any(d["changed"] for d in mine)


# ---------------------------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("module, args, message", [
    (domain_serial, {"port": 4}, "port must be between 0 and 3"),
    (domain_serial, {"source_type": "tcp", "source_host": "127.0.0.1", "source_port": 70000},
     "source_port must be between 1 and 65535"),
    (domain_serial, {"source_type": "tcp"}, "source_type is tcp but all of the following are missing"),
    (domain_vnc, {"password": ""}, "password must not be empty"),
    (domain_vnc, {"password": "123456789"}, "at most 8"),
    (domain_vnc, {"port": 5800}, "between 5900 and 65535"),
    (domain_vnc, {"listen": "vnc.example.org"}, "listen must be an IP address"),
    (domain_vnc, {"listen": "0.0.0.0", "password": "x"}, "allow_remote_listen"),
])
def test_bad_input_fails_before_writing(conn, capsys, module, args, message):
    name = conn.make()
    before = xml_of(conn, name)
    out = run(module, dict(args, name=[name]), capsys)
    assert out["failed"] and message in out["msg"]
    assert xml_of(conn, name) == before
    assert "123456789" not in json.dumps(out)


def test_unknown_domain_fails_and_writes_nothing(conn, capsys):
    good = conn.make()
    before = xml_of(conn, good)
    out = run(domain_serial, {"name": [good, "tf-unit-nope"]}, capsys)
    assert out["failed"] and out["msg"] == "domain tf-unit-nope not found on test:///default; nothing was changed"
    assert xml_of(conn, good) == before


def test_unreachable_uri(capsys):
    out = run(domain_serial, {"name": ["x"], "uri": "qemu+unix:///system?socket=/nonexistent"}, capsys)
    assert out["failed"] and out["msg"].startswith("cannot connect to libvirt at qemu+unix:///system?socket=")


class DomProxy:
    """A real test-driver domain whose XMLDesc can lie or change the domain first."""

    def __init__(self, dom, on_read=None):
        self._dom, self._on_read, self.reads = dom, on_read, 0

    def XMLDesc(self, flags=0):
        self.reads += 1
        if self._on_read:
            replaced = self._on_read(self.reads, flags)
            if replaced is not None:
                return replaced
        return self._dom.XMLDesc(flags)

    def __getattr__(self, attr):
        return getattr(self._dom, attr)


class ConnProxy:
    def __init__(self, conn, proxies):
        self._conn, self._proxies, self.defines = conn, proxies, []

    def listAllDomains(self, flags=0):
        return [self._proxies.get(d.name(), d) for d in self._conn.listAllDomains(flags)]

    def defineXMLFlags(self, xml, flags=0):
        self.defines.append(xml)
        return self._conn.defineXMLFlags(xml, flags)

    def close(self):
        return 0

    def __getattr__(self, attr):
        return getattr(self._conn, attr)


def proxied(monkeypatch, conn, proxies):
    proxy = ConnProxy(conn, proxies)
    monkeypatch.setattr(lv, "connect", lambda uri, readonly=False: proxy)
    return proxy


@pytest.mark.parametrize("broken, where", [
    ("<domain><name>b</name>\n<devices>\n</domain>", "line 3, column"),  # truncated devices
    ("<domain>\n<name>b</name><metadata><x></metadata>\n<devices></devices></domain>", "line 2, column"),
])
def test_malformed_existing_xml_fails_before_any_write(conn, capsys, monkeypatch, broken, where):
    good, bad = conn.make(), conn.make()
    proxy = proxied(monkeypatch, conn, {bad: DomProxy(conn.lookupByName(bad), lambda n, f: broken)})
    out = run(domain_serial, {"name": [good, bad]}, capsys)
    assert out["failed"] and "malformed domain XML at %s" % where in out["msg"]
    assert "nothing was changed" in out["msg"] and proxy.defines == []
    assert "<serial" not in xml_of(conn, good)


def test_concurrent_change_is_kept_and_ours_applied(conn, capsys, monkeypatch):
    name = conn.make()
    dom = conn.lookupByName(name)

    def other_tool(n, flags):
        if n == 2:  # between our plan and our define, someone adds a VNC display
            conn.defineXML(dom.XMLDesc(FLAGS).replace("</devices>", "<graphics type='vnc' port='5977' "
                                                      "autoport='no' listen='127.0.0.1'/></devices>"))
        return None

    proxy = proxied(monkeypatch, conn, {name: DomProxy(dom, other_tool)})
    out = run(domain_serial, {"name": [name]}, capsys)
    assert out["changed"] and len(proxy.defines) == 1
    stored = xml_of(conn, name)
    assert "port='5977'" in stored and "<serial" in stored


def test_domain_that_keeps_changing_fails_without_writing(conn, capsys, monkeypatch):
    name = conn.make()
    dom = conn.lookupByName(name)

    def busy(n, flags):
        return dom.XMLDesc(flags).replace("<memory", "<!-- edit %d --><memory" % n)

    proxy = proxied(monkeypatch, conn, {name: DomProxy(dom, busy)})
    out = run(domain_serial, {"name": [name]}, capsys)
    assert out["failed"] and "kept changing" in out["msg"] and proxy.defines == []


def test_libvirt_dropping_our_change_is_reported(conn, capsys, monkeypatch):
    name = conn.make()
    dom = conn.lookupByName(name)
    original = dom.XMLDesc(FLAGS)
    proxy = proxied(monkeypatch, conn, {name: DomProxy(dom, lambda n, f: original)})
    proxy.defineXMLFlags = lambda xml, flags=0: dom  # "accepts" but keeps nothing
    out = run(domain_serial, {"name": [name]}, capsys)
    assert out["failed"] and "did not keep all of it" in out["msg"]


def test_libvirt_python_missing(capsys, monkeypatch):
    saved = dict(vars(lv))  # restored afterwards, so classes other modules imported stay the same objects
    monkeypatch.setitem(sys.modules, "libvirt", None)  # "import libvirt" now raises ImportError
    try:
        importlib.reload(lv)
        assert lv.libvirt is None and lv.LIBVIRT_IMPORT_ERROR
        out = run(domain_serial, {"name": ["x"]}, capsys)
        assert out["failed"] and "Failed to import the required Python library (libvirt-python)" in out["msg"]
    finally:
        monkeypatch.undo()
        vars(lv).clear()
        vars(lv).update(saved)
    assert lv.libvirt is not None
