# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fleet playbooks' reports, from what their plays recorded per guest. Pure: data in, data out.

``audit_report`` and ``rollout_summary`` take one record per guest: the guest's host variables as the fleet
playbooks leave them (``inventory_hostname`` and the playbooks' private ``__sc_*`` facts, read here and nowhere
else). ``junit_xml`` renders an audit report as JUnit XML: one testsuite per hypervisor, one testcase per guest,
one ``<failure>`` per drift finding. The Markdown is rendered by the playbooks' templates from the same data.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter, OrderedDict

from ansible_collections.ttyfleet.serial_console.plugins.module_utils import _findings


def _get(record, key, default=None):
    value = record.get(key, default)
    return default if value is None else value


# ------------------------------------------------------------------------------------------------------- audit


def audit_entry(record):
    """One guest's line of the audit report."""
    target = _get(record, "__sc_target", {})
    host = _get(record, "__sc_host", {})
    info = _get(host, "info", {})
    guest = record.get("inventory_hostname")
    host_findings = record.get("__sc_host_findings")
    if host_findings is None:
        host_findings = _findings.unreadable(record.get("__sc_host_failed") or "the hypervisor %s could not be read "
                                             "for this domain" % target.get("hypervisor"))
    findings = list(host_findings) + list(_get(record, "__sc_guest_findings", []))
    probe = _get(record, "__sc_guest_info", {})
    return OrderedDict([
        ("guest", guest),
        ("domain", target.get("domain")),
        ("hypervisor", target.get("hypervisor")),
        ("uri", target.get("uri")),
        ("tty", "ttyS%s" % target.get("port", 0)),
        ("state", info.get("state", "unknown")),
        ("vnc_display", info.get("vnc_display")),
        ("kernel_consoles_running", probe.get("proc_cmdline_consoles")),
        ("getty", probe.get("getty")),
        ("drift", _findings.is_drift(findings)),
        ("findings", findings),
    ])


def audit_report(records):
    """The audit report: the gate's verdict, a summary by finding kind and by hypervisor, then every guest."""
    guests = [audit_entry(r) for r in records]
    drifted = [g["guest"] for g in guests if g["drift"]]
    by_kind = OrderedDict()
    for kind in _findings.TABLE:
        having = sorted({g["guest"] for g in guests for f in g["findings"] if f["kind"] == kind.name})
        if having:
            by_kind[kind.name] = {"kind": kind.name, "side": kind.side, "drift": kind.drift, "means": kind.means,
                                  "guests": len(having), "examples": having[:5]}
    by_hv = OrderedDict()
    for g in sorted(guests, key=lambda g: str(g["hypervisor"])):
        hv = by_hv.setdefault(g["hypervisor"], {"hypervisor": g["hypervisor"], "guests": 0, "with_drift": 0,
                                                "kinds": Counter()})
        hv["guests"] += 1
        hv["with_drift"] += 1 if g["drift"] else 0
        hv["kinds"].update({f["kind"] for f in g["findings"]})
    hypervisors = [dict(h, kinds=OrderedDict(sorted(h["kinds"].items()))) for h in by_hv.values()]
    return OrderedDict([
        ("drift", bool(drifted)),
        ("guests_with_drift", drifted),
        ("kinds", sorted({f["kind"] for g in guests for f in g["findings"]})),
        ("summary", OrderedDict([("guests", len(guests)), ("with_drift", len(drifted)),
                                 ("by_kind", list(by_kind.values())), ("by_hypervisor", hypervisors)])),
        ("guests", guests),
    ])


def junit_xml(report, name="ttyfleet.serial_console.audit"):
    """JUnit XML of an audit report: a testsuite per hypervisor, a testcase per guest, a failure per drift finding.

    ``failures`` counts failed testcases (guests with drift), as JUnit readers expect; every drift finding is its
    own ``<failure>`` element (type = the finding kind). Findings that are not drift go to ``<system-out>``.
    """
    root = ET.Element("testsuites", name=name)
    suites = OrderedDict()
    for g in report.get("guests", []):
        suites.setdefault(g["hypervisor"], []).append(g)
    total_tests = total_failures = 0
    for hv, guests in suites.items():
        failed = sum(1 for g in guests if g["drift"])
        suite = ET.SubElement(root, "testsuite", name="serial console on %s" % hv, tests=str(len(guests)),
                              failures=str(failed), errors="0", skipped="0")
        for g in guests:
            case = ET.SubElement(suite, "testcase", name=str(g["guest"]), classname="serial_console.%s" % hv)
            notes = []
            for f in g["findings"]:
                if _findings.KINDS[f["kind"]].drift:
                    fail = ET.SubElement(case, "failure", type=f["kind"], message="%s: %s" % (f["kind"], f["detail"]))
                    fail.text = "%s (%s side)\nfix: %s" % (f["detail"], f["side"], f["fix"])
                else:
                    notes.append("%s: %s" % (f["kind"], f["detail"]))
            out = ["domain %s on %s (%s), %s" % (g["domain"], hv, g.get("uri"), g.get("state"))] + notes
            ET.SubElement(case, "system-out").text = "\n".join(out)
        total_tests += len(guests)
        total_failures += failed
    root.set("tests", str(total_tests))
    root.set("failures", str(total_failures))
    root.set("errors", "0")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


# ----------------------------------------------------------------------------------------------------- rollout


def restart_reasons(host, guest_restart):
    """Why a domain needs a power cycle after the host and guest phases (empty: it does not)."""
    host = host or {}
    reasons = []
    if _get(host, "serial", {}).get("restart_required"):
        reasons.append("host: serial/console devices differ from the running domain")
    if _get(host, "vnc", {}).get("restart_required"):
        reasons.append("host: VNC device differs from the running domain")
    if guest_restart:
        reasons.append("guest: kernel console= or the serial port appear only after a restart")
    return reasons


def _rollout_status(r):
    host = r.get("__sc_host")
    host_failed = host is None or r.get("__sc_host_failed") is not None
    info = _get(_get(host, "info", {}) if host else {}, "state", None)
    active = bool(((host or {}).get("info") or {}).get("active", True))
    if host_failed:
        host_status, guest_status = "failed", "-"
    else:
        host_status = "changed" if (_get(host, "serial", {}).get("changed") or _get(host, "vnc", {}).get("changed")) \
            else "ok"
        if not active:
            guest_status = "skipped: domain %s" % info
        elif r.get("__sc_guest_done") is None:
            guest_status = "failed"
        else:
            guest_status = "configured, restart needed" if r.get("__sc_guest_restart") else "ok"
    cycle = r.get("__sc_cycle")
    if r.get("__sc_guest_done") is None:
        restart = "-"
    elif r.get("__sc_cycle_failed") is not None:
        restart = "failed"
    elif r.get("__sc_cycle_done") is None:
        restart = "not attempted: the rollout stopped after a failed batch"
    elif cycle is not None and not cycle.get("skipped"):
        restart = "yes"
    elif r.get("__sc_needs_cycle"):
        restart = "PENDING (serial_console_restart_ok=false)"
    else:
        restart = "not needed"
    return host_status, guest_status, restart


def rollout_row(r):
    target = _get(r, "__sc_target", {})
    host_status, guest_status, restart = _rollout_status(r)
    cycle = r.get("__sc_cycle")
    # what the console showed: the power cycle's result, or the plain watch (verify=all)
    p = r.get("__sc_prompt")
    if p is None:
        p = cycle if cycle is not None else {}
    transcript = str(p.get("transcript") or "")
    error = r.get("__sc_host_failed") or r.get("__sc_guest_failed") or r.get("__sc_cycle_failed") or ""
    return OrderedDict([
        ("guest", r.get("inventory_hostname")),
        ("domain", target.get("domain")),
        ("hypervisor", target.get("hypervisor")),
        ("host", host_status),
        ("guest_config", guest_status),
        ("restart", restart),
        ("restart_reasons", list(_get(r, "__sc_cycle_why", []))),
        ("prompt_seen", p.get("matched")),
        ("grub_seen", p.get("grub_seen")),
        ("seconds_to_prompt", p.get("seconds")),
        # the last lines the console showed (GRUB, the kernel, then the prompt), for the report
        ("console_tail", [line for line in transcript.splitlines() if line.strip()][-8:]),
        ("error", error),
    ])


def rollout_summary(records):
    return [rollout_row(r) for r in records]


def rollout_failed(summary):
    """The rows that make the rollout fail: an error, or a power cycle never attempted after a stopped batch."""
    return [r for r in summary if r["error"] or r["restart"].startswith("not attempted")]


# ------------------------------------------------------------------------------------------------- host calls


def pick_domain(loop_results, group_id, domain, module):
    """This domain's entry of a module call made for its group of domains (tasks/host.yml's loops).

    ``{}`` when the call did not run for the group (skipped); ``{failed, msg}`` when it failed or left the
    domain out, the message naming the module.
    """
    for r in loop_results or []:
        if (r.get("item") or {}).get("id") != group_id:
            continue
        if r.get("skipped"):
            return {}
        if r.get("failed") or r.get("unreachable"):
            return {"failed": True, "msg": "%s: %s" % (module, r.get("msg") or "failed")}
        for d in r.get("domains") or []:
            if d.get("name") == domain:
                return d
        return {"failed": True, "msg": "domain %s is missing from the hypervisor's answer" % domain}
    return {}
