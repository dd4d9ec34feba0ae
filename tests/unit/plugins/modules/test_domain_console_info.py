# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""domain_console_info in-process against libvirt's test driver (test:///default): selection, check mode,
read-only connections, secrets, and every failure path. The real-hypervisor behaviour (pty paths, VNC display,
restart_pending) is covered by the qemu:///system integration target."""

from __future__ import annotations

import json
import uuid

import pytest
from ansible.module_utils.testing import patch_module_args

libvirt = pytest.importorskip("libvirt")

from ansible_collections.ttyfleet.serial_console.plugins.module_utils import _libvirt as lv  # noqa: E402
from ansible_collections.ttyfleet.serial_console.plugins.modules import domain_console_info  # noqa: E402

URI = "test:///default"
PASSWORD = "pw4unit1"
DOMAIN = """<domain type='test'><name>%s</name><memory unit='MiB'>64</memory>
  <os><type arch='x86_64'>hvm</type></os><devices>%s</devices></domain>"""
DEVICES = (
    "<serial type='pty'><log file='/var/log/x.log' append='off'/><target port='0'/></serial>"
    "<graphics type='vnc' port='5905' autoport='no' listen='127.0.0.1' passwd='%s'/>" % PASSWORD
)


@pytest.fixture
def conn():
    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
    c = libvirt.open(URI)
    made = []

    def define(devices=DEVICES, name=None, transient=False):
        name = name or "tf-h2-unit-%s" % uuid.uuid4().hex[:8]
        xml = DOMAIN % (name, devices)
        made.append(c.createXML(xml, 0) if transient else c.defineXML(xml))
        return name

    c.make = define
    yield c
    for d in made:
        for op in (d.destroy, d.undefine):
            try:
                op()
            except libvirt.libvirtError:
                pass  # already gone: transient domains vanish on destroy, inactive ones cannot be destroyed
    c.close()


def run(args, capsys, check=False):
    args = dict(args, uri=args.get("uri", URI), _ansible_check_mode=check)
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            domain_console_info.main()
    return json.loads(capsys.readouterr().out)


def test_named_domains_in_order_and_no_password(conn, capsys):
    a, b = conn.make(), conn.make(devices="")
    res = run({"name": [b, a, b]}, capsys)
    assert res["changed"] is False
    assert [d["name"] for d in res["domains"]] == [b, a]  # the order given, repeats dropped
    info = res["domains"][1]
    assert (info["state"], info["active"], info["persistent"]) == ("shutoff", False, True)
    assert info["serials"][0]["log_file"] == "/var/log/x.log" and info["serials"][0]["log_append"] is False
    assert info["log_file"] == "/var/log/x.log"
    assert info["vnc"]["port"] == 5905 and info["vnc"]["password_set"] is True
    assert info["vnc_display"] is None  # not running
    assert res["domains"][0]["vnc"] is None and res["domains"][0]["serials"] == []
    assert PASSWORD not in json.dumps(res)


def test_check_mode_answers_the_same(conn, capsys):
    name = conn.make()
    assert run({"name": name}, capsys, check=True) == run({"name": name}, capsys)


def test_all_domains_sorted_with_transient_ones(conn, capsys):
    temporary = conn.make(transient=True)
    names = [conn.make(), conn.make(), temporary]
    res = run({"all_domains": True}, capsys)
    got = [d["name"] for d in res["domains"]]
    assert got == sorted(got)
    assert set(names) | {"test"} <= set(got)
    transient = next(d for d in res["domains"] if d["name"] == temporary)
    assert transient["persistent"] is False and transient["active"] is True
    assert transient["restart_pending"] is False


def test_read_only_cannot_know_the_password(conn, capsys):
    name = conn.make()
    res = run({"name": name, "read_only": True}, capsys)
    assert res["domains"][0]["vnc"]["password_set"] is None
    assert res["domains"][0]["vnc"]["port"] == 5905


def test_unknown_domains_are_named(conn, capsys):
    name = conn.make()
    res = run({"name": [name, "tf-h2-nope1", "tf-h2-nope2"]}, capsys)
    assert res["failed"] is True
    assert res["msg"] == "domains not found on test:///default: tf-h2-nope1, tf-h2-nope2"
    res = run({"name": "tf-h2-nope1"}, capsys)
    assert res["msg"] == "domain not found on test:///default: tf-h2-nope1"


@pytest.mark.parametrize(
    "args, message",
    [
        ({"name": "test", "all_domains": True}, "name and all_domains=true are mutually exclusive"),
        ({}, "one of name (one or more domains) or all_domains=true is required"),
        ({"all_domains": False}, "one of name (one or more domains) or all_domains=true is required"),
        ({"name": ["test", ""]}, "name must not contain an empty domain name"),
    ],
)
def test_bad_selection(args, message, capsys):
    res = run(args, capsys)
    assert res["failed"] is True and res["msg"] == message


def test_unreachable_uri(capsys):
    res = run({"name": "test", "uri": "qemu:///system?socket=/nonexistent/sock"}, capsys)
    assert res["failed"] is True
    assert res["msg"].startswith("cannot connect to libvirt at qemu:///system?socket=/nonexistent/sock: ")


def test_malformed_xml_names_the_domain(conn, capsys, monkeypatch):
    name = conn.make()
    monkeypatch.setattr(lv, "read_domain_xml", lambda dom, inactive=False, secure=True: "<domain><devices>")
    res = run({"name": name}, capsys)
    assert res["failed"] is True
    assert res["msg"].startswith("domain %s: persistent domain XML is not well-formed XML: no element found" % name)


def test_a_domain_undefined_meanwhile(conn, capsys, monkeypatch):
    gone, kept = conn.make(), conn.make()
    real = lv.read_domain_xml

    def read(dom, inactive=False, secure=True):
        if dom.name() == gone:
            raise lv.DomainGone("domain %s disappeared while it was being read" % gone)
        return real(dom, inactive=inactive, secure=secure)

    monkeypatch.setattr(lv, "read_domain_xml", read)
    res = run({"all_domains": True}, capsys)
    got = [d["name"] for d in res["domains"]]
    assert kept in got and gone not in got  # all_domains: left out
    res = run({"name": [kept, gone]}, capsys)
    assert res["failed"] is True and res["msg"] == "domain %s disappeared while it was being read" % gone


def test_missing_libvirt_python(capsys, monkeypatch):
    monkeypatch.setattr(lv, "LIBVIRT_IMPORT_ERROR", "Traceback: No module named 'libvirt'")
    res = run({"name": "test"}, capsys)
    assert res["failed"] is True
    assert "libvirt-python" in res["msg"] and "Failed to import the required Python library" in res["msg"]
