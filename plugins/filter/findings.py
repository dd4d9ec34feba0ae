# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters of the fleet playbooks (audit, doctor, rollout): the findings and reports, computed in Python.

Thin: each filter hands its arguments to ``module_utils/_findings.py`` or ``_fleet_report.py`` (pure, unit
tested). Documentation: one ``<filter>.yml`` beside this file.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.ttyfleet.serial_console.plugins.module_utils import _audit_text, _findings, _fleet_report


def _plain(value):
    """Mappings and sequences as plain dicts and lists (host variables arrive as lazy mappings)."""
    if hasattr(value, "items"):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def domain_findings(info, settings, serial=None, vnc=None, logging=None):
    return _findings.domain_findings(_plain(settings), _plain(info), _plain(serial), _plain(vnc), _plain(logging))


def guest_findings(guest_info, settings, domain_info=None, unreachable=None, guest=None):
    if unreachable is not None:
        return _findings.unreachable(unreachable, guest)
    return _findings.guest_findings(_plain(settings), _plain(guest_info), _findings.live_ports(_plain(domain_info)))


def console_chain(info, settings, serial, guest_findings, guest_read, guest, domain):
    return _findings.chain(_plain(settings), _plain(info), _plain(serial), _plain(guest_findings),
                           bool(guest_read), guest, domain)


def _records(hostvars_list, keys):
    """Only the variables a report reads, as plain data: a guest's host variables hold far more."""
    return [{k: _plain(h.get(k)) for k in keys if k in h} for h in hostvars_list]


_AUDIT_KEYS = ("inventory_hostname", "__sc_target", "__sc_host", "__sc_host_findings", "__sc_host_failed",
               "__sc_guest_findings", "__sc_guest_info")
_ROLLOUT_KEYS = ("inventory_hostname", "__sc_target", "__sc_host", "__sc_host_failed", "__sc_guest_done",
                 "__sc_guest_restart", "__sc_guest_failed", "__sc_cycle", "__sc_cycle_done", "__sc_cycle_failed",
                 "__sc_needs_cycle", "__sc_cycle_why", "__sc_prompt")


def audit_report(targets, hosts=None, guest_hostvars=None):
    """From the plan's targets, the host phase's results (guest -> entry, or a list of such mappings, one per
    hypervisor) and the guest phase's host variables (the guests it read)."""
    merged = {}
    for part in (hosts if isinstance(hosts, (list, tuple)) else [hosts or {}]):
        merged.update(_plain(part or {}))
    # of each target only what the report reads: converting a lazy mapping templates every value in it
    read = {g: {k: _plain(t.get(k)) for k in _fleet_report.AUDIT_TARGET_KEYS if k in t} for g, t in targets.items()}
    return _fleet_report.audit_report(_fleet_report.audit_records(
        read, merged, _records(guest_hostvars or [], _AUDIT_KEYS)))


def audit_files(targets, hosts=None, guest_hostvars=None):
    """The report's three files and the gate's verdict, not the report as data (see audit_files.yml)."""
    report = audit_report(targets, hosts, guest_hostvars)
    return {"drift": report["drift"], "guests_with_drift": report["guests_with_drift"],
            "summary": _audit_text.summary(report), "files": _audit_text.files(report)}


def audit_junit(report):
    return _fleet_report.junit_xml(_plain(report))


def rollout_summary(hostvars_list):
    return _fleet_report.rollout_summary(_records(hostvars_list, _ROLLOUT_KEYS))


def restart_reasons(host, guest_restart=False):
    return _fleet_report.restart_reasons(_plain(host), bool(guest_restart))


def pick_domain(loop_results, group_id, domain, module):
    return _fleet_report.pick_domain(_plain(loop_results), group_id, domain, module)


def host_groups(hostvars_list):
    """The guests of a play grouped into one module call each: same hypervisor, URI, port, VNC and logging
    settings. Guests with different VNC passwords land in different groups; the groups hold no password and
    nothing made from one (so loop items and registered results are safe to show)."""
    targets, passwords = [], {}
    for h in hostvars_list:
        t = _plain(h.get("__sc_target"))
        if not t:
            raise AnsibleFilterError("host_groups: %s has no __sc_target (run tasks/targets.yml first)"
                                     % h.get("inventory_hostname"))
        targets.append(t)
        passwords[t["guest"]] = h.get("serial_console_vnc_password")
    return _fleet_report.group_targets(targets, passwords)


def fleet_plan(guests, hostvars, defaults, inventory_hosts):
    """The host phase's plan (targets, groups per hypervisor, problems), reading each guest's variables once."""
    def variables_of(guest):
        v = hostvars[guest]
        return {var: _plain(v.get(var)) for _key, var in _fleet_report.TARGET_VARS + (
            (None, "serial_console_vnc_password"),) if var in v}
    return _plain(_fleet_report.plan(list(guests), variables_of, _plain(defaults), list(inventory_hosts)))


def _loop_results(results):
    """Of a looped module's registered results only what host_results reads, and of each item its group's id: the
    rest (the group's domain and guest lists, the invocation with the domain list again) is not converted."""
    out = []
    for r in results or []:
        kept = {k: _plain(r.get(k)) for k in _fleet_report.LOOP_RESULT_KEYS if k != "item" and k in r}
        kept["item"] = {"id": (r.get("item") or {}).get("id")}
        out.append(kept)
    return out


def host_results(groups, serial_results, vnc_results, info_results=None, log_results=None, compact=False):
    return _plain(_fleet_report.host_results(_plain(groups), _loop_results(serial_results),
                                             _loop_results(vnc_results), _loop_results(info_results),
                                             _loop_results(log_results), bool(compact)))


def running_guests(host_results):
    """guest -> host_results entry of each guest whose domain runs and whose hypervisor answered. Only the
    ``failed`` and ``info.active`` of the others are read: host variables arrive as lazy mappings, and converting
    every entry of 10,000 would template each value again."""
    running = {}
    for part in host_results or []:
        for guest, entry in (part or {}).items():
            if entry.get("failed") is None and (entry.get("info") or {}).get("active"):
                running[guest] = _plain(entry)
    return running


class FilterModule:
    def filters(self):
        return {
            "domain_findings": domain_findings,
            "guest_findings": guest_findings,
            "console_chain": console_chain,
            "audit_report": audit_report,
            "audit_junit": audit_junit,
            "audit_files": audit_files,
            "rollout_summary": rollout_summary,
            "restart_reasons": restart_reasons,
            "host_groups": host_groups,
            "pick_domain": pick_domain,
            "fleet_plan": fleet_plan,
            "host_results": host_results,
            "running_guests": running_guests,
        }
