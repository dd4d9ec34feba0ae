# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The only place in the collection that imports libvirt.

Modules call ``require_libvirt(module)`` first, then ``connect(uri)``; everything that touches a hypervisor goes
through the helpers here so that error messages and flags are the same everywhere:

* every libvirt error text passes ``why(e)``, which redacts password attributes (libvirt quotes the offending XML
  line, with ``passwd='...'`` escaped so that Ansible's no_log masking misses it);
* a failure raises ``LibvirtFailure``; ``DomainGone`` when the domain was undefined meanwhile, ``ConnectionLost``
  when the connection died (libvirtd restarted): the caller may ``reconnect`` and carry on;
* ``select_domains``: the one domain selection (a name list in order, or every domain), used by every module;
* ``PowerCycle``: the one cold restart (ACPI shutdown, wait, destroy only after the timeout, start), step by step.

Over 400 lines on purpose: this is the one choke point to libvirt, every call with its flags and its error text in
one file; a second file would be a second place that touches libvirt.
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.ttyfleet.serial_console.plugins.module_utils import _exposure as exposure
from ansible_collections.ttyfleet.serial_console.plugins.module_utils._redact import redact_attributes

try:
    import libvirt

    LIBVIRT_IMPORT_ERROR = None
except ImportError:
    libvirt = None
    LIBVIRT_IMPORT_ERROR = traceback.format_exc()

RECONNECT_S = 30


class LibvirtFailure(Exception):
    """A libvirt problem already phrased for the user."""


class DomainGone(LibvirtFailure):
    """The domain was undefined between listing it and using it."""


class ConnectionLost(LibvirtFailure):
    """The connection to libvirtd died (libvirtd restarted or stopped); what was asked may or may not be done."""


class TransientDomains(LibvirtFailure):
    """Named domains that have no persistent definition to change."""


class DomainsNotFound(LibvirtFailure):
    """Names that are not domains on the URI; ``missing`` lists them."""

    def __init__(self, missing, uri):
        self.missing = list(missing)
        self.uri = uri
        super().__init__("domain%s %s not found on %s" % ("s" if len(missing) > 1 else "", ", ".join(missing), uri))


def why(e):
    """libvirt's message for ``e``, with every password attribute it quotes redacted."""
    return redact_attributes(e.get_error_message() or str(e))


def _alive(handle):
    try:
        conn = handle if hasattr(handle, "isAlive") else handle.connect()
        return conn.isAlive() == 1
    except libvirt.libvirtError:
        return False


def failure(e, what, handle=None):
    """The LibvirtFailure for libvirtError ``e``, phrased "<what>: <libvirt's redacted reason>": ConnectionLost
    when ``handle``'s connection died, DomainGone when the domain no longer exists."""
    text = "%s: %s" % (what, why(e))
    if e.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
        return DomainGone(text)
    if handle is not None and not _alive(handle):
        return ConnectionLost(text + " (the connection to libvirtd was lost)")
    return LibvirtFailure(text)


def require_libvirt(module):
    if LIBVIRT_IMPORT_ERROR is not None:
        module.fail_json(msg=missing_required_lib("libvirt-python"), exception=LIBVIRT_IMPORT_ERROR)


def _silence_default_error_handler():
    # libvirt prints every error to stderr by default; the module reports them itself.
    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)


def connect(uri, readonly=False):
    """Open a connection, or raise LibvirtFailure naming the URI and the reason. A URI that would make libvirt
    run a command (ext transport, command=/netcat=) or skip certificate checks is refused first
    (_exposure.uri_problem)."""
    problem = exposure.uri_problem(uri)
    if problem:
        raise LibvirtFailure(problem + "; nothing was read or changed")
    _silence_default_error_handler()
    try:
        conn = libvirt.openReadOnly(uri) if readonly else libvirt.open(uri)
    except libvirt.libvirtError as e:
        raise LibvirtFailure("cannot connect to libvirt at %s: %s" % (uri, why(e))) from e
    if conn is None:
        raise LibvirtFailure("cannot connect to libvirt at %s" % uri)
    return conn


def reconnect(uri, timeout_s=RECONNECT_S, poll_s=0.5, clock=time.monotonic, sleep=time.sleep):
    """Connect again after ConnectionLost, polling up to ``timeout_s`` while libvirtd comes back."""
    deadline = clock() + timeout_s
    while True:
        try:
            return connect(uri)
        except LibvirtFailure:
            if clock() >= deadline:
                raise LibvirtFailure("libvirtd at %s did not answer again within %s s" % (uri, timeout_s)) from None
            sleep(poll_s)


def lookup_uuid(conn, uuid, name):
    """The domain object with ``uuid`` on ``conn`` (after a reconnect); DomainGone if it was undefined."""
    try:
        return conn.lookupByUUIDString(uuid)
    except libvirt.libvirtError as e:
        raise failure(e, "cannot look up domain %s" % name, conn) from e


# --- Selecting domains: one listing, the fewest round trips. ------------------------------------------------------


@dataclass
class Selected:
    name: str
    dom: object
    uuid: str
    persistent: bool


def list_domains(conn, uri):
    """Every domain (running or not, persistent or transient) in one call."""
    try:
        return conn.listAllDomains(0)
    except libvirt.libvirtError as e:
        raise failure(e, "cannot list domains on %s" % uri, conn) from e


def transient_uuids(conn, uri):
    try:
        return {d.UUIDString() for d in conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_TRANSIENT)}
    except libvirt.libvirtError as e:
        raise failure(e, "cannot list domains on %s" % uri, conn) from e


def select_domains(conn, uri, names=None, persistent_only=False):
    """The domains a task works on, as ``Selected`` items.

    ``names`` None: every domain, sorted by name (with ``persistent_only``, transient ones are left out). Otherwise
    the names in the order given, repeats dropped; unknown names raise DomainsNotFound (all of them in one
    message), and with ``persistent_only`` a transient one raises LibvirtFailure (there is no definition to change).
    """
    transient = transient_uuids(conn, uri)
    picked = []
    for d in list_domains(conn, uri):
        uuid = d.UUIDString()
        picked.append(Selected(d.name(), d, uuid, uuid not in transient))
    if names is None:
        return sorted((s for s in picked if s.persistent or not persistent_only), key=lambda s: s.name)
    by_name = {s.name: s for s in picked}
    wanted = list(dict.fromkeys(names))
    missing = [n for n in wanted if n not in by_name]
    if missing:
        raise DomainsNotFound(missing, uri)
    picked = [by_name[n] for n in wanted]
    if persistent_only:
        require_persistent(picked)
    return picked


def require_persistent(selected):
    """Raise TransientDomains naming every transient domain of ``selected`` (there is no definition to change)."""
    bad = [s.name for s in selected if not s.persistent]
    if bad:
        raise TransientDomains("domain%s %s %s transient (no persistent definition to change)"
                               % ("s" if len(bad) > 1 else "", ", ".join(bad), "are" if len(bad) > 1 else "is"))


def domain_states(conn, domains):
    """{uuid: virDomainState number}: one bulk-stats call, or one call per domain where the driver lacks it."""
    if not domains:
        return {}
    try:
        stats = conn.domainListGetStats(domains, libvirt.VIR_DOMAIN_STATS_STATE)
        return {d.UUIDString(): s["state.state"] for d, s in stats}
    except libvirt.libvirtError:
        states = {}  # a driver without bulk stats, or a domain gone meanwhile: ask one by one
    for d in domains:
        try:
            states[d.UUIDString()] = d.state()[0]
        except libvirt.libvirtError as e:
            if e.get_error_code() != libvirt.VIR_ERR_NO_DOMAIN:
                raise failure(e, "cannot read the state of domain %s" % d.name(), conn) from e
    return states


def domain_state(dom, name):
    """(virDomainState number, persistent) of one domain."""
    try:
        return dom.state()[0], bool(dom.isPersistent())
    except libvirt.libvirtError as e:
        raise failure(e, "cannot read the state of domain %s" % name, dom) from e


def is_active(dom, name):
    try:
        return bool(dom.isActive())
    except libvirt.libvirtError as e:
        raise failure(e, "cannot read the state of domain %s" % name, dom) from e


def read_domain_xml(dom, inactive=False, secure=True):
    """XMLDesc of the persistent config (inactive) or the running definition; secure adds the VNC password."""
    flags = (libvirt.VIR_DOMAIN_XML_INACTIVE if inactive else 0) | (libvirt.VIR_DOMAIN_XML_SECURE if secure else 0)
    try:
        return dom.XMLDesc(flags)
    except libvirt.libvirtError as e:
        if e.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
            raise DomainGone("domain %s disappeared while it was being read" % dom.name()) from e
        if e.get_error_code() == libvirt.VIR_ERR_OPERATION_DENIED and secure:
            raise LibvirtFailure(
                "reading the XML of domain %s with its VNC password needs a read-write connection: %s"
                % (dom.name(), why(e))
            ) from e
        raise failure(e, "cannot read the XML of domain %s" % dom.name(), dom) from e


# --- Power: one cold restart that does not lose the guest's last writes. ------------------------------------------


class PowerCycle:
    """Ask the guest to shut down (ACPI), wait up to ``timeout_s``, destroy it only after that, then start it.

    A destroy right after a guest change loses what is still in the guest's page cache (a freshly written
    grub.cfg was seen to vanish), so the hard stop is the last resort. ``start_flags`` are passed to
    ``createWithFlags`` (console_prompt starts paused, attaches, then resumes).

    Step by step: ``steps`` lists what is done (``stopped``, ``started``); a failure raises LibvirtFailure and
    ``steps`` tells how far it got. ``run`` is resumable: after ConnectionLost, call it again with the domain
    object of a new connection and it carries on from the first step not done, within the same deadline.
    """

    def __init__(self, timeout_s, start_flags=0, poll_s=0.5, clock=None, sleep=None):
        self.timeout_s = timeout_s
        self.start_flags = start_flags
        self.poll_s = poll_s
        self._clock = clock or time.monotonic
        self._sleep = sleep or time.sleep
        self.steps = []
        self.graceful = None
        self.shutdown_seconds = None
        self._asked_at = None

    def run(self, dom, start=True):
        if "stopped" not in self.steps:
            self._stop(dom)
        if start and "started" not in self.steps:
            start_domain(dom, self.start_flags)
            self.steps.append("started")
        return self

    def _stopped(self, graceful):
        self.graceful = graceful
        self.shutdown_seconds = round(self._clock() - self._asked_at, 2)
        self.steps.append("stopped")

    def _stop(self, dom):
        name = dom.name()
        if self._asked_at is None:
            self._asked_at = self._clock()
            try:
                if dom.state()[0] == libvirt.VIR_DOMAIN_PAUSED:
                    dom.resume()  # a paused guest cannot act on the power button
                dom.shutdown()
            except libvirt.libvirtError as e:
                if not is_active(dom, name):
                    return self._stopped(True)
                raise failure(e, "cannot shut down domain %s" % name, dom) from e
        while self._clock() - self._asked_at < self.timeout_s:
            if not is_active(dom, name):
                return self._stopped(True)
            self._sleep(self.poll_s)
        if not is_active(dom, name):
            return self._stopped(True)
        try:
            dom.destroy()
        except libvirt.libvirtError as e:
            if is_active(dom, name):
                raise failure(e, "domain %s ignored the shutdown request for %s s and cannot be destroyed"
                              % (name, self.timeout_s), dom) from e
        return self._stopped(False)

    def describe(self):
        if "stopped" not in self.steps:
            return "not stopped"
        how = ("shut down in %s s" % self.shutdown_seconds if self.graceful
               else "destroyed after %s s without a shutdown" % self.shutdown_seconds)
        return how + (", started again" if "started" in self.steps else "")


def shutdown_gracefully(dom, timeout_s, poll_s=0.5, clock=None, sleep=None):
    """The stop half of ``PowerCycle``: ``{"graceful": bool, "seconds": float}``."""
    cycle = PowerCycle(timeout_s, poll_s=poll_s, clock=clock, sleep=sleep).run(dom, start=False)
    return {"graceful": cycle.graceful, "seconds": cycle.shutdown_seconds}


# --- Writing one domain (domain_serial, domain_vnc): define with VALIDATE, live updates, start. --------------


def active_uuids(conn, uri):
    try:
        return {d.UUIDString() for d in conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE)}
    except libvirt.libvirtError as e:
        raise failure(e, "cannot list domains on %s" % uri, conn) from e


def define_domain(conn, xml_text, name):
    """Define with schema validation: a typo such as ``pasword=`` is rejected instead of silently dropped."""
    try:
        return conn.defineXMLFlags(xml_text, libvirt.VIR_DOMAIN_DEFINE_VALIDATE)
    except libvirt.libvirtError as e:
        raise failure(e, "libvirt refused the new definition of domain %s" % name, conn) from e


def apply_device_live(dom, device_xml, attach=False):
    """Update (or attach) one device on the running domain only. Returns None on success, else libvirt's reason:
    not being able to apply live is an expected outcome (isa bus, no ACPI), not a failure."""
    try:
        if attach:
            dom.attachDeviceFlags(device_xml, libvirt.VIR_DOMAIN_AFFECT_LIVE)
        else:
            dom.updateDeviceFlags(device_xml, libvirt.VIR_DOMAIN_AFFECT_LIVE)
    except libvirt.libvirtError as e:
        if not _alive(dom):
            raise failure(e, "cannot change the running domain %s" % dom.name(), dom) from e
        return why(e)
    return None


def start_domain(dom, flags=0):
    try:
        dom.createWithFlags(flags)
    except libvirt.libvirtError as e:
        raise failure(e, "cannot start domain %s" % dom.name(), dom) from e


def resume_domain(dom):
    try:
        dom.resume()
    except libvirt.libvirtError as e:
        raise failure(e, "cannot resume domain %s" % dom.name(), dom) from e


def close_quietly(conn):
    """Close a connection; a failure to close must never hide the task's real result."""
    if conn is None:
        return True
    try:
        conn.close()
    except libvirt.libvirtError:
        return False
    return True


# --- The display: what the VGA shows (read only; libvirt's screenshot API over a stream). ------------------------

SCREENSHOT_MAX_BYTES = 256 * 1024 * 1024


def screenshot(conn, dom, screen=0):
    """(mime type, bytes) of what screen ``screen`` of running domain ``dom`` shows, as the hypervisor renders it
    (QEMU: a PPM). Changes nothing in the domain."""
    stream = conn.newStream(0)
    chunks = []
    size = 0
    try:
        mime = dom.screenshot(stream, screen, 0)
        while True:
            data = stream.recv(1024 * 1024)
            if not data:
                break
            size += len(data)
            if size > SCREENSHOT_MAX_BYTES:
                raise LibvirtFailure(
                    "the screenshot of domain %s exceeds %d bytes" % (dom.name(), SCREENSHOT_MAX_BYTES)
                )
            chunks.append(data)
        stream.finish()
    except libvirt.libvirtError as e:
        try:
            stream.abort()
        except libvirt.libvirtError:
            pass
        raise failure(e, "cannot take a screenshot of domain %s" % dom.name(), dom) from e
    except LibvirtFailure:
        try:
            stream.abort()
        except libvirt.libvirtError:
            pass
        raise
    return mime, b"".join(chunks)
