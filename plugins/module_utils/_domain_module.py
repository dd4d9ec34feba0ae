# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The multi-domain loop shared by domain_serial and domain_vnc.

Phase 1 reads and plans every selected domain; if any of them fails (unknown name, malformed XML, a conflict),
the task fails before anything is written anywhere. Phase 2 writes: per domain, re-read the inactive XML right
before the define and re-plan if it moved (another tool, a parallel run), define with VALIDATE, re-read and
confirm, then bring the running domain in line where libvirt can do that live, and power-cycle only when asked.

The kind-specific parts come in as a ``Device`` object (see domain_serial.py / domain_vnc.py):
``plan(xml) -> Plan``, ``label``, ``live(ctx) -> LiveResult``, and optionally ``check_selection(names)`` (a
message when the settings cannot serve all the selected domains at once, checked before anything is read) and
``for_domain(name, dom)`` (the device with per-domain settings resolved, used for everything on that domain).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ansible_collections.ttyfleet.serial_console.plugins.module_utils import _domain_xml as dx
from ansible_collections.ttyfleet.serial_console.plugins.module_utils import _libvirt as lv

MAX_REPLANS = 3

DOMAIN_ARGS = dict(
    name=dict(type="list", elements="str"),
    all_domains=dict(type="bool", default=False),
    uri=dict(type="str", default="qemu:///system"),
)


@dataclass
class LiveResult:
    restart_required: bool = False
    live_applied: bool = False
    changes: list = field(default_factory=list)
    warnings: list = field(default_factory=list)


@dataclass
class LiveContext:
    """What a Device needs to bring a running domain in line: the domain, both XMLs and the mode."""

    dom: object
    name: str
    live_xml: str
    persistent_xml: str
    check_mode: bool
    live: bool = True
    reread_live: object = None  # callable returning fresh live XML after a hotplug


class TaskFailure(Exception):
    """A failure for fail_json, with the per-domain results gathered so far."""

    def __init__(self, msg, results=None):
        super().__init__(msg)
        self.results = results or []


def _select(conn, params):
    """[(name, dom)] in the order asked for (or sorted by name for all_domains); unknown names fail."""
    uri = params["uri"]
    domains = lv.list_domains(conn, uri)
    transient = lv.transient_uuids(conn, uri)
    if params.get("all_domains"):
        picked = sorted(((d.name(), d) for d in domains if d.UUIDString() not in transient), key=lambda x: x[0])
        return picked
    by_name = {d.name(): d for d in domains}
    names = []
    for n in params["name"]:
        if n not in names:
            names.append(n)
    missing = [n for n in names if n not in by_name]
    if missing:
        raise TaskFailure("domain%s %s not found on %s; nothing was changed"
                          % ("s" if len(missing) > 1 else "", ", ".join(missing), uri))
    bad = [n for n in names if by_name[n].UUIDString() in transient]
    if bad:
        raise TaskFailure("domain%s %s %s transient (no persistent definition to change); nothing was changed"
                          % ("s" if len(bad) > 1 else "", ", ".join(bad), "are" if len(bad) > 1 else "is"))
    return [(n, by_name[n]) for n in names]


def run(module, device, extra_result_keys=()):
    """Run the whole task; returns the dict for exit_json. Raises TaskFailure or LibvirtFailure."""
    params = module.params
    uri = params["uri"]
    conn = lv.connect(uri)
    try:
        return _run(module, conn, device, extra_result_keys)
    finally:
        lv.close_quietly(conn)


def _run(module, conn, device, extra_result_keys):
    params = module.params
    uri = params["uri"]
    selected = _select(conn, params)
    check_selection = getattr(device, "check_selection", None)
    if check_selection is not None:
        problem = check_selection([name for name, _dom in selected])
        if problem:
            raise TaskFailure(problem + "; nothing was changed")
    for_domain = getattr(device, "for_domain", None)
    active = lv.active_uuids(conn, uri)

    # Phase 1: read and plan everything; any problem fails the task before the first write.
    planned, errors = [], []
    for name, dom in selected:
        try:
            xml = lv.read_domain_xml(dom, inactive=True, secure=True)
        except lv.DomainGone:
            if params.get("all_domains"):
                continue
            errors.append("domain %s disappeared while it was being read" % name)
            continue
        except lv.LibvirtFailure as e:
            errors.append(str(e))
            continue
        try:
            dev = for_domain(name, dom) if for_domain is not None else device
            plan = dev.plan(xml)
            if plan.changed and not module.check_mode:
                plan.materialize()  # parse the whole document now: a malformed one fails before any write
        except (dx.DomainXMLError, dx.PlanError) as e:
            errors.append("domain %s: %s" % (name, e))
            continue
        planned.append((name, dom, dev, xml, plan))
    if errors:
        raise TaskFailure("; ".join(errors) + "; nothing was changed")

    # Phase 2: write, one domain at a time.
    results, diffs = [], []
    for name, dom, dev, xml, plan in planned:
        try:
            result, diff = _apply(module, conn, dev, name, dom, xml, plan, dom.UUIDString() in active)
        except (lv.LibvirtFailure, dx.DomainXMLError, dx.PlanError) as e:
            done = [r["name"] for r in results if r["changed"]]
            raise TaskFailure("domain %s: %s%s" % (
                name, e, "; already changed before this failure: %s" % ", ".join(done) if done else
                "; no domain was changed"), results) from e
        results.append(result)
        if diff:
            diffs.append(diff)
    out = dict(
        changed=any(r["changed"] for r in results),
        restart_required=any(r["restart_required"] for r in results),
        domains=results,
    )
    if module._diff:
        out["diff"] = diffs
    return out


def _apply(module, conn, device, name, dom, xml, plan, running):
    check = module.check_mode
    persistent = xml
    if plan.changed and not check:
        persistent, plan = _define(conn, device, name, dom, xml, plan)
    changes = list(plan.changes)
    result = dict(name=name, changed=bool(changes), restart_required=False, restarted=False)
    live = LiveResult()
    if running:
        if plan.changed and check:
            persistent = plan.xml  # what the define would store; only built for running domains
        live_xml = lv.read_domain_xml(dom, inactive=False, secure=True)
        ctx = LiveContext(dom=dom, name=name, live_xml=live_xml, persistent_xml=persistent, check_mode=check,
                          live=module.params.get("live", True),
                          reread_live=lambda: lv.read_domain_xml(dom, inactive=False, secure=True))
        live = device.live(ctx)
        changes.extend(live.changes)
        for w in live.warnings:
            module.warn("domain %s: %s" % (name, w))
        if live.restart_required and module.params.get("restart"):
            changes.append(_power_cycle(module, dom, name, check))
            result["restarted"] = True
            live.restart_required = False
            if not check:
                again = device.live(LiveContext(
                    dom=dom, name=name, live_xml=lv.read_domain_xml(dom, inactive=False, secure=True),
                    persistent_xml=persistent, check_mode=True, live=False))
                if again.restart_required:
                    module.warn("domain %s: after the power cycle the running domain still differs from its "
                                "persistent definition" % name)
                    live.restart_required = True
    result["restart_required"] = live.restart_required
    result["changed"] = bool(changes)
    result["changes"] = changes
    if hasattr(device, "live_applied_key"):
        result[device.live_applied_key] = live.live_applied
    diff = None
    if plan.changed and module._diff:
        diff = dict(before_header="%s: %s (persistent)" % (name, device.label),
                    after_header="%s: %s (persistent)" % (name, device.label),
                    before=plan.before, after=plan.after)
    return result, diff


def _define(conn, device, name, dom, xml, plan):
    """Define the planned XML, re-planning on fresh XML if someone changed the domain since we read it."""
    planned_on = xml
    for _attempt in range(MAX_REPLANS + 1):
        fresh = lv.read_domain_xml(dom, inactive=True, secure=True)
        if fresh != planned_on:
            # Someone else defined this domain meanwhile: never overwrite their change, plan again on it.
            planned_on = fresh
            plan = device.plan(fresh)
            if not plan.changed:
                return fresh, plan
            continue
        lv.define_domain(conn, plan.xml, name)
        stored = lv.read_domain_xml(dom, inactive=True, secure=True)
        left = device.plan(stored)
        if left.changed:
            raise lv.LibvirtFailure(
                "libvirt accepted the new definition but did not keep all of it (still to do: %s); "
                "check the libvirt version and the domain's machine type" % "; ".join(left.changes))
        return stored, plan
    raise lv.LibvirtFailure("the definition kept changing while it was being updated (%d attempts); "
                            "another tool is editing this domain, nothing of ours was written"
                            % (MAX_REPLANS + 1))


def _power_cycle(module, dom, name, check):
    timeout = module.params.get("shutdown_timeout_s")
    if check:
        return "power-cycle (shutdown, destroy after %s s if needed, start) to apply the devices" % timeout
    outcome = lv.shutdown_gracefully(dom, timeout)
    lv.start_domain(dom)
    how = "shut down" if outcome["graceful"] else "destroyed after %s s without a shutdown" % timeout
    return "power-cycled: %s in %s s, started again" % (how, outcome["seconds"])


def main_wrapper(module, device, extra_result_keys=()):
    """Run, and turn every anticipated failure into fail_json with a clear message."""
    lv.require_libvirt(module)
    try:
        result = run(module, device, extra_result_keys)
    except TaskFailure as e:
        module.fail_json(msg=str(e), domains=e.results)
    except lv.LibvirtFailure as e:
        module.fail_json(msg=str(e))
    module.exit_json(**result)
