# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""domain_vnc's planner: a domain's persistent XML (read with the SECURE flag) and a ``VncSpec`` in, a ``Plan`` out.

Pure (stdlib ``xml.etree`` only). The first ``<graphics type='vnc'>`` is the managed device; SPICE and every other
device are never touched. An edit is a copy of the existing device with the given options applied
(``_plan_vnc_attrs``): unknown attributes and children are kept. The listen follows the exposure policy
(``_wanted_listen`` over ``_exposure``): a listen reachable from elsewhere needs the opt-in and a password, and a
more private listen (a UNIX socket, none) is never replaced by TCP unless asked. Devices are compared by what
libvirt keeps (``vnc_key``), without the password, which is compared on its own.
"""

from __future__ import annotations

import copy
import re
import xml.etree.ElementTree as ET

from ansible_collections.ttyfleet.serial_console.plugins.module_utils import _exposure as exposure
from ansible_collections.ttyfleet.serial_console.plugins.module_utils._domain_doc import (
    DomainDoc,
    Plan,
    PlanError,
    copies,
    devices_of,
    index_before,
    insert,
    remove,
    replace,
)
from ansible_collections.ttyfleet.serial_console.plugins.module_utils._domain_spec import LISTEN_NONE, LISTEN_SOCKET

_GRAPHICS_BEFORE = ("sound", "audio", "video", "hostdev", "redirdev", "smartcard", "watchdog", "memballoon",
                    "rng", "panic")


def _first_vnc(devices):
    if devices is None:
        return None
    for g in devices.findall("graphics"):
        if g.get("type") == "vnc":
            return g
    return None


def vnc_listen(g):
    """A VNC device's listen as (type, value): ("address", ip or None for the host default), ("socket", path or
    None for one libvirt makes), ("network", name) or ("none", None)."""
    for lis in g.findall("listen"):
        ltype = lis.get("type", "address")
        if ltype == "address":
            return ("address", lis.get("address") or g.get("listen"))
        if ltype == "socket":
            return ("socket", lis.get("socket") or g.get("socket"))
        if ltype == "network":
            return ("network", lis.get("network"))
        return (ltype, None)
    if g.get("socket"):
        return ("socket", g.get("socket"))
    return ("address", g.get("listen"))


def _listen_rank(listen):
    """How private a listen is: 0 none, 1 UNIX socket, 2 loopback TCP, 3 anything reachable from elsewhere
    (another IP, a wildcard, a network, or the host default, which qemu.conf may set to 0.0.0.0)."""
    ltype, value = listen
    if ltype == LISTEN_NONE:
        return 0
    if ltype == LISTEN_SOCKET:
        return 1
    if ltype == "address" and value and exposure.classify(value).kind == exposure.LOOPBACK:
        return 2
    return 3


def describe_vnc_listen(listen):
    ltype, value = listen
    if ltype == "address":
        return exposure.describe(value) if value else "the host default (qemu.conf vnc_listen)"
    if ltype == LISTEN_SOCKET:
        return "a UNIX socket" + (" (%s)" % value if value else "")
    if ltype == "network":
        return "libvirt network %s" % value
    return "none (no listener)"


def _listen_text(listen):
    ltype, value = listen
    if ltype == "address":
        return value or "default"
    return "%s:%s" % (ltype, value or "")


def _vnc_port_of(g):
    if g.get("autoport") == "yes" or g.get("port") in (None, "-1"):
        return -1
    try:
        return int(g.get("port"))
    except ValueError:
        return g.get("port")


def vnc_key(g):
    """What libvirt keeps of a VNC device in a definition, without the password: (port, listen, websocket, keymap,
    passwdValidTo), an autoport device's port as -1. The running domain against its definition is
    ``_domain_runtime.same_at_runtime``."""
    if g is None:
        return None
    websocket = g.get("websocket")
    if websocket is not None:
        try:
            websocket = int(websocket)
        except ValueError:
            pass
    return (_vnc_port_of(g), vnc_listen(g), websocket, g.get("keymap"), g.get("passwdValidTo"))


def _describe_vnc(key):
    port, listen, websocket, keymap, valid_to = key
    parts = ["listen %s" % _listen_text(listen)]
    if listen[0] not in (LISTEN_SOCKET, LISTEN_NONE) or port != -1:
        parts.append("autoport" if port == -1 else "port %s" % port)
    if websocket is not None:
        parts.append("websocket %s" % ("auto" if websocket == -1 else websocket))
    if keymap:
        parts.append("keymap %s" % keymap)
    if valid_to:
        parts.append("password valid to %s" % valid_to)
    return ", ".join(parts)


def _set_listen(g, listen):
    ltype, value = listen
    for lis in g.findall("listen"):
        g.remove(lis)
    g.attrib.pop("listen", None)
    g.attrib.pop("socket", None)  # a VNC unix socket would win over the address
    lis = ET.Element("listen", {"type": ltype})
    if ltype == "address":
        lis.set("address", value)
        g.set("listen", value)
    elif ltype == LISTEN_SOCKET and value:
        lis.set("socket", value)
        g.set("socket", value)
    g.insert(0, lis)


_EXPIRED_NOTE = "drop the password expiry %s, already past: kept, the new password would be dead on arrival"


def _stale(valid_to, now):
    """An existing passwdValidTo at or before now (or one we cannot read) has expired."""
    if not valid_to:
        return False
    if not re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\Z", valid_to):
        return True
    return valid_to <= now


def _wanted_listen(current, spec, password_after):
    """The listen the device must have after this task, and why it changes when the caller did not ask.
    PlanError when the exposure policy refuses."""
    have = vnc_listen(current) if current is not None else None
    reason = None
    if spec.listen is None:
        if have is None:
            want = ("address", "127.0.0.1")
        elif _listen_rank(have) < 3 or spec.allow_remote_listen:
            want = have  # omitted: untouched (socket and none are never turned into TCP)
        else:
            want = ("address", "127.0.0.1")
            reason = "allow_remote_listen is not set, so listen %s is closed" % describe_vnc_listen(have)
    elif spec.listen == LISTEN_SOCKET:
        want = have if have is not None and have[0] == LISTEN_SOCKET else (LISTEN_SOCKET, None)
    elif spec.listen == LISTEN_NONE:
        want = (LISTEN_NONE, None)
    else:
        want = ("address", spec.listen)
    if have is not None and _listen_rank(have) < 2 and _listen_rank(want) > _listen_rank(have) \
            and not spec.replace_private_listen:
        raise PlanError("the VNC device listens on %s, which is more private than listen %s; set "
                        "replace_private_listen: true to replace it (and allow_remote_listen for a non-loopback "
                        "address)" % (describe_vnc_listen(have), _listen_text(want)))
    if _listen_rank(want) == 3 and not password_after:
        raise PlanError("listen %s with allow_remote_listen needs password as well (set it in the same task or "
                        "keep an existing one)" % describe_vnc_listen(want))
    return want, reason


def _plan_vnc_attrs(current, spec):
    """The device as it must be: a copy of the current one (unknown attributes and children kept) with what
    the caller gave applied. Returns (element, notes)."""
    password_after = spec.password if spec.password is not None else (
        current.get("passwd") if current is not None else None)
    g = copy.deepcopy(current) if current is not None else ET.Element("graphics", {"type": "vnc"})
    notes = []
    want_listen, reason = _wanted_listen(current, spec, password_after)
    if current is None or vnc_listen(current) != want_listen:
        _set_listen(g, want_listen)
    if reason:
        notes.append(reason)
    tcp = want_listen[0] not in (LISTEN_SOCKET, LISTEN_NONE)
    if spec.port is not None:
        if not tcp:
            raise PlanError("port is only used with a TCP listen; the VNC device listens on %s"
                            % describe_vnc_listen(want_listen))
        g.set("port", str(spec.port))
        g.set("autoport", "yes" if spec.port == -1 else "no")
    elif tcp and g.get("port") is None and g.get("autoport") is None:
        g.set("port", "-1")
        g.set("autoport", "yes")
    if spec.websocket == 0:
        g.attrib.pop("websocket", None)
        g.attrib.pop("websocketGenerated", None)
    elif spec.websocket is not None:
        if not tcp:
            raise PlanError("websocket is only used with a TCP listen; the VNC device listens on %s"
                            % describe_vnc_listen(want_listen))
        g.set("websocket", str(spec.websocket))
    if spec.keymap == "":
        g.attrib.pop("keymap", None)
    elif spec.keymap is not None:
        g.set("keymap", spec.keymap)
    if spec.password is not None:
        g.set("passwd", spec.password)
    password_change = spec.password is not None and (current is None or current.get("passwd") != spec.password)
    if spec.password_valid_to == "":
        g.attrib.pop("passwdValidTo", None)
    elif spec.password_valid_to is not None:
        if not password_after:
            raise PlanError("password_valid_to needs a password (the VNC device has none; set password)")
        g.set("passwdValidTo", spec.password_valid_to)
    elif password_change and _stale(g.get("passwdValidTo"), spec.now):
        # The old password's expiry is in the past: kept, it would make the new password dead on arrival.
        notes.append(_EXPIRED_NOTE % g.get("passwdValidTo"))
        g.attrib.pop("passwdValidTo", None)
    return g, notes, password_change


def plan_vnc(doc, spec):
    """Plan domain_vnc on one domain's inactive XML (a DomainDoc or text, read with the SECURE flag, so passwd is
    visible). Returns a Plan."""
    doc = DomainDoc.of(doc)
    mini = doc.fresh_devices(("graphics",))
    if mini is not None:
        # Only <graphics> children of <devices> matter here; see _serial_plan.plan_serial.
        root = ET.Element("domain")
        root.append(mini)
        plan = _plan_vnc_tree(root, spec, None)
        if plan.changed:
            plan._full = lambda: _plan_vnc_tree(doc.fresh_root(), spec, doc.text)
            plan._root = None
        return plan
    return _plan_vnc_tree(doc.fresh_root(), spec, doc.text)


def _plan_vnc_tree(root, spec, xml_text):
    """Plan on a document, or (xml_text None) on a fragment holding only <devices>/<graphics>, whose plan
    gets the full document later."""
    devices = devices_of(root, create=spec.state == "present")
    current = _first_vnc(devices)
    before = copies([current])
    changes = []
    if spec.state == "absent":
        vncs = [g for g in devices.findall("graphics") if g.get("type") == "vnc"] if devices is not None else []
        for g in vncs:
            remove(devices, g)
        if vncs:
            changes.append("remove VNC graphics")
        if not changes:
            return Plan(before=before)
        return Plan(changes, before=before, after="", root=root, text=xml_text)
    wanted, notes, password_change = _plan_vnc_attrs(current, spec)
    want = vnc_key(wanted)
    if current is None:
        insert(devices, _graphics_index(devices), wanted, 2)
        password_note = ", password set" if spec.password is not None else ""
        changes.append("add VNC graphics (%s%s)" % (_describe_vnc(want), password_note))
        return Plan(changes, before=before, after=[wanted], root=root, text=xml_text)
    have = vnc_key(current)
    expired = [n for n in notes if n.startswith(_EXPIRED_NOTE[:20])]
    if expired:
        have = have[:4] + (None,)  # said once, by its own line
    unknown_differs = _vnc_rest(current) != _vnc_rest(wanted)
    if have == want and not password_change and not unknown_differs:
        return Plan(before=before)
    if have != want or unknown_differs:
        line = "change VNC graphics from (%s) to (%s)" % (_describe_vnc(have), _describe_vnc(want))
        reason = [n for n in notes if n not in expired]
        changes.append(line + (": " + reason[0] if reason else ""))
    if password_change:
        changes.append("set VNC password" if current.get("passwd") is None else "change VNC password")
    changes.extend(expired)
    replace(devices, current, wanted, 2)
    return Plan(changes, before=before, after=[wanted], root=root, text=xml_text)


def _vnc_rest(g):
    """Attributes beyond the ones vnc_key compares and the password (for example port/autoport spelled
    differently): a difference there is still a change to write."""
    return tuple(sorted((k, v) for k, v in g.attrib.items() if k not in ("passwd", "passwdValidTo")))


def _graphics_index(devices):
    graphics = devices.findall("graphics")
    if graphics:
        return list(devices).index(graphics[-1]) + 1
    return index_before(devices, _GRAPHICS_BEFORE)
