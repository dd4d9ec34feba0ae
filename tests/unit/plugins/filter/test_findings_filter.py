# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fleet filters: thin wrappers; host_groups keeps guests with different VNC passwords apart without
carrying a password or anything made from one."""

from __future__ import annotations

import hashlib
import json

from ansible_collections.ttyfleet.serial_console.plugins.filter import findings as f


def guest(name, hv="hv1", password=None, **target):
    t = {"guest": name, "domain": name, "hypervisor": hv, "uri": "qemu:///system", "port": 0, "vnc": True,
         "vnc_listen": "127.0.0.1", "vnc_wildcard": False}
    t.update(target)
    h = {"inventory_hostname": name, "__sc_target": t}
    if password is not None:
        h["serial_console_vnc_password"] = password
    return h


def test_host_groups_split_by_hypervisor_settings_and_password_without_holding_it():
    hosts = [guest("a", password="Pw1aaaaa"), guest("b", password="Pw1aaaaa"), guest("c", password="Pw2bbbbb"),
             guest("d"), guest("e", hv="hv2"), guest("f", port=1)]
    groups = f.host_groups(hosts)
    assert [g["guests"] for g in groups] == [["a", "b"], ["c"], ["d"], ["e"], ["f"]]
    assert [g["id"] for g in groups] == [0, 1, 2, 3, 4]
    assert groups[0]["guest"] == "a" and groups[0]["domains"] == ["a", "b"]
    dumped = json.dumps(groups)
    for pw in ("Pw1aaaaa", "Pw2bbbbb"):
        assert pw not in dumped
        for algo in ("md5", "sha1", "sha256", "sha512"):
            assert hashlib.new(algo, pw.encode()).hexdigest() not in dumped


def test_guest_findings_filter_unreachable_and_ports():
    [u] = f.guest_findings({}, {"port": 0}, unreachable="ssh: timeout", guest="web1")
    assert u["kind"] == "guest_unreachable"
    read = {"tty": {"live": True}, "proc_cmdline": "console=ttyS1,115200n8 console=ttyS0,115200n8",
            "getty": {"processes": ["agetty ttyS0"], "enabled_by": "unit"}, "init": "systemd"}
    info = {"active": True, "serials": [{"target_port": 0}]}
    kinds = [x["kind"] for x in f.guest_findings(read, {"port": 0}, info)]
    assert kinds == ["port_mismatch"]  # ttyS1 is not a port of the running domain
    assert f.guest_findings(read, {"port": 0}) == []  # ports unknown: not judged


class _Touched(dict):
    """A mapping that records which keys were read (host variables arrive as lazy mappings in the playbooks)."""

    def __init__(self, *args, log=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.log = log if log is not None else []

    def get(self, key, default=None):
        self.log.append(key)
        return super().get(key, default)


class _Unread(dict):
    """A mapping whose contents must not be converted (the filters' inputs arrive as lazy mappings: converting one
    templates every value in it)."""

    def items(self):
        raise AssertionError("converted: %r" % sorted(self))

    values = keys = __iter__ = items


class _UnreadList(list):
    """A sequence whose items must not be converted."""

    def __iter__(self):
        raise AssertionError("converted: a list of %d" % len(self))

    items = __iter__


def test_running_guests_reads_only_failed_and_active_of_the_others():
    log = []
    stopped = _Touched({"failed": None, "info": _Touched({"active": False}, log=log),
                        "findings": _UnreadList([{"kind": "domain_not_running"}])}, log=log)
    parts = [{"a": stopped, "b": {"failed": None, "info": {"active": True, "state": "running"}, "findings": []}},
             {"c": {"failed": "hv2: boom", "info": {"active": True}}, "d": {"failed": None, "info": {}}}, None]
    assert f.running_guests(parts) == {"b": {"failed": None, "info": {"active": True, "state": "running"},
                                             "findings": []}}
    assert sorted(set(log)) == ["active", "failed", "info"]  # not findings: a stopped guest is not converted


def test_host_results_and_audit_report_convert_only_what_they_read():
    group = {"id": 0, "hypervisor": "hv1", "uri": "qemu:///system", "port": 0, "vnc": False, "logging": False,
             "settings": {"port": 0, "vnc": False}, "guests": ["g1"], "domains": ["d1"]}
    info = {"name": "d1", "state": "shutoff", "active": False, "config": {"serials": []},
            "serial_drift": {"changed": False, "changes": [], "restart_required": False}}
    registered = [{"item": _Unread(group), "invocation": _Unread({"module_args": {"name": ["d1"]}}),
                   "changed": False, "domains": [info]}]
    hosts = f.host_results([group], [], [], registered, [], compact=True)
    assert [x["kind"] for x in hosts["g1"]["findings"]] == ["domain_not_running"]
    targets = {"g1": {"guest": "g1", "domain": "d1", "hypervisor": "hv1", "uri": "qemu:///system", "port": 0,
                      "settings": _Unread({"speed": 115200})}}
    report = f.audit_report(targets, [hosts], [])
    assert [g["guest"] for g in report["guests"]] == ["g1"] and report["guests"][0]["domain"] == "d1"
