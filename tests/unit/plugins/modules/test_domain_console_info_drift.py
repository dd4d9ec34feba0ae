# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""domain_console_info's drift option (the audit's one host call) against libvirt's test driver: each domain's
drift entries are exactly what domain_serial and domain_vnc answer in check mode, nothing is written, and no
password is returned."""

from __future__ import annotations

import json

import pytest

libvirt = pytest.importorskip("libvirt")

from libvirt_test_driver import DOMAIN, run, xml_of  # noqa: E402

from ansible_collections.ttyfleet.serial_console.plugins.modules import (  # noqa: E402
    domain_console_info,
    domain_serial,
    domain_vnc,
)

SERIAL = "<serial type='pty'><target port='0'/></serial>"
KEYS = ("changed", "changes", "restart_required")
DRIFT = {"serial": {"port": 0}, "vnc": {"listen": "127.0.0.1"}}


def _kept(answer):
    return {d["name"]: {k: d[k] for k in KEYS} for d in answer["domains"]}


def test_drift_is_what_domain_serial_and_domain_vnc_answer_in_check_mode(conn, capsys):
    names = [conn.make(), conn.make(SERIAL), conn.make("<graphics type='vnc' autoport='yes' listen='0.0.0.0'/>"),
             conn.make(SERIAL + "<graphics type='vnc' autoport='yes' listen='127.0.0.1'/>")]
    before = {n: xml_of(conn, n) for n in names}
    info = run(domain_console_info, {"name": names, "drift": DRIFT}, capsys)
    serial = run(domain_serial, {"name": names, "port": 0}, capsys, check=True)
    vnc = run(domain_vnc, {"name": names, "listen": "127.0.0.1"}, capsys, check=True)
    assert info["changed"] is False
    assert {d["name"]: d["serial_drift"] for d in info["domains"]} == _kept(serial)
    assert {d["name"]: d["vnc_drift"] for d in info["domains"]} == _kept(vnc)
    assert [d["serial_drift"]["changed"] for d in info["domains"]] == [True, False, True, False]
    assert [d["vnc_drift"]["changed"] for d in info["domains"]] == [True, True, True, False]
    assert {n: xml_of(conn, n) for n in names} == before  # nothing written
    # the summary is the one domain_console_info gives without drift
    plain = run(domain_console_info, {"name": names}, capsys)
    assert [{k: v for k, v in d.items() if not k.endswith("_drift")} for d in info["domains"]] == plain["domains"]


def test_drift_of_one_kind_only_and_with_the_serial_options(conn, capsys):
    name = conn.make(SERIAL)
    out = run(domain_console_info, {"name": name, "drift": {"serial": {
        "port": 0, "log_file": "/var/log/libvirt/qemu/{name}-serial0.log"}}}, capsys)
    entry = out["domains"][0]
    assert "vnc_drift" not in entry
    want = run(domain_serial, {"name": [name], "port": 0, "log_file": "/var/log/libvirt/qemu/{name}-serial0.log"},
               capsys, check=True)
    assert entry["serial_drift"] == _kept(want)[name] and entry["serial_drift"]["changed"]


def test_drift_never_returns_a_vnc_password(conn, capsys):
    name = conn.make("<graphics type='vnc' autoport='yes' listen='127.0.0.1' passwd='old12345'/>")
    out = run(domain_console_info, {"name": name, "drift": {"vnc": {"listen": "127.0.0.1",
                                                                    "password": "new12345"}}}, capsys)
    text = json.dumps(out)
    assert out["domains"][0]["vnc_drift"]["changed"] is True
    assert "new12345" not in text and "old12345" not in text
    same = run(domain_console_info, {"name": name, "drift": {"vnc": {"password": "old12345"}}}, capsys)
    assert same["domains"][0]["vnc_drift"]["changed"] is False


@pytest.mark.parametrize("args, message", [
    ({"read_only": True, "drift": DRIFT}, "drift needs read_only=false"),
    ({"drift": {"serial": {"port": 7}}}, "drift: port must be between 0 and 3"),
    ({"drift": {"vnc": {"listen": "0.0.0.0"}}}, "drift: "),
])
def test_drift_options_are_checked_before_anything_is_read(conn, capsys, args, message):
    out = run(domain_console_info, dict(args, name=conn.make()), capsys)
    assert out["failed"] and message in out["msg"]


def test_drift_on_a_transient_domain_fails_as_domain_serial_would(conn, capsys):
    transient = conn.createXML(DOMAIN % ("tf-unit-transient-drift", ""), 0)
    try:
        out = run(domain_console_info, {"name": ["tf-unit-transient-drift"], "drift": DRIFT}, capsys)
        plain = run(domain_console_info, {"name": ["tf-unit-transient-drift"]}, capsys)
    finally:
        transient.destroy()
    assert out["failed"] and "serial_drift (the check of domain_serial)" in out["msg"]
    assert "tf-unit-transient-drift is transient" in out["msg"]
    assert plain["domains"][0]["persistent"] is False  # without drift it is reported as before


def test_drift_with_all_domains_leaves_transient_domains_out_as_domain_serial_does(conn, capsys):
    name = conn.make()
    transient = conn.createXML(DOMAIN % ("tf-unit-transient-all", ""), 0)
    try:
        out = run(domain_console_info, {"all_domains": True, "drift": DRIFT}, capsys)
        serial = run(domain_serial, {"all_domains": True, "port": 0}, capsys, check=True)
    finally:
        transient.destroy()
    assert not out.get("failed"), out.get("msg")
    by_name = {d["name"]: d for d in out["domains"]}
    assert by_name["tf-unit-transient-all"]["persistent"] is False  # still reported
    assert "serial_drift" not in by_name["tf-unit-transient-all"]
    assert "vnc_drift" not in by_name["tf-unit-transient-all"]
    assert "tf-unit-transient-all" not in _kept(serial)  # the rule domain_serial's all_domains follows
    assert by_name[name]["serial_drift"] == _kept(serial)[name]


def test_inactive_config_false_leaves_out_only_the_second_copy_of_a_stopped_domain(conn, capsys):
    stopped, running = conn.make(SERIAL), conn.make(SERIAL + "<graphics type='vnc' autoport='yes'/>")
    conn.lookupByName(running).create()
    try:
        names = [stopped, running]
        full = run(domain_console_info, {"name": names, "drift": DRIFT}, capsys)
        lean = run(domain_console_info, {"name": names, "drift": DRIFT, "inactive_config": False}, capsys)
        assert run(domain_console_info, {"name": names, "drift": DRIFT, "inactive_config": False}, capsys,
                   check=True) == lean
    finally:
        conn.lookupByName(running).destroy()
    (f_stopped, f_running), (l_stopped, l_running) = full["domains"], lean["domains"]
    assert f_stopped["active"] is False and f_stopped["config"]["serials"] == f_stopped["serials"]
    assert "config" not in l_stopped
    assert l_stopped == {k: v for k, v in f_stopped.items() if k != "config"}
    assert f_running["active"] is True and l_running == f_running and l_running["config"] is not None


def test_drift_plans_reuse_the_running_state_the_summary_read(conn, capsys, monkeypatch):
    # one listing of the hypervisor's domains per call, not one more per plan (a hypervisor with thousands of
    # domains pays for each listing); the answer is the same
    names = [conn.make(), conn.make(SERIAL)]
    want = run(domain_console_info, {"name": names, "drift": DRIFT}, capsys)
    lv = domain_console_info._libvirt

    def no_listing(*_args):
        raise AssertionError("the drift plans listed the running domains again")

    monkeypatch.setattr(lv, "active_uuids", no_listing)
    assert run(domain_console_info, {"name": names, "drift": DRIFT}, capsys) == want
