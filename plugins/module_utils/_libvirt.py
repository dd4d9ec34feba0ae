# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The only place in the collection that imports libvirt.

Modules call ``require_libvirt(module)`` first, then ``connect(module, uri)``; everything that touches a
hypervisor goes through the helpers here so that error messages and flags are the same everywhere.
"""

from __future__ import annotations

import traceback

from ansible.module_utils.basic import missing_required_lib

try:
    import libvirt

    LIBVIRT_IMPORT_ERROR = None
except ImportError:
    libvirt = None
    LIBVIRT_IMPORT_ERROR = traceback.format_exc()


class LibvirtFailure(Exception):
    """A libvirt problem already phrased for the user."""


def require_libvirt(module):
    if LIBVIRT_IMPORT_ERROR is not None:
        module.fail_json(msg=missing_required_lib("libvirt-python"), exception=LIBVIRT_IMPORT_ERROR)


def _silence_default_error_handler():
    # libvirt prints every error to stderr by default; the module reports them itself.
    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)


def connect(uri, readonly=False):
    """Open a connection, or raise LibvirtFailure naming the URI and the reason."""
    _silence_default_error_handler()
    try:
        conn = libvirt.openReadOnly(uri) if readonly else libvirt.open(uri)
    except libvirt.libvirtError as e:
        raise LibvirtFailure("cannot connect to libvirt at %s: %s" % (uri, e.get_error_message())) from e
    if conn is None:
        raise LibvirtFailure("cannot connect to libvirt at %s" % uri)
    return conn


def lookup_domain(conn, name, uri):
    try:
        return conn.lookupByName(name)
    except libvirt.libvirtError as e:
        if e.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
            raise LibvirtFailure("domain %s not found on %s" % (name, uri)) from e
        raise LibvirtFailure("cannot look up domain %s on %s: %s" % (name, uri, e.get_error_message())) from e


# --- Reading many domains at once (domain_console_info): one connection, the fewest round trips. ---------------


class DomainGone(LibvirtFailure):
    """The domain was undefined between listing it and reading it."""


def list_domains(conn, uri):
    """Every domain (running or not, persistent or transient) in one call."""
    try:
        return conn.listAllDomains(0)
    except libvirt.libvirtError as e:
        raise LibvirtFailure("cannot list domains on %s: %s" % (uri, e.get_error_message())) from e


def transient_uuids(conn, uri):
    try:
        return {d.UUIDString() for d in conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_TRANSIENT)}
    except libvirt.libvirtError as e:
        raise LibvirtFailure("cannot list domains on %s: %s" % (uri, e.get_error_message())) from e


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
                raise LibvirtFailure(
                    "cannot read the state of domain %s: %s" % (d.name(), e.get_error_message())
                ) from e
    return states


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
                % (dom.name(), e.get_error_message())
            ) from e
        raise LibvirtFailure("cannot read the XML of domain %s: %s" % (dom.name(), e.get_error_message())) from e


def find_domains(conn, names, uri):
    """Look names up: (domains found, names not found); any other libvirt error raises LibvirtFailure."""
    found, missing = [], []
    for name in names:
        try:
            found.append(conn.lookupByName(name))
        except libvirt.libvirtError as e:
            if e.get_error_code() != libvirt.VIR_ERR_NO_DOMAIN:
                raise LibvirtFailure("cannot look up domain %s on %s: %s" % (name, uri, e.get_error_message())) from e
            missing.append(name)
    return found, missing


# --- Power: a cold restart that does not lose the guest's last writes (console_prompt power=cycle). ------------


def shutdown_gracefully(dom, timeout_s, poll_s=0.5, clock=None, sleep=None):
    """Ask the guest to shut down (ACPI), wait up to ``timeout_s``, and destroy it only after that.

    A destroy right after a guest change loses what is still in the guest's page cache (a freshly written
    grub.cfg was seen to vanish), so the hard stop is the last resort. Returns ``{"graceful": bool,
    "seconds": float}``; ``graceful`` is False when the domain had to be destroyed.
    """
    import time

    clock = clock or time.monotonic
    sleep = sleep or time.sleep
    started = clock()
    name = dom.name()
    try:
        if dom.state()[0] == libvirt.VIR_DOMAIN_PAUSED:
            dom.resume()  # a paused guest cannot act on the power button
        dom.shutdown()
    except libvirt.libvirtError as e:
        if not dom.isActive():
            return {"graceful": True, "seconds": round(clock() - started, 2)}
        raise LibvirtFailure("cannot shut down domain %s: %s" % (name, e.get_error_message())) from e
    while clock() - started < timeout_s:
        if not dom.isActive():
            return {"graceful": True, "seconds": round(clock() - started, 2)}
        sleep(poll_s)
    if not dom.isActive():
        return {"graceful": True, "seconds": round(clock() - started, 2)}
    try:
        dom.destroy()
    except libvirt.libvirtError as e:
        if dom.isActive():
            raise LibvirtFailure(
                "domain %s ignored the shutdown request for %s s and cannot be destroyed: %s"
                % (name, timeout_s, e.get_error_message())
            ) from e
    return {"graceful": False, "seconds": round(clock() - started, 2)}


# --- Writing one domain (domain_serial, domain_vnc): define with VALIDATE, live updates, start. --------------


def active_uuids(conn, uri):
    try:
        return {d.UUIDString() for d in conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE)}
    except libvirt.libvirtError as e:
        raise LibvirtFailure("cannot list domains on %s: %s" % (uri, e.get_error_message())) from e


def define_domain(conn, xml_text, name):
    """Define with schema validation: a typo such as ``pasword=`` is rejected instead of silently dropped."""
    try:
        return conn.defineXMLFlags(xml_text, libvirt.VIR_DOMAIN_DEFINE_VALIDATE)
    except libvirt.libvirtError as e:
        raise LibvirtFailure(
            "libvirt refused the new definition of domain %s: %s" % (name, e.get_error_message())
        ) from e


def apply_device_live(dom, device_xml, attach=False):
    """Update (or attach) one device on the running domain only. Returns None on success, else libvirt's reason:
    not being able to apply live is an expected outcome (isa bus, no ACPI), not a failure."""
    try:
        if attach:
            dom.attachDeviceFlags(device_xml, libvirt.VIR_DOMAIN_AFFECT_LIVE)
        else:
            dom.updateDeviceFlags(device_xml, libvirt.VIR_DOMAIN_AFFECT_LIVE)
    except libvirt.libvirtError as e:
        return e.get_error_message() or str(e)
    return None


def start_domain(dom):
    try:
        dom.create()
    except libvirt.libvirtError as e:
        raise LibvirtFailure("cannot start domain %s: %s" % (dom.name(), e.get_error_message())) from e


def close_quietly(conn):
    """Close a connection; a failure to close must never hide the task's real result."""
    try:
        conn.close()
    except libvirt.libvirtError:
        return False
    return True
