# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests for the fleet reports: audit summary and JUnit XML, rollout rows, picking a domain's answer."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from ansible_collections.ttyfleet.serial_console.plugins.module_utils import _findings, _fleet_report

SETTINGS = {"port": 0}


def record(guest, hv, host_findings=None, guest_findings=(), failed=None, state="running"):
    r = {
        "inventory_hostname": guest,
        "__sc_target": {"guest": guest, "domain": "dom-" + guest, "hypervisor": hv, "uri": "qemu:///system", "port": 0},
        "__sc_host": {"info": {"state": state, "active": state == "running"}},
        "__sc_guest_findings": list(guest_findings),
    }
    if host_findings is not None:
        r["__sc_host_findings"] = host_findings
    if failed:
        r["__sc_host_failed"] = failed
    return r


NOT_RUNNING = [_findings.finding("domain_not_running", "the domain is shutoff")]
EXPOSED = [_findings.finding("vnc_exposed", "VNC listens now on 0.0.0.0 <every interface> & WITHOUT a password"),
           _findings.finding("serial_exposed", "serial port 1 (tcp raw) listens now on 0.0.0.0")]
GETTY = [_findings.finding("getty", "no getty listens on ttyS0")]

RECORDS = [
    record("g1", "hv2", host_findings=[]),
    record("g2", "hv1", host_findings=EXPOSED, guest_findings=GETTY),
    record("g3", "hv1", host_findings=NOT_RUNNING, state="shutoff"),
    record("g4", "hv2", failed="hv2 (qemu:///system), domain dom-g4: domain_serial: boom"),
]


def test_audit_report_summary():
    rep = _fleet_report.audit_report(RECORDS)
    assert rep["drift"] is True
    assert rep["guests_with_drift"] == ["g2", "g4"]
    assert rep["kinds"] == ["domain_not_running", "getty", "host_unreadable", "serial_exposed", "vnc_exposed"]
    s = rep["summary"]
    assert (s["guests"], s["with_drift"]) == (4, 2)
    # by kind, in table order (host kinds first), with a count and examples
    assert [(k["kind"], k["guests"], k["examples"]) for k in s["by_kind"]] == [
        ("host_unreadable", 1, ["g4"]), ("serial_exposed", 1, ["g2"]), ("vnc_exposed", 1, ["g2"]),
        ("domain_not_running", 1, ["g3"]), ("getty", 1, ["g2"])]
    assert [k["drift"] for k in s["by_kind"]] == [True, True, True, False, True]
    assert s["by_hypervisor"] == [
        {"hypervisor": "hv1", "guests": 2, "with_drift": 1,
         "kinds": {"domain_not_running": 1, "getty": 1, "serial_exposed": 1, "vnc_exposed": 1}},
        {"hypervisor": "hv2", "guests": 2, "with_drift": 1, "kinds": {"host_unreadable": 1}},
    ]
    g4 = rep["guests"][3]
    assert [f["kind"] for f in g4["findings"]] == ["host_unreadable"] and "boom" in g4["findings"][0]["detail"]
    assert rep["guests"][2]["drift"] is False  # a note is not drift


def test_audit_report_without_drift_or_guests():
    rep = _fleet_report.audit_report([record("g1", "hv1", host_findings=[])])
    assert rep["drift"] is False and rep["summary"]["by_kind"] == []
    empty = _fleet_report.audit_report([])
    assert empty["summary"] == {"guests": 0, "with_drift": 0, "by_kind": [], "by_hypervisor": []}


def test_junit_parses_with_the_right_counts():
    text = _fleet_report.junit_xml(_fleet_report.audit_report(RECORDS))
    root = ET.fromstring(text)
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("4", "2", "0")
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert sorted(suites) == ["serial console on hv1", "serial console on hv2"]
    hv1 = suites["serial console on hv1"]
    assert (hv1.get("tests"), hv1.get("failures")) == ("2", "1")
    cases = {c.get("name"): c for s in root.findall("testsuite") for c in s.findall("testcase")}
    assert sorted(cases) == ["g1", "g2", "g3", "g4"]  # one testcase per guest
    # one failure per drift finding, typed by kind; the detail survives XML escaping
    assert [f.get("type") for f in cases["g2"].findall("failure")] == ["vnc_exposed", "serial_exposed", "getty"]
    assert "<every interface> & WITHOUT" in cases["g2"].findall("failure")[0].get("message")
    assert cases["g1"].findall("failure") == [] and cases["g3"].findall("failure") == []
    assert "domain_not_running" in cases["g3"].find("system-out").text  # a note, not a failure
    assert [f.get("type") for f in cases["g4"].findall("failure")] == ["host_unreadable"]
    assert cases["g2"].get("classname") == "serial_console.hv1"
    failures = sum(len(c.findall("failure")) for c in cases.values())
    assert failures == 4


# ------------------------------------------------------------------------------------------------------ rollout


def rollout(**kw):
    r = {"inventory_hostname": "g1", "__sc_target": {"domain": "d1", "hypervisor": "hv1"},
         "__sc_host": {"serial": {"changed": False}, "vnc": {"changed": False}, "info": {"active": True}}}
    r.update(kw)
    return _fleet_report.rollout_row(r)


@pytest.mark.parametrize("kw, want", [
    ({}, ("ok", "failed", "-")),
    ({"__sc_host_failed": "boom"}, ("failed", "-", "-")),
    ({"__sc_host": {"serial": {"changed": True}, "info": {"active": False, "state": "shutoff"}}},
     ("changed", "skipped: domain shutoff", "-")),
    ({"__sc_guest_done": True, "__sc_guest_restart": True, "__sc_cycle_failed": "timeout"},
     ("ok", "configured, restart needed", "failed")),
    ({"__sc_guest_done": True}, ("ok", "ok", "not attempted: the rollout stopped after a failed batch")),
    ({"__sc_guest_done": True, "__sc_cycle_done": True, "__sc_cycle": {"matched": True, "seconds": 31.5}},
     ("ok", "ok", "yes")),
    ({"__sc_guest_done": True, "__sc_cycle_done": True, "__sc_cycle": {"skipped": True}, "__sc_needs_cycle": True},
     ("ok", "ok", "PENDING (serial_console_restart_ok=false)")),
    ({"__sc_guest_done": True, "__sc_cycle_done": True, "__sc_cycle": {"skipped": True}}, ("ok", "ok", "not needed")),
])
def test_rollout_row_statuses(kw, want):
    row = rollout(**kw)
    assert (row["host"], row["guest_config"], row["restart"]) == want, row


def test_rollout_row_console_and_failures():
    row = rollout(__sc_guest_done=True, __sc_cycle_done=True,
                  __sc_prompt={"matched": True, "grub_seen": True, "seconds": 40.2,
                               "transcript": "\n".join("line %d" % i for i in range(12)) + "\n\n  \nlogin: "})
    assert (row["prompt_seen"], row["grub_seen"], row["seconds_to_prompt"]) == (True, True, 40.2)
    assert row["console_tail"] == ["line %d" % i for i in range(5, 12)] + ["login: "]
    stopped = rollout(__sc_guest_done=True)
    failed = rollout(__sc_guest_failed="unreachable: x")
    assert _fleet_report.rollout_failed([row, stopped, failed]) == [stopped, failed]
    assert failed["error"] == "unreachable: x"


def test_restart_reasons():
    assert _fleet_report.restart_reasons({"serial": {"restart_required": False}, "vnc": {}}, False) == []
    assert _fleet_report.restart_reasons({"serial": {"restart_required": True}, "vnc": {"restart_required": True}},
                                         True) == [
        "host: serial/console devices differ from the running domain",
        "host: VNC device differs from the running domain",
        "guest: kernel console= or the serial port appear only after a restart"]


def test_pick_domain():
    results = [
        {"item": {"id": 0}, "domains": [{"name": "a", "changed": True}, {"name": "b"}]},
        {"item": {"id": 1}, "failed": True, "msg": "cannot connect"},
        {"item": {"id": 2}, "skipped": True},
    ]
    assert _fleet_report.pick_domain(results, 0, "a", "domain_serial") == {"name": "a", "changed": True}
    assert _fleet_report.pick_domain(results, 0, "zz", "domain_serial") == {
        "failed": True, "msg": "domain zz is missing from the hypervisor's answer"}
    assert _fleet_report.pick_domain(results, 1, "a", "domain_vnc") == {"failed": True,
                                                                        "msg": "domain_vnc: cannot connect"}
    assert _fleet_report.pick_domain(results, 2, "a", "domain_vnc") == {}
    assert _fleet_report.pick_domain(results, 9, "a", "domain_vnc") == {}
