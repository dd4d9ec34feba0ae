# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Pure summary of a domain's consoles: domain XML in, plain data out.

No AnsibleModule and no libvirt here (stdlib ``xml.etree`` only), so every rule is unit tested against XML that
libvirt 9.0 really produced. ``domain_console_info`` reads the XML and calls ``describe_domain``.

Two copies of a domain matter: the persistent config (``XMLDesc(INACTIVE)``) and, for a running domain, the live
definition (``XMLDesc(0)``). The live copy carries runtime-only data that must never count as drift: ``<alias>``,
the pty path (``<source path='/dev/pts/N'>`` and ``tty=``), ports libvirt picked for ``autoport``/``websocket='-1'``,
listen addresses and sockets filled in from qemu.conf, ``tls=`` filled in from ``chardev_tls``.
"""

from __future__ import annotations

import copy
import xml.etree.ElementTree as ET

# virDomainState, as numbers so this module stays free of libvirt.
STATE_NAMES = {
    0: "nostate",
    1: "running",
    2: "blocked",
    3: "paused",
    4: "shutdown",
    5: "shutoff",
    6: "crashed",
    7: "pmsuspended",
}

CHARDEV_KINDS = ("serial", "console")
COMPARED_KINDS = ("serial", "console", "graphics")


class ConsoleInfoError(ValueError):
    """The XML cannot be summarised (malformed, or not a domain)."""


def state_name(state):
    return STATE_NAMES.get(state, "unknown")


def parse_domain(xml_text, what="domain XML"):
    """Parse domain XML, or raise ConsoleInfoError with the parser's line and column."""
    try:
        root = ET.fromstring(xml_text)
    except ET.ParseError as e:
        raise ConsoleInfoError("%s is not well-formed XML: %s" % (what, e)) from e
    if root.tag != "domain":
        raise ConsoleInfoError("%s has root element <%s>, expected <domain>" % (what, root.tag))
    return root


def _int_or_none(value):
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


def _bool_attr(value):
    if value is None:
        return None
    return value == "on" or value == "yes"


def _devices(root, kind):
    devices = root.find("devices")
    return [] if devices is None else devices.findall(kind)


def _chardev(elem, live):
    """One <serial> or <console> as a flat dict; the keys mirror domain_serial's options."""
    source = elem.find("source")
    target = elem.find("target")
    model = target.find("model") if target is not None else None
    log = elem.find("log")
    protocol = elem.find("protocol")
    chardev_type = elem.get("type")
    src = source.attrib if source is not None else {}
    pty = None
    if live and chardev_type == "pty":
        pty = src.get("path") or elem.get("tty")
    service = src.get("service")
    return {
        "type": chardev_type,
        "target_type": target.get("type") if target is not None else None,
        "target_port": _int_or_none(target.get("port")) if target is not None else None,
        "target_model": model.get("name") if model is not None else None,
        # a pty's source path is the runtime pty: reported as `pty`, never as configuration
        "source_path": None if chardev_type == "pty" else src.get("path"),
        "source_host": src.get("host"),
        "source_port": _int_or_none(service) if service is not None else None,
        "source_mode": src.get("mode"),
        "protocol": protocol.get("type") if protocol is not None else None,
        "log_file": log.get("file") if log is not None else None,
        "log_append": _bool_attr(log.get("append")) if log is not None else None,
        "pty": pty,
    }


def _listen(g):
    """The first listen of a <graphics>: (type, address, network, socket); the listen= attribute mirrors it."""
    listen = g.find("listen")
    listen_type = listen.get("type") if listen is not None else ("address" if g.get("listen") else None)
    address = (listen.get("address") if listen is not None else None) or g.get("listen")
    socket = (listen.get("socket") if listen is not None else None) or g.get("socket")
    return listen_type, address, listen.get("network") if listen is not None else None, socket


def _graphics(root, gtype, secure):
    graphics = [g for g in _devices(root, "graphics") if g.get("type") == gtype]
    if not graphics:
        return None
    g = graphics[0]
    listen_type, address, network, socket = _listen(g)
    info = {
        "listen_type": listen_type,
        "listen": address,
        "listen_network": network,
        "socket": socket,
        "port": _int_or_none(g.get("port")),
        "autoport": g.get("autoport") == "yes",
        "keymap": g.get("keymap"),
        # without VIR_DOMAIN_XML_SECURE libvirt omits passwd whether or not one is set: unknown, not False
        "password_set": ("passwd" in g.attrib) if secure else None,
    }
    if gtype == "vnc":
        info["websocket"] = _int_or_none(g.get("websocket"))
    else:
        info["tls_port"] = _int_or_none(g.get("tlsPort"))
    return info


def _vnc(root, secure):
    return _graphics(root, "vnc", secure)


def _spice(root, secure):
    return _graphics(root, "spice", secure)


def devices_of(root, secure=True, live=False):
    """The console devices of one copy of a domain (persistent or live): serials, consoles, vnc, spice, log_file."""
    serials = [_chardev(e, live) for e in _devices(root, "serial")]
    consoles = [_chardev(e, live) for e in _devices(root, "console")]
    # `virsh console NAME` opens the first console (libvirt mirrors serial 0 there); fall back to the first serial.
    primary = consoles[0] if consoles else (serials[0] if serials else None)
    return {
        "serials": serials,
        "consoles": consoles,
        "pty": primary["pty"] if primary else None,
        "log_file": primary["log_file"] if primary else None,
        "vnc": _vnc(root, secure),
        "spice": _spice(root, secure),
    }


def vnc_display(live_root):
    """What ``virsh vncdisplay`` prints for a running domain, or None where virsh reports an error.

    virsh 9.0 takes the first VNC ``@port`` and ``@listen`` of the live XML: no port (socket or none listen) is an
    error; a missing listen or 0.0.0.0 prints ``:N``; anything else prints ``LISTEN:N`` (IPv6 without brackets,
    e.g. ``::1:0``), with N = port - 5900.
    """
    graphics = [g for g in _devices(live_root, "graphics") if g.get("type") == "vnc"]
    if not graphics:
        return None
    port = _int_or_none(graphics[0].get("port"))
    if port is None or port <= 0:
        return None
    listen = graphics[0].get("listen")
    if not listen or listen == "0.0.0.0":
        return ":%d" % (port - 5900)
    return "%s:%d" % (listen, port - 5900)


# --- restart_pending: the running domain against its persistent config --------------------------------------------


def _canon(elem):
    return (
        elem.tag,
        tuple(sorted(elem.attrib.items())),
        (elem.text or "").strip(),
        tuple(_canon(child) for child in elem),
    )


def same_at_runtime(live, config, kind):
    """Whether a live device and its persistent copy are the same device, runtime-only data aside.

    ``kind`` is ``serial``, ``console`` or ``graphics``. This is the one rule of what is runtime-only (see the
    module docstring); ``restart_pending`` is made of it.
    """
    live_dev, config_dev = _strip_runtime(live, config, kind)
    return _canon(live_dev) == _canon(config_dev)


def _strip_runtime(live, config, kind):
    """Copies of a live/config device pair with runtime-only data removed from both."""
    live = copy.deepcopy(live)
    config = copy.deepcopy(config)
    for elem in (live, config):
        for alias in elem.findall("alias"):
            elem.remove(alias)
        elem.attrib.pop("tty", None)
    if kind in CHARDEV_KINDS:
        live_src, config_src = live.find("source"), config.find("source")
        if live_src is not None and config_src is not None and "tls" not in config_src.attrib:
            live_src.attrib.pop("tls", None)  # filled in from qemu.conf chardev_tls
        for elem in (live, config):
            src = elem.find("source")
            if elem.get("type") == "pty" and src is not None:
                src.attrib.pop("path", None)  # the pty libvirt allocated at start
                if not src.attrib and len(src) == 0:
                    elem.remove(src)
        if kind == "console":
            for elem in (live, config):
                target = elem.find("target")
                if target is not None and target.get("type") not in (None, "serial"):
                    target.attrib.pop("port", None)  # renumbered by libvirt at start, see _keyed
    if kind == "graphics":
        for elem in (live, config):
            elem.attrib.pop("listen", None)  # mirrors the first <listen> child, compared below
            elem.attrib.pop("socket", None)
        if config.get("autoport") == "yes":
            for elem in (live, config):
                elem.attrib.pop("port", None)
                elem.attrib.pop("tlsPort", None)
        if config.get("websocket") == "-1":
            live.attrib.pop("websocket", None)
            config.attrib.pop("websocket", None)
        for live_listen, config_listen in zip(live.findall("listen"), config.findall("listen")):
            for attr in ("address", "socket"):
                if attr not in config_listen.attrib:
                    live_listen.attrib.pop(attr, None)
    return live, config


def _keyed(root, kind):
    """Devices of one kind by a stable identity: serial target port, console target, graphics type.

    Virtio console target ports are not stable (libvirt renumbers them when the domain starts: the live copy
    counts from 0 while the persistent copy is rewritten to count from 1), so those are keyed by their order.
    """
    keyed = {}
    ordinal = {}
    for elem in _devices(root, kind):
        target = elem.find("target")
        target_type = target.get("type") if target is not None else None
        target_port = target.get("port") if target is not None else None
        if kind == "graphics":
            key = "graphics %s" % elem.get("type")
        elif kind == "serial":
            key = "serial port %s" % target_port
        elif target_type in (None, "serial"):
            key = "console on serial port %s" % target_port
        else:
            ordinal[target_type] = ordinal.get(target_type, 0) + 1
            key = "%s console #%d" % (target_type, ordinal[target_type])
        unique, n = key, 1
        while unique in keyed:  # invalid for libvirt, but never lose a device to a dict collision
            n += 1
            unique = "%s (%d)" % (key, n)
        keyed[unique] = elem
    return keyed


def pending_changes(config_root, live_root):
    """Console-related differences between the persistent config and the running domain, for humans.

    An empty list means a restart would not change any serial, console or graphics device.
    """
    changes = []
    for kind in COMPARED_KINDS:
        config, live = _keyed(config_root, kind), _keyed(live_root, kind)
        for key in config:
            if key not in live:
                changes.append("%s: in the persistent config only" % key)
        for key in live:
            if key not in config:
                changes.append("%s: in the running domain only" % key)
                continue
            if not same_at_runtime(live[key], config[key], kind):
                changes.append("%s: differs between the running domain and the persistent config" % key)
    return changes


# --- the per-domain summary ------------------------------------------------------------------------------------------


def describe_domain(config_xml, live_xml=None, secure=True):
    """Summarise one domain.

    ``config_xml`` is the persistent config (or, for a transient domain, None); ``live_xml`` is the running
    definition, or None when the domain is not running. ``secure`` says whether the XML was read with
    VIR_DOMAIN_XML_SECURE, which decides whether ``password_set`` is known. Never returns the password.
    """
    if config_xml is None and live_xml is None:
        raise ConsoleInfoError("describe_domain needs the persistent or the live XML")
    config_root = parse_domain(config_xml, "persistent domain XML") if config_xml is not None else None
    live_root = parse_domain(live_xml, "live domain XML") if live_xml is not None else None
    shown = live_root if live_root is not None else config_root
    is_live = live_root is not None
    changes = pending_changes(config_root, live_root) if (config_root is not None and is_live) else []
    name = shown.find("name")
    uuid = shown.find("uuid")
    info = {
        "name": name.text if name is not None else None,
        "uuid": uuid.text if uuid is not None else None,
    }
    info.update(devices_of(shown, secure, live=is_live))
    info.update(
        vnc_display=vnc_display(live_root) if is_live else None,
        restart_pending=bool(changes),
        pending_changes=changes,
        # what applies at the next start, so that nobody has to read it back out of a diff
        config=devices_of(config_root, secure) if config_root is not None else None,
    )
    return info
