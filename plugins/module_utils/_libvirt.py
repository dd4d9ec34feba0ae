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
