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


# ------------------------------------------------------------------------------- the host phase, per hypervisor

DEFAULTS = {"uri": "qemu:///system", "port": 0, "speed": 115200, "word": 8, "parity": "no", "stop": 1, "vnc": True,
            "vnc_listen": "127.0.0.1", "vnc_wildcard": False, "logging": False, "verify": "restarted"}


def test_plan_reads_each_guest_once_groups_by_hypervisor_and_names_every_bad_entry():
    variables = {
        "g1": {"serial_console_hypervisor": "hv1"},
        "g2": {"serial_console_hypervisor": "hv1", "serial_console_domain": "dom2", "serial_console_vnc": "no",
               "serial_console_vnc_password": "Pw1aaaaa"},
        "g3": {"serial_console_hypervisor": "hv2", "serial_console_logging": "true"},
        "g4": {"serial_console_hypervisor": "hv1"},
    }
    reads = []

    def variables_of(guest):
        reads.append(guest)
        return variables[guest]

    p = _fleet_report.plan(["g1", "g2", "g3", "g4"], variables_of, DEFAULTS, ["hv1", "hv2", "g1", "g2", "g3", "g4"])
    assert reads == ["g1", "g2", "g3", "g4"] and p["problems"] == []
    assert p["targets"]["g2"]["domain"] == "dom2" and p["targets"]["g1"]["domain"] == "g1"
    assert p["targets"]["g3"]["settings"] == {"port": 0, "speed": 115200, "word": 8, "parity": "no", "stop": 1,
                                              "vnc": True, "vnc_listen": "127.0.0.1", "logging": True}
    assert [(g["hypervisor"], g["guests"]) for g in p["groups"]] == [
        ("hv1", ["g1", "g4"]), ("hv1", ["g2"]), ("hv2", ["g3"])]
    assert [(h["name"], h["guest"], [g["id"] for g in h["groups"]]) for h in p["hypervisors"]] == [
        ("hv1", "g1", [0, 1]), ("hv2", "g3", [2])]
    assert "Pw1aaaaa" not in repr(p)
    bad = _fleet_report.plan(
        ["a", "b", "c", "d"], {"a": {"serial_console_hypervisor": "nowhere"},
                               "b": {"serial_console_hypervisor": "hv1", "serial_console_port": 7},
                               "c": {"serial_console_hypervisor": "hv1", "serial_console_domain": "x"},
                               "d": {"serial_console_hypervisor": "hv1", "serial_console_domain": "x",
                                     "serial_console_verify": "sometimes"}}.get, DEFAULTS, ["hv1"])
    assert len(bad["problems"]) == 3, bad["problems"]
    assert bad["problems"][0].startswith("guest a: needs serial_console_hypervisor naming a host")
    assert "serial_console_port" in bad["problems"][1] and "serial_console_verify" in bad["problems"][2]
    assert "c" in bad["targets"] and "d" not in bad["targets"]
    dup = _fleet_report.plan(["c", "e"], {"c": {"serial_console_hypervisor": "hv1", "serial_console_domain": "x"},
                                          "e": {"serial_console_hypervisor": "hv1", "serial_console_domain": "x"}}.get,
                             DEFAULTS, ["hv1"])
    assert dup["problems"] == ["the same domain is listed for several guests: [hv1 qemu:///system x] (c, e)"]


def test_plan_groups_by_console_log_file_and_names_one_that_two_domains_would_write():
    log = "/var/log/libvirt/qemu/{name}-serial0.log"
    variables = {
        "g1": {"serial_console_hypervisor": "hv1", "serial_console_log_file": log},
        "g2": {"serial_console_hypervisor": "hv1", "serial_console_log_file": log},
        "g3": {"serial_console_hypervisor": "hv1"},
        "g4": {"serial_console_hypervisor": "hv2", "serial_console_log_file": "/var/log/g4.log"},
    }
    p = _fleet_report.plan(list(variables), variables.get, DEFAULTS, ["hv1", "hv2"])
    assert p["problems"] == []
    assert [(g["guests"], g["log_file"]) for g in p["groups"]] == [
        (["g1", "g2"], log), (["g3"], ""), (["g4"], "/var/log/g4.log")]
    assert p["targets"]["g3"]["log_file"] == ""
    shared = _fleet_report.plan(
        ["a", "b", "c", "d"], {"a": {"serial_console_hypervisor": "hv1", "serial_console_log_file": "/var/log/x.log"},
                               "b": {"serial_console_hypervisor": "hv1", "serial_console_log_file": "/var/log/x.log",
                                     "serial_console_port": 1},
                               # another hypervisor's file of the same name is another file
                               "c": {"serial_console_hypervisor": "hv2", "serial_console_log_file": "/var/log/x.log"},
                               "d": {"serial_console_hypervisor": "hv2",
                                     "serial_console_log_file": "/var/log/{uuid}.log"}}.get, DEFAULTS, ["hv1", "hv2"])
    assert shared["problems"] == [
        "serial_console_log_file /var/log/x.log on hv1 would be written by several guests' domains (a, b); put {name} "
        "in it, for example /var/log/libvirt/qemu/{name}-serial0.log"]
    bad = _fleet_report.plan(
        ["e", "f", "h"], {"e": {"serial_console_hypervisor": "hv1", "serial_console_log_file": "var/log/e.log"},
                          "f": {"serial_console_hypervisor": "hv1", "serial_console_log_file": "/var/log/{host}.log"},
                          "h": {"serial_console_hypervisor": "hv1", "serial_console_log_file": "/var/../etc/h"}}.get,
        DEFAULTS, ["hv1"])
    assert [m.split(":")[0] for m in bad["problems"]] == ["guest e", "guest f", "guest h"] and bad["targets"] == {}
    assert "serial_console_log_file must be an absolute path" in bad["problems"][0]
    assert "unknown placeholder {host}" in bad["problems"][1] and "'..'" in bad["problems"][2]


def _group(gid, hv, guests, logging=False):
    return {"id": gid, "hypervisor": hv, "uri": "qemu:///system", "port": 0, "vnc": True, "logging": logging,
            "settings": {"port": 0, "vnc": True, "vnc_listen": "127.0.0.1", "logging": logging},
            "guests": guests, "domains": ["dom-" + g for g in guests]}


def _info(name, serial=True):
    devices = [{"type": "pty", "target_port": 0, "log_file": None}] if serial else []
    return {"name": name, "state": "shutoff", "active": False,
            "config": {"serials": devices, "consoles": [], "vnc": None, "spice": None}}


def test_host_results_map_every_answer_back_to_its_guest_with_findings():
    groups = [_group(0, "hv1", ["a", "b"]), _group(1, "hv2", ["c"], logging=True)]
    serial = [{"item": groups[0], "domains": [{"name": "dom-a", "changed": False},
                                              {"name": "dom-b", "changed": True, "changes": ["add serial"]}]},
              {"item": groups[1], "domains": [{"name": "dom-c", "changed": False}]}]
    vnc = [{"item": groups[0], "domains": [{"name": "dom-a"}, {"name": "dom-b"}]},
           {"item": groups[1], "unreachable": True, "msg": "ssh: no route"}]
    info = [{"item": groups[0], "domains": [_info("dom-a"), _info("dom-b", serial=False)]},
            {"item": groups[1], "domains": [_info("dom-c")]}]
    logs = [{"item": groups[1], "domains": [], "logging": {"bounded": False, "stdio_handler": "file"}}]
    r = _fleet_report.host_results(groups, serial, vnc, info, logs)
    assert list(r) == ["a", "b", "c"]
    assert r["a"]["failed"] is None and [f["kind"] for f in r["a"]["findings"]] == ["domain_not_running"]
    assert [f["kind"] for f in r["b"]["findings"]] == ["serial_console", "domain_not_running"]
    assert r["c"]["failed"] == "hv2 (qemu:///system), domain dom-c: domain_vnc: ssh: no route"
    assert r["c"]["findings"] is None and r["c"]["logging"] == {"bounded": False, "stdio_handler": "file"}
    missing = _fleet_report.host_results(groups[:1], serial[:1], vnc[:1], [{"item": groups[0],
                                                                            "domains": [_info("dom-a")]}])
    assert missing["b"]["failed"] == "hv1 (qemu:///system), domain dom-b: domain dom-b is missing from the " \
        "hypervisor's answer"
    compact = _fleet_report.host_results(groups, serial, vnc, info, logs, compact=True)
    assert compact["b"]["findings"] == r["b"]["findings"] and compact["b"]["serial"] == {}
    assert compact["b"]["info"] == {"name": "dom-b", "state": "shutoff", "active": False}
    # a call that did not run for the group (skipped) leaves its key empty, not failed
    skipped = _fleet_report.host_results(groups[:1], serial[:1], [{"item": groups[0], "skipped": True}], info[:1])
    assert skipped["a"]["vnc"] == {} and skipped["a"]["failed"] is None


def test_host_results_take_serial_and_vnc_from_the_drift_of_the_one_info_call():
    # the audit's host phase: domain_console_info with drift, domain_serial and domain_vnc not called (loop [])
    groups = [_group(0, "hv1", ["a", "b"])]
    info = [{"item": groups[0], "domains": [
        dict(_info("dom-a"), serial_drift={"changed": False, "changes": [], "restart_required": False},
             vnc_drift={"changed": False, "changes": [], "restart_required": False}),
        dict(_info("dom-b", serial=False),
             serial_drift={"changed": True, "changes": ["add serial"], "restart_required": False},
             vnc_drift={"changed": True, "changes": ["add VNC graphics"], "restart_required": False})]}]
    r = _fleet_report.host_results(groups, [], [], info)
    assert [f["kind"] for f in r["a"]["findings"]] == ["domain_not_running"]
    assert [f["kind"] for f in r["b"]["findings"]] == ["serial_console", "vnc", "domain_not_running"]
    assert r["b"]["serial"]["changes"] == ["add serial"] and r["b"]["vnc"]["changed"] is True
    assert "serial_drift" not in r["b"]["info"] and "vnc_drift" not in r["b"]["info"]
    # the same findings as from the three calls
    serial = [{"item": groups[0], "domains": [dict(d["serial_drift"], name=d["name"]) for d in info[0]["domains"]]}]
    vnc = [{"item": groups[0], "domains": [dict(d["vnc_drift"], name=d["name"]) for d in info[0]["domains"]]}]
    plain = [{"item": groups[0], "domains": [_info("dom-a"), _info("dom-b", serial=False)]}]
    three = _fleet_report.host_results(groups, serial, vnc, plain)
    assert {g: e["findings"] for g, e in r.items()} == {g: e["findings"] for g, e in three.items()}


def test_audit_records_account_for_every_target_guest():
    targets = {g: {"guest": g, "domain": "dom-" + g, "hypervisor": hv, "uri": "qemu:///system", "port": 0}
               for g, hv in (("a", "hv1"), ("b", "hv1"), ("z", "hv9"))}
    hosts = {"a": {"serial": {}, "vnc": {}, "info": {"state": "running", "active": True}, "failed": None,
                   "findings": []},
             "b": {"serial": {}, "vnc": {}, "info": {}, "failed": "hv1: boom", "findings": None}}
    guests = [{"inventory_hostname": "a", "__sc_guest_findings": GETTY, "__sc_guest_info": {"getty": {}}}]
    report = _fleet_report.audit_report(_fleet_report.audit_records(targets, hosts, guests))
    assert [g["guest"] for g in report["guests"]] == ["a", "b", "z"]
    by = {g["guest"]: g for g in report["guests"]}
    assert [f["kind"] for f in by["a"]["findings"]] == ["getty"]
    assert by["b"]["findings"][0]["kind"] == "host_unreadable" and "boom" in by["b"]["findings"][0]["detail"]
    assert by["z"]["findings"][0]["kind"] == "host_unreadable" and "hv9 left the play" in by["z"]["findings"][0][
        "detail"]


def _types(value):
    """Every container type anywhere in a filter's answer."""
    seen = {type(value)}
    children = value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else ()
    for child in children:
        seen |= _types(child)
    return seen


def test_filter_answers_are_plain_containers_that_ansible_core_2_19_stores():
    # ansible-core 2.19 warns "Type 'OrderedDict' is unsupported in variable storage" for every such value a filter
    # hands back (and later versions refuse it); a dict keeps insertion order, which is all the reports need.
    groups = [_group(0, "hv1", ["a"])]
    answers = [
        _fleet_report.audit_report(RECORDS),
        _fleet_report.rollout_summary([rollout()]),
        _fleet_report.plan(["g1"], {"g1": {"serial_console_hypervisor": "hv1"}}.get, DEFAULTS, ["hv1", "g1"]),
        _fleet_report.host_results(groups, [{"item": groups[0], "domains": [{"name": "dom-a"}]}],
                                   [{"item": groups[0], "domains": [{"name": "dom-a"}]}],
                                   [{"item": groups[0], "domains": [_info("dom-a")]}], compact=True),
    ]
    for answer in answers:
        assert not {t for t in _types(answer) if t not in (dict, list, tuple) and issubclass(t, dict)}, answer
