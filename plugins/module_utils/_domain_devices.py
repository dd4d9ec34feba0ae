# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The devices the host modules manage, behind one interface for the multi-domain runner (``_domain_module``).

A ``Device`` knows one kind of device: ``plan(doc) -> Plan`` on a domain's persistent XML, ``live(ctx) ->
LiveResult`` for a running domain, a ``label`` for diffs, and optionally ``check_selection(names)`` (why the settings
cannot serve all the selected domains at once, checked before anything is read) and ``for_domain(name, dom)`` (the
device with per-domain settings resolved). ``SerialDevice`` (domain_serial) and ``VncDevice`` (domain_vnc) are the
two there are; the runner knows nothing else of them. Whether a running domain still differs from its definition
is always ``_domain_runtime``'s rule, the one the audit uses.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ansible_collections.ttyfleet.serial_console.plugins.module_utils import _domain_runtime as runtime
from ansible_collections.ttyfleet.serial_console.plugins.module_utils import _libvirt as lv
from ansible_collections.ttyfleet.serial_console.plugins.module_utils._domain_doc import DomainDoc
from ansible_collections.ttyfleet.serial_console.plugins.module_utils._domain_spec import shared_source_problem
from ansible_collections.ttyfleet.serial_console.plugins.module_utils._redact import REDACTED
from ansible_collections.ttyfleet.serial_console.plugins.module_utils._serial_plan import plan_serial
from ansible_collections.ttyfleet.serial_console.plugins.module_utils._vnc_plan import plan_vnc


@dataclass
class LiveResult:
    restart_required: bool = False
    live_applied: bool = False
    changes: list = field(default_factory=list)
    warnings: list = field(default_factory=list)


@dataclass
class LiveContext:
    """What a Device needs to bring a running domain in line: the domain, both XMLs and the mode. Each XML is
    parsed once, on first use (``live_doc``, ``persistent_doc``)."""

    dom: object
    name: str
    live_xml: str
    persistent_xml: str
    check_mode: bool
    live: bool = True
    reread_live: object = None  # callable returning fresh live XML after a hotplug
    _docs: dict = field(default_factory=dict, init=False, repr=False)

    @property
    def live_doc(self):
        return self._doc("live_xml")

    @property
    def persistent_doc(self):
        return self._doc("persistent_xml")

    def _doc(self, attr):
        text = getattr(self, attr)
        doc = self._docs.get(attr)
        if doc is None or doc.text is not text:
            doc = self._docs[attr] = DomainDoc(text)
        return doc


class Device:
    """The interface the runner calls. Subclasses set ``label`` and implement ``plan`` and ``live``."""

    label = "device"
    live_applied_key = "live_applied"  # the per-domain result key saying the running domain was changed too

    def plan(self, doc):
        """A Plan for one domain's persistent XML (a DomainDoc or text); raises DomainXMLError / PlanError."""
        raise NotImplementedError

    def live(self, ctx):
        """A LiveResult for a running domain (a LiveContext); in check mode what the real run would do."""
        raise NotImplementedError

    def check_selection(self, names):
        """Why these settings cannot serve all of ``names`` at once, or None."""
        return None

    def for_domain(self, name, dom):
        """This device with per-domain settings resolved for one domain (self when there are none)."""
        return self


class SerialDevice(Device):
    """domain_serial: the serial port (or virtio console) of a SerialSpec, and its console twin."""

    def __init__(self, spec):
        self.spec = spec
        self.label = spec.label

    def check_selection(self, names):
        return shared_source_problem(self.spec, names)

    def for_domain(self, name, dom):
        if not self.spec.per_domain:
            return self
        return SerialDevice(self.spec.for_domain(name, dom.UUIDString() if self.spec.needs_uuid else None))

    def plan(self, doc):
        return plan_serial(doc, self.spec)

    def live(self, ctx):
        spec = self.spec
        live_doc, persistent_doc = ctx.live_doc, ctx.persistent_doc
        if not runtime.serial_restart_required(live_doc, persistent_doc, spec):
            return LiveResult()
        result = LiveResult(restart_required=True)
        running, defined = runtime.serial_pair(live_doc, persistent_doc, spec)
        if running is not None or defined is None:
            return result  # the running device differs or must go: only a cold start does that
        blocker = runtime.live_attach_blocker(live_doc, spec, persistent_doc)
        if blocker or not ctx.live:
            return result
        if ctx.check_mode:
            result.live_applied = True
            result.restart_required = not runtime.twin_follows_hotplug(live_doc, spec)
            result.changes.append("hot-plug %s into the running domain" % spec.label)
            return result
        error = lv.apply_device_live(ctx.dom, runtime.serial_device_xml(persistent_doc, spec), attach=True)
        if error:
            result.warnings.append("could not hot-plug %s (%s); it appears after a cold start"
                                   % (spec.label, error))
            return result
        result.live_applied = True
        result.changes.append("hot-plug %s into the running domain" % spec.label)
        result.restart_required = runtime.serial_restart_required(ctx.reread_live(), persistent_doc, spec)
        return result


class VncDevice(Device):
    """domain_vnc: the first VNC graphics device of a VncSpec; its password can be applied live."""

    label = "VNC graphics"

    def __init__(self, spec):
        self.spec = spec

    def plan(self, doc):
        return plan_vnc(doc, self.spec)

    def live(self, ctx):
        live_doc, persistent_doc = ctx.live_doc, ctx.persistent_doc
        settings_differ, password_differs = runtime.vnc_live_state(live_doc, persistent_doc)
        result = LiveResult(restart_required=settings_differ)
        if not password_differs:
            return result
        password, valid_to = runtime.vnc_auth(persistent_doc)
        device = runtime.vnc_device_xml(live_doc)
        if not ctx.live or password is None or device is None:
            # Removing a password live is not possible (an empty one locks VNC); it goes at the next cold start.
            result.restart_required = True
            return result
        if ctx.check_mode:
            result.live_applied = True
            result.changes.append("apply the VNC password to the running domain")
            return result
        error = lv.apply_device_live(ctx.dom, runtime.with_vnc_password(device, password, valid_to))
        if error:
            result.restart_required = True
            result.warnings.append("could not apply the VNC password to the running domain (%s); it takes "
                                   "effect at the next cold start" % error.replace(password, REDACTED))
            return result
        result.live_applied = True
        result.changes.append("apply the VNC password to the running domain")
        return result
