# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Faults while domain_serial/domain_vnc write (libvirt's test driver, test:///default): every domain is accounted
for with its status and steps, also in the failure result; a domain the task stopped is started again or reported
left stopped; a lost connection is re-established and what was defined is reported as defined; under all_domains
a domain undefined mid-run is skipped; libvirt's error text never carries a password.

The faults are injected with thin proxies around the real test-driver objects; the errors raised are real
libvirtError objects produced by the test driver. The same faults on the real qemu:///system are in
tests/integration/targets/fault_injection.
"""

from __future__ import annotations

import json

import pytest

libvirt = pytest.importorskip("libvirt")

from libvirt_test_driver import run, xml_of  # noqa: E402

from ansible_collections.ttyfleet.serial_console.plugins.module_utils import _libvirt as lv  # noqa: E402
from ansible_collections.ttyfleet.serial_console.plugins.modules import domain_serial, domain_vnc  # noqa: E402


def real_error(conn):
    """A genuine libvirtError from the test driver (resume of a domain that does not run)."""
    dom = conn.lookupByName("test")
    xml = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE).replace("<name>test</name>", "<name>tf-unit-err</name>")
    off = conn.defineXML(xml.replace(dom.UUIDString(), "6f3c1a3e-0000-4000-8000-00000000e770"))
    try:
        off.resume()
    except libvirt.libvirtError as e:
        return e
    finally:
        off.undefine()
    raise AssertionError("resume of a shut off domain did not fail")


class Dead:
    def isAlive(self):
        return 0


class Dom:
    """A real domain; ``hooks`` replace methods (a hook gets the real domain and the call's arguments)."""

    def __init__(self, dom, owner, **hooks):
        self._dom, self._owner, self._hooks, self.calls = dom, owner, hooks, []

    def connect(self):
        return Dead() if self._owner.dead else self._owner

    def __getattr__(self, attr):
        if self._owner.dead and attr not in ("name", "UUIDString"):
            raise self._owner.error
        hook = self._hooks.get(attr)
        if hook is None:
            return getattr(self._dom, attr)

        def call(*args):
            self.calls.append(attr)
            return hook(self._dom, *args)
        return call


class Conn:
    """A real connection that can be declared dead (libvirtd went away): every later call raises."""

    def __init__(self, conn, error, doms=None, on_define=None):
        self._conn, self.error, self._doms, self._on_define = conn, error, doms or {}, on_define
        self.dead = False
        self.defines = 0

    def isAlive(self):
        return 0 if self.dead else 1

    def _wrap(self, d):
        hooks = self._doms.get(d.name())
        return Dom(d, self, **hooks) if hooks is not None else Dom(d, self)

    def listAllDomains(self, flags=0):
        return [self._wrap(d) for d in self._conn.listAllDomains(flags)]

    def lookupByUUIDString(self, uuid):
        return self._wrap(self._conn.lookupByUUIDString(uuid))

    def defineXMLFlags(self, xml, flags=0):
        if self.dead:
            raise self.error
        self.defines += 1
        if self._on_define:
            return self._on_define(self, xml, flags)
        return self._conn.defineXMLFlags(xml, flags)

    def close(self):
        return 0

    def __getattr__(self, attr):
        if self.dead:
            raise self.error
        return getattr(self._conn, attr)


def connect_to(monkeypatch, *conns):
    """lv.connect hands out ``conns`` in turn (the second one is the reconnect)."""
    queue = list(conns)
    monkeypatch.setattr(lv, "connect", lambda uri, readonly=False: queue.pop(0))
    monkeypatch.setattr(lv, "RECONNECT_S", 1, raising=False)


def warnings(out):
    """Warning texts (ansible-core 2.19 returns them as structured summaries)."""
    return [w["event"]["msg"] if isinstance(w, dict) else w for w in out.get("warnings", [])]


def running(conn, devices=""):
    name = conn.make(devices)
    conn.lookupByName(name).create()
    return name


# ------------------------------------------------------------------------------------------- status in every result
def test_every_domain_has_status_and_steps(conn, capsys):
    done, todo = conn.make("<serial type='pty'><target port='0'/></serial>"), conn.make()
    check = run(domain_serial, {"name": [done, todo]}, capsys, check=True)
    real = run(domain_serial, {"name": [done, todo]}, capsys)
    assert [(d["name"], d["status"], d["steps"], d["error"]) for d in real["domains"]] == [
        (done, "unchanged", [], None), (todo, "changed", ["planned", "defined"], None)]
    assert check["domains"] == real["domains"]  # check mode predicts the steps of the real run


def test_a_plan_failure_lists_every_domain(conn, capsys, monkeypatch):
    good, bad = conn.make(), conn.make()
    c = Conn(conn, None, {bad: {"XMLDesc": lambda dom, flags=0: "<domain><devices></domain>"}})
    connect_to(monkeypatch, c)
    out = run(domain_serial, {"name": [good, bad]}, capsys)
    assert out["failed"] and "nothing was changed" in out["msg"] and c.defines == 0
    by_name = {d["name"]: d for d in out["domains"]}
    assert by_name[bad]["status"] == "failed" and "malformed domain XML" in by_name[bad]["error"]
    assert by_name[good]["status"] == "not_reached" and by_name[good]["steps"] == ["planned"]


# ------------------------------------------------------------------------------------------- restart: true faults
def test_start_failure_after_redefine_reports_the_domain_left_stopped(conn, capsys, monkeypatch):
    name, after = running(conn), conn.make()
    error = real_error(conn)

    def refuse(dom, flags=0):
        raise error
    connect_to(monkeypatch, Conn(conn, error, {name: {"createWithFlags": refuse, "create": refuse}}))
    out = run(domain_serial, {"name": [name, after], "restart": True, "shutdown_timeout_s": 5}, capsys)
    assert out["failed"] and out["changed"]
    assert "no domain was changed" not in out["msg"]
    assert "cannot start domain %s" % name in out["msg"] and "left stopped" in out["msg"]
    first, second = out["domains"]
    assert first["status"] == "failed" and first["left_stopped"] is True
    assert first["steps"] == ["planned", "defined", "stopped"]
    assert "cannot start" in first["error"] and first["changed"] is True
    assert second["status"] == "not_reached" and "not reached" in second["error"]
    assert "<serial" in xml_of(conn, name)  # what was defined stays defined, and is reported so
    assert not conn.lookupByName(name).isActive()


def test_connection_lost_between_stop_and_start_starts_the_domain_again(conn, capsys, monkeypatch):
    name = running(conn)
    error = real_error(conn)
    first = Conn(conn, error)

    def die_on_start(dom, flags=0):
        first.dead = True
        raise error
    first._doms = {name: {"createWithFlags": die_on_start}}
    connect_to(monkeypatch, first, Conn(conn, error))
    out = run(domain_serial, {"name": [name], "restart": True, "shutdown_timeout_s": 5}, capsys)
    assert not out.get("failed"), out["msg"]
    assert out["domains"][0]["steps"] == ["planned", "defined", "stopped", "started"]
    assert conn.lookupByName(name).isActive()
    assert any("connection to libvirtd" in w for w in warnings(out))


def test_connection_lost_right_after_define_reports_it_defined(conn, capsys, monkeypatch):
    name, later = conn.make(), conn.make()
    error = real_error(conn)

    def define_then_die(c, xml, flags):
        c._conn.defineXMLFlags(xml, flags)  # libvirtd stored it, then went away before answering
        c.dead = True
        raise error
    connect_to(monkeypatch, Conn(conn, error, on_define=define_then_die), Conn(conn, error))
    out = run(domain_serial, {"name": [name, later]}, capsys)
    assert not out.get("failed"), out["msg"]
    first, second = out["domains"]
    assert first["status"] == "changed" and first["steps"] == ["planned", "defined"]
    assert first["define_note"] == "confirmed after connecting again"
    assert second["status"] == "changed"  # the rest carries on over the new connection
    assert "<serial" in xml_of(conn, name) and "<serial" in xml_of(conn, later)


def test_libvirtd_not_coming_back_is_truthful(conn, capsys, monkeypatch):
    name = conn.make()
    error = real_error(conn)

    def define_then_die(c, xml, flags):
        c._conn.defineXMLFlags(xml, flags)
        c.dead = True
        raise error
    connect_to(monkeypatch, Conn(conn, error, on_define=define_then_die))  # the reconnect finds nobody

    def nobody(uri):
        raise lv.LibvirtFailure("gone for good")
    monkeypatch.setattr(lv, "reconnect", nobody, raising=False)
    out = run(domain_serial, {"name": [name]}, capsys)
    assert out["failed"] and out["changed"] and "no domain was changed" not in out["msg"]
    assert "connection to libvirtd was lost" in out["msg"] and "gone for good" in out["msg"]
    assert "may have been stored" in out["msg"]
    assert out["domains"][0]["status"] == "failed" and out["domains"][0]["define_note"] == "sent, not confirmed"


# ------------------------------------------------------------------------------------------- all_domains: vanished
def test_domain_undefined_between_planning_and_writing_is_skipped(conn, capsys, monkeypatch):
    a, b, c = (conn.make(name="tf-unit-vanish-%s" % x) for x in "abc")
    reads = []

    def undefine_on_second_read(dom, flags=0):
        reads.append(flags)
        if len(reads) == 2:  # phase 2 re-reads right before the define: another tool undefined it meanwhile
            dom.undefine()
        return dom.XMLDesc(flags)
    connect_to(monkeypatch, Conn(conn, None, {b: {"XMLDesc": undefine_on_second_read}}))
    out = run(domain_serial, {"all_domains": True, "port": 3}, capsys)
    assert not out.get("failed"), out["msg"]
    by_name = {d["name"]: d for d in out["domains"]}
    assert by_name[b]["status"] == "vanished" and "undefined" in by_name[b]["error"]
    assert by_name[a]["status"] == by_name[c]["status"] == "changed"
    assert "port='3'" in xml_of(conn, c)
    assert any("undefined while the task ran" in w for w in warnings(out))


# ------------------------------------------------------------------------------------------- secrets in errors
def test_define_error_quoting_the_password_is_redacted(conn, capsys, monkeypatch):
    name = conn.make("<graphics type='vnc' port='-1' listen='127.0.0.1'/>")
    password = "pa'ss&1"

    def garble(c, xml, flags):  # libvirt's parser quotes the offending line, with the password XML-escaped
        return c._conn.defineXMLFlags(xml.replace("passwd=", "passwd='x' passwd=", 1), flags)
    connect_to(monkeypatch, Conn(conn, None, on_define=garble))
    out = run(domain_vnc, {"name": [name], "password": password}, capsys)
    text = json.dumps(out)
    assert out["failed"] and "Attribute passwd redefined" in out["msg"]
    assert "passwd=" in out["msg"]  # the quoted line is still there, its values are not
    for leak in ("pa'ss", "pa&apos;ss", "ss&amp;1", "ss&1", "'x'"):
        assert leak not in text, leak
