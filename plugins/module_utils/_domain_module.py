# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The multi-domain loop shared by domain_serial and domain_vnc.

Phase 1 reads and plans every selected domain; if any of them fails (unknown name, malformed XML, a conflict),
the task fails before anything is written anywhere. Phase 2 writes: per domain, re-read the inactive XML right
before the define and re-plan if it moved (another tool, a parallel run), define with VALIDATE, re-read and
confirm, then bring the running domain in line where libvirt can do that live, and power-cycle only when asked.

Every selected domain is accounted for in the result, also when the task fails: ``status`` (unchanged, changed,
failed, vanished, not_reached), ``steps`` (what was done to it, in order: planned, replanned, defined,
live_applied, stopped, started; in check mode what the real run would do), ``error`` and ``left_stopped``. A
domain this task stopped is started again on a later failure, or reported as left stopped with the reason. When
the connection to libvirtd is lost (libvirtd restarted), the task connects again (bounded), re-reads and confirms
what it had sent, and carries on from the step it was at. Under ``all_domains`` a domain undefined meanwhile is
reported as ``vanished`` and skipped.

The kind-specific parts come in as a ``_domain_devices.Device`` (``SerialDevice``, ``VncDevice``): ``plan``,
``live``, ``label``, ``check_selection`` and ``for_domain``; this loop knows nothing else of them.
"""

from __future__ import annotations

from dataclasses import dataclass

from ansible_collections.ttyfleet.serial_console.plugins.module_utils import _libvirt as lv
from ansible_collections.ttyfleet.serial_console.plugins.module_utils._domain_devices import LiveContext
from ansible_collections.ttyfleet.serial_console.plugins.module_utils._domain_doc import DomainXMLError, PlanError
from ansible_collections.ttyfleet.serial_console.plugins.module_utils._redact import redact_result

MAX_REPLANS = 3
MAX_RECONNECTS = 3
WRITE_STEPS = ("defined", "live_applied", "stopped", "started")

DOMAIN_ARGS = dict(
    name=dict(type="list", elements="str"),
    all_domains=dict(type="bool", default=False),
    uri=dict(type="str", default="qemu:///system"),
)


class TaskFailure(Exception):
    """A failure for fail_json, with the per-domain results gathered so far."""

    def __init__(self, msg, results=None):
        super().__init__(msg)
        self.results = results or []


def _select(conn, params):
    """[(name, dom)] in the order asked for (or sorted by name for all_domains); unknown names fail."""
    try:
        picked = lv.select_domains(conn, params["uri"], None if params.get("all_domains") else params["name"],
                                   persistent_only=True)
    except (lv.DomainsNotFound, lv.TransientDomains) as e:
        raise TaskFailure("%s; nothing was changed" % e) from e
    return [(s.name, s.dom) for s in picked]


def _entry(name, device):
    entry = dict(name=name, changed=False, restart_required=False, restarted=False, changes=[],
                 status="not_reached", steps=[], error=None, left_stopped=False)
    entry[device.live_applied_key] = False
    return entry


@dataclass
class _Item:
    """One domain on its way through phase 2."""

    name: str
    uuid: str
    dom: object
    dev: object
    xml: str
    plan: object
    running: bool
    entry: dict
    gen: int = 0  # connection generation the dom object belongs to
    sent: bool = False  # our definition went to libvirt (maybe unconfirmed)
    persistent: str = None
    live: object = None
    cycle: object = None
    start_failed: bool = False  # the start of a power cycle failed: starting again would fail the same way


class _Task:
    """One run of the loop. ``preview``'s runs are given the caller's connection, its domains (``selected``,
    ``Selected`` items) and its reader of their XML (``read_xml(dom, inactive)``, secure): check mode only."""

    def __init__(self, module, device, conn=None, selected=None, read_xml=None, active=None):
        self.module = module
        self.device = device
        self.params = module.params
        self.uri = self.params["uri"]
        self.check = module.check_mode or conn is not None
        self.own_conn = conn is None
        self.conn = lv.connect(self.uri) if conn is None else conn
        self.selected = selected
        self.read_xml = read_xml or (lambda dom, inactive: lv.read_domain_xml(dom, inactive=inactive, secure=True))
        self.active = active
        self.gen = 0
        self.reconnects = 0

    def close(self):
        if self.own_conn:
            lv.close_quietly(self.conn)

    # -- connection loss ----------------------------------------------------------------------------------------
    def _reconnect(self, item, error):
        if self.reconnects >= MAX_RECONNECTS or not self.own_conn:
            raise error  # a preview's connection is its caller's to handle
        self.reconnects += 1
        lv.close_quietly(self.conn)
        try:
            self.conn = lv.reconnect(self.uri)
        except lv.LibvirtFailure as e:
            raise lv.LibvirtFailure("%s; %s" % (error, e)) from e
        self.gen += 1
        self.module.warn("the connection to libvirtd at %s was lost while working on domain %s (%s); connected "
                         "again, re-read the domain and carried on" % (self.uri, item.name, error))
        self._refresh(item)

    def _refresh(self, item):
        if item.gen != self.gen:
            item.dom = lv.lookup_uuid(self.conn, item.uuid, item.name)
            item.gen = self.gen

    # -- the run ------------------------------------------------------------------------------------------------
    def run(self):
        params, device = self.params, self.device
        all_domains = bool(params.get("all_domains"))
        if self.selected is None:
            selected = _select(self.conn, params)
        else:
            # the same rule as _select: all_domains leaves transient domains out, named ones must be persistent
            chosen = [s for s in self.selected if s.persistent] if all_domains else self.selected
            try:
                lv.require_persistent(chosen)
            except lv.TransientDomains as e:
                raise TaskFailure("%s; nothing was changed" % e) from e
            selected = [(s.name, s.dom) for s in chosen]
        problem = device.check_selection([name for name, _dom in selected])
        if problem:
            raise TaskFailure(problem + "; nothing was changed")
        active = lv.active_uuids(self.conn, self.uri) if self.active is None else self.active
        entries = {name: _entry(name, device) for name, _dom in selected}
        results = [entries[name] for name, _dom in selected]

        # Phase 1: read and plan everything; any problem fails the task before the first write.
        planned, errors = [], []
        for name, dom in selected:
            entry = entries[name]
            try:
                xml = self.read_xml(dom, True)
            except lv.DomainGone as e:
                if all_domains:
                    entry.update(status="vanished", error="undefined while the task ran; skipped")
                    continue
                errors.append(str(e))
                entry.update(status="failed", error=str(e))
                continue
            except lv.LibvirtFailure as e:
                errors.append(str(e))
                entry.update(status="failed", error=str(e))
                continue
            try:
                dev = device.for_domain(name, dom)
                plan = dev.plan(xml)
                if plan.changed and not self.check:
                    plan.materialize()  # parse the whole document now: a malformed one fails before any write
            except (DomainXMLError, PlanError) as e:
                errors.append("domain %s: %s" % (name, e))
                entry.update(status="failed", error=str(e))
                continue
            if plan.changed:
                entry["steps"].append("planned")
            planned.append(_Item(name, dom.UUIDString(), dom, dev, xml, plan, dom.UUIDString() in active, entry))
        if errors:
            for item in planned:
                item.entry["error"] = "not written: another selected domain failed before anything was written"
            raise TaskFailure("; ".join(errors) + "; nothing was changed", results)

        # Phase 2: write, one domain at a time.
        diffs = []
        diff = module_diff(self.module) and self.own_conn  # a preview's caller shows no diff
        for item in planned:
            try:
                self._apply(item)
            except lv.DomainGone as e:
                if all_domains:
                    self._vanished(item, e)
                    continue
                self._failed(item, e, results, planned)
            except (lv.LibvirtFailure, DomainXMLError, PlanError) as e:
                self._failed(item, e, results, planned)
            if item.plan.changed and diff:
                diffs.append(dict(before_header="%s: %s (persistent)" % (item.name, item.dev.label),
                                  after_header="%s: %s (persistent)" % (item.name, item.dev.label),
                                  before=item.plan.before, after=item.plan.after))
        out = dict(
            changed=any(r["changed"] for r in results),
            restart_required=any(r["restart_required"] for r in results),
            domains=results,
        )
        if diff:
            out["diff"] = diffs
        return out

    def _vanished(self, item, error):
        entry = item.entry
        entry.update(status="vanished", error="undefined while the task ran (%s); skipped" % error)
        if any(s in entry["steps"] for s in WRITE_STEPS):
            entry["changed"] = True
        self.module.warn("domain %s was undefined while the task ran; skipped" % item.name)

    def _failed(self, item, error, results, planned):
        entry = item.entry
        reason = str(error)
        if "stopped" in entry["steps"] and "started" not in entry["steps"]:
            reason += self._recover(item)
        if not entry["changes"] and (item.sent or "defined" in entry["steps"]):
            entry["changes"] = list(item.plan.changes)
        if "stopped" in entry["steps"] and "started" not in entry["steps"]:
            entry["changes"].append("stopped for the power cycle, not started again")
        unconfirmed = item.sent and "defined" not in entry["steps"]
        if unconfirmed:
            entry["define_note"] = "sent, not confirmed"
            reason += ("; its new definition was sent to libvirt and may have been stored (check `virsh dumpxml "
                       "--inactive %s`)" % item.name)
        entry.update(status="failed", error=reason,
                     changed=unconfirmed or any(s in entry["steps"] for s in WRITE_STEPS))
        after = planned[planned.index(item) + 1:]
        for other in after:
            other.entry["error"] = "not reached: the task stopped at the failure of domain %s" % item.name
        touched = [r["name"] for r in results if r is not entry and any(s in r["steps"] for s in WRITE_STEPS)]
        msg = "domain %s: %s" % (item.name, reason)
        done_here = [s for s in entry["steps"] if s in WRITE_STEPS]
        if done_here:
            msg += "; done on domain %s before the failure: %s" % (item.name, ", ".join(done_here))
        if touched:
            msg += "; changed before this failure: %s" % ", ".join(touched)
        elif not done_here and not unconfirmed:
            msg += "; no domain was changed"
        if after:
            msg += "; not reached: %s" % ", ".join(o.name for o in after)
        raise TaskFailure(msg, results) from error

    def _recover(self, item):
        """The domain was stopped by this task and a later step failed: start it again, or say why not."""
        if item.start_failed:
            item.entry["left_stopped"] = True
            return "; domain %s is left stopped (it was running before this task stopped it)" % item.name
        try:
            self._refresh(item)
            lv.start_domain(item.dom)
        except lv.LibvirtFailure as e:
            item.entry["left_stopped"] = True
            return "; domain %s is left stopped (it was running before this task stopped it): %s" % (item.name, e)
        item.entry["steps"].append("started")
        return "; domain %s was started again" % item.name

    def _apply(self, item):
        while True:
            try:
                self._refresh(item)
                return self._steps(item)
            except lv.ConnectionLost as e:
                self._reconnect(item, e)

    def _steps(self, item):
        """Every step is skipped when an earlier attempt (before a reconnect) already did it."""
        module, entry, steps = self.module, item.entry, item.entry["steps"]
        if item.persistent is None:
            item.persistent, item.plan = self._define(item)
        changes = list(item.plan.changes)
        if item.running:
            if item.live is None:
                persistent = item.plan.xml if item.plan.changed and self.check else item.persistent
                dom = item.dom
                ctx = LiveContext(dom=dom, name=item.name, live_xml=self.read_xml(dom, False),
                                  persistent_xml=persistent, check_mode=self.check,
                                  live=self.params.get("live", True),
                                  reread_live=lambda: lv.read_domain_xml(dom, inactive=False))
                live = item.dev.live(ctx)
                for w in live.warnings:
                    module.warn("domain %s: %s" % (item.name, w))
                if live.live_applied:
                    steps.append("live_applied")
                item.live = live
            live = item.live
            changes.extend(live.changes)
            if live.restart_required and self.params.get("restart"):
                changes.append(self._power_cycle(item))
                entry["restarted"] = True
                live.restart_required = False
                if not self.check:
                    again = item.dev.live(LiveContext(
                        dom=item.dom, name=item.name, live_xml=lv.read_domain_xml(item.dom, inactive=False),
                        persistent_xml=item.persistent, check_mode=True, live=False))
                    if again.restart_required:
                        module.warn("domain %s: after the power cycle the running domain still differs from its "
                                    "persistent definition" % item.name)
                        live.restart_required = True
            entry["restart_required"] = live.restart_required
            entry[item.dev.live_applied_key] = live.live_applied
        entry["changes"] = changes
        entry["changed"] = bool(changes)
        entry["status"] = "changed" if changes else "unchanged"

    def _define(self, item):
        """Define the planned XML, re-planning on fresh XML if someone changed the domain since we read it."""
        plan = item.plan
        if not plan.changed:
            return item.xml, plan
        if self.check:
            self._defined(item)  # what the real run would do
            return item.xml, plan
        planned_on = item.xml
        for _attempt in range(MAX_REPLANS + 1):
            fresh = lv.read_domain_xml(item.dom, inactive=True, secure=True)
            if item.sent and not item.dev.plan(fresh).changed:
                # libvirtd went away after our define was sent: the re-read shows it was kept.
                self._defined(item, "confirmed after connecting again")
                return fresh, plan
            if fresh != planned_on:
                # Someone else defined this domain meanwhile: never overwrite their change, plan again on it.
                planned_on = fresh
                plan = item.dev.plan(fresh)
                if "replanned" not in item.entry["steps"]:
                    item.entry["steps"].append("replanned")
                item.plan = plan
                if not plan.changed:
                    return fresh, plan
                plan.materialize()
                continue
            item.sent = True
            lv.define_domain(self.conn, plan.xml, item.name)
            stored = lv.read_domain_xml(item.dom, inactive=True, secure=True)
            left = item.dev.plan(stored)
            if left.changed:
                raise lv.LibvirtFailure(
                    "libvirt accepted the new definition but did not keep all of it (still to do: %s); "
                    "check the libvirt version and the domain's machine type" % "; ".join(left.changes))
            self._defined(item)
            return stored, plan
        raise lv.LibvirtFailure("the definition kept changing while it was being updated (%d attempts); "
                                "another tool is editing this domain, nothing of ours was written"
                                % (MAX_REPLANS + 1))

    @staticmethod
    def _defined(item, note=None):
        item.entry["steps"].append("defined")
        if note:
            item.entry["define_note"] = note

    def _power_cycle(self, item):
        timeout = self.params.get("shutdown_timeout_s")
        if self.check:
            item.entry["steps"].extend(("stopped", "started"))
            return "power-cycle (shutdown, destroy after %s s if needed, start) to apply the devices" % timeout
        if item.cycle is None:
            item.cycle = lv.PowerCycle(timeout)
        cycle = item.cycle
        try:
            cycle.run(item.dom, start=False)
        finally:
            if "stopped" in cycle.steps and "stopped" not in item.entry["steps"]:
                item.entry["steps"].append("stopped")
        if "started" not in item.entry["steps"]:
            try:
                cycle.run(item.dom)
            except lv.ConnectionLost:
                raise
            except lv.LibvirtFailure:
                item.start_failed = True
                raise
            item.entry["steps"].append("started")
        return "power-cycled: %s" % cycle.describe()


def module_diff(module):
    return bool(getattr(module, "_diff", False))


def preview(module, device, conn, selected, read_xml, active=None):
    """What the device's module would answer in check mode for ``selected`` (``Selected`` items of ``conn``),
    reading each domain's XML through ``read_xml(dom, inactive)`` (secure), so that a caller that reads the
    domains anyway reads them once: the same plans and rules as the module's own check mode, nothing written.
    ``active``: the UUIDs of the running domains, when the caller knows them (else libvirt is asked).
    Raises TaskFailure (with the per-domain results) or LibvirtFailure as ``run`` does; the caller redacts."""
    return _Task(module, device, conn=conn, selected=selected, read_xml=read_xml, active=active).run()


def run(module, device, extra_result_keys=()):
    """Run the whole task; returns the dict for exit_json. Raises TaskFailure or LibvirtFailure."""
    task = _Task(module, device)
    try:
        return task.run()
    finally:
        task.close()


def main_wrapper(module, device, extra_result_keys=()):
    """Run, and turn every anticipated failure into fail_json with a clear message; redact before output."""
    lv.require_libvirt(module)
    secrets = [module.params.get("password")] if module.params.get("password") else []
    try:
        result = run(module, device, extra_result_keys)
    except TaskFailure as e:
        results = redact_result(e.results, secrets)
        module.fail_json(msg=redact_result(str(e), secrets), domains=results,
                         changed=any(r.get("changed") for r in results))
    except lv.LibvirtFailure as e:
        module.fail_json(msg=redact_result(str(e), secrets), domains=[])
    module.exit_json(**redact_result(result, secrets))
