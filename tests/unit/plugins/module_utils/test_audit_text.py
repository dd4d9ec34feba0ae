# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The audit report's files as text (_audit_text): the Markdown the audit templates wrote before, line for line,
the JSON and JUnit of the same report, and the verdict of the audit_files filter."""

from __future__ import annotations

import json

from ansible.plugins.filter.core import to_nice_json

from ansible_collections.ttyfleet.serial_console.plugins.filter import findings as filters
from ansible_collections.ttyfleet.serial_console.plugins.module_utils import _audit_text, _findings, _fleet_report


def _record(guest, hv, findings, state="shutoff"):
    return {"inventory_hostname": guest, "__sc_target": {"domain": "dom-" + guest, "hypervisor": hv, "uri": "u",
                                                         "port": 1},
            "__sc_host": {"info": {"state": state}}, "__sc_host_findings": findings}


PIPE = _findings.finding("vnc", "VNC differs | a pipe", "run the rollout | twice")
NOTE = _findings.finding("domain_not_running", "the domain is shutoff")


def test_markdown_summary_first_then_every_guest_with_pipes_escaped():
    report = _fleet_report.audit_report([_record("g1", "hv1", [PIPE]), _record("g2", "hv2", []),
                                         _record("g3", "hv1", [NOTE])])
    assert _audit_text.markdown(report) == (
        "# Serial console drift report\n\n"
        "**Drift on 1 of 3 guest(s)**: g1.\n\n"
        "| finding | side | guests | means | for example |\n|---|---|---|---|---|\n"
        "| `vnc` | host | 1 | %s | g1 |\n"
        "| `domain_not_running` (note) | host | 1 | %s | g3 |\n\n"
        "| hypervisor | guests | with drift | findings (guests) |\n|---|---|---|---|\n"
        "| hv1 | 2 | 1 | domain_not_running: 1, vnc: 1 |\n| hv2 | 1 | 0 | none |\n\n"
        "## Guests\n\n| guest | domain | hypervisor | state | tty | findings |\n|---|---|---|---|---|---|\n"
        "| g1 | dom-g1 | hv1 | shutoff | ttyS1 | vnc |\n| g2 | dom-g2 | hv2 | shutoff | ttyS1 | none |\n"
        "| g3 | dom-g3 | hv1 | shutoff | ttyS1 | domain_not_running |\n\n"
        "### g1 (dom-g1 on hv1)\n\n| side | kind | what | fix |\n|---|---|---|---|\n"
        "| host | `vnc` | VNC differs \\| a pipe | run the rollout \\| twice |\n\n"
        "### g3 (dom-g3 on hv1)\n\n| side | kind | what | fix |\n|---|---|---|---|\n"
        "| host | `domain_not_running` | the domain is shutoff | %s |\n"
        % (_findings.KINDS["vnc"].means.replace("|", "\\|"), _findings.KINDS["domain_not_running"].means,
           NOTE["fix"]))


def test_summary_verdicts():
    assert _audit_text.summary(_fleet_report.audit_report([])) == "No guest was audited.\n"
    clean = _fleet_report.audit_report([_record("g1", "hv1", [])])
    assert _audit_text.summary(clean).startswith("**No drift** on 1 guest(s).\n")
    many = _fleet_report.audit_report([_record("g%02d" % i, "hv1", [PIPE]) for i in range(25)])
    first = _audit_text.summary(many).splitlines()[0]
    assert first.endswith("g19 and 5 more.") and "g20" not in first
    assert "| `vnc` | host | 25 |" in _audit_text.summary(many) and "g04, ..." in _audit_text.summary(many)


def test_files_are_the_report_as_json_markdown_and_junit():
    report = _fleet_report.audit_report([_record("g1", "hv1", [PIPE])])
    files = _audit_text.files(report)
    assert sorted(files) == ["audit.json", "audit.junit.xml", "audit.md"]
    assert json.loads(files["audit.json"]) == report and files["audit.json"].endswith("}\n")
    # what the audit's template wrote before: "{{ report | to_nice_json(sort_keys=false) }}\n"
    assert files["audit.json"] == to_nice_json(report, sort_keys=False) + "\n"
    assert files["audit.junit.xml"] == _fleet_report.junit_xml(report)
    assert files["audit.md"] == _audit_text.markdown(report)


def test_audit_files_filter_returns_the_verdict_and_the_texts_only():
    targets = {"g1": {"guest": "g1", "domain": "dom-g1", "hypervisor": "hv1", "uri": "u", "port": 0}}
    hosts = [{"g1": {"serial": {}, "vnc": {}, "info": {"state": "shutoff"}, "failed": None, "findings": [PIPE]}}]
    out = filters.audit_files(targets, hosts, [])
    assert sorted(out) == ["drift", "files", "guests_with_drift", "summary"]
    assert out["drift"] is True and out["guests_with_drift"] == ["g1"]
    report = filters.audit_report(targets, hosts, [])
    assert out["files"] == _audit_text.files(report) and out["summary"] == _audit_text.summary(report)
