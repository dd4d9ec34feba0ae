# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Pure summary of a domain's consoles: domain XML in, plain data out.

No AnsibleModule and no libvirt here (stdlib only), so every rule is unit tested against XML that
libvirt 9.0 really produced. ``domain_console_info`` reads the XML and calls ``describe_domain``.

Two copies of a domain matter: the persistent config (``XMLDesc(INACTIVE)``) and, for a running domain, the live
definition (``XMLDesc(0)``); both are summarised, and ``restart_pending`` says whether a cold restart would change a
console device. What is runtime-only (and never drift) is decided in one place, ``_domain_runtime``, which the
modules' ``restart_required`` uses as well. The XML is parsed by the host core's parser (``_domain_doc``).

Also here, for console_prompt: which device ``virDomainOpenConsole`` attaches to and why a domain cannot be attached
to (``console_devices``, ``default_console``, ``missing_console_message``).
"""

from __future__ import annotations

from ansible_collections.ttyfleet.serial_console.plugins.module_utils import _domain_doc
from ansible_collections.ttyfleet.serial_console.plugins.module_utils._chardev import default_serial_target
from ansible_collections.ttyfleet.serial_console.plugins.module_utils._domain_doc import PlanError
from ansible_collections.ttyfleet.serial_console.plugins.module_utils._domain_runtime import pending_changes

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


class ConsoleInfoError(ValueError):
    """The XML cannot be summarised (malformed, or not a domain)."""


def state_name(state):
    return STATE_NAMES.get(state, "unknown")


def parse_domain(xml_text, what="domain XML"):
    """Parse domain XML (the host core's one parser, ``_domain_doc``), or raise ConsoleInfoError with the parser's
    line and column."""
    try:
        return _domain_doc.parse_domain(xml_text)
    except _domain_doc.DomainXMLError as e:
        if e.root_tag is not None:
            raise ConsoleInfoError("%s has root element <%s>, expected <domain>" % (what, e.root_tag)) from e
        raise ConsoleInfoError("%s is not well-formed XML: %s" % (what, e.parse_error or e)) from e


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


# ---------------------------------------------------------------------------------------------------------------
# What the domain XML says about the console libvirt streams (console_prompt)


def console_devices(domain_xml):
    """The domain's ``<console>`` and ``<serial>`` devices, in document order, as dicts.

    Each dict has ``kind`` (console|serial), ``type`` (pty, file, tcp...), ``target_type`` (serial, virtio,
    isa-serial...), ``port`` and ``alias`` (None in inactive XML).
    """
    root = _domain_doc.parse_domain(domain_xml)
    found = []
    devices = root.find("devices")
    if devices is None:
        return found
    for dev in devices:
        if dev.tag not in ("console", "serial"):
            continue
        target = dev.find("target")
        alias = dev.find("alias")
        found.append(
            {
                "kind": dev.tag,
                "type": dev.get("type"),
                "target_type": target.get("type") if target is not None else None,
                "port": target.get("port") if target is not None else None,
                "alias": alias.get("name") if alias is not None else None,
            }
        )
    return found


def default_console(devices):
    """The device ``virDomainOpenConsole(dev_name=None)`` attaches to: the first console, else the first serial."""
    for kind in ("console", "serial"):
        for dev in devices:
            if dev["kind"] == kind:
                return dev
    return None


def describe_device(dev):
    what = "%s (%s" % (dev["kind"], dev["type"])
    if dev.get("target_type"):
        what += ", target %s" % dev["target_type"]
    if dev.get("port") is not None:
        what += " port %s" % dev["port"]
    return what + ")"


def fix_hint(platform=(None, None)):
    """How to give a domain of this (arch, machine) a console: the serial target domain_serial would plan there
    (isa-serial on x86, system-serial = PL011 on arm virt), or pci-serial/virtio where it knows no default."""
    try:
        target = "target_type %s" % default_serial_target(platform)
    except PlanError:
        target = "target_type pci-serial or virtio"
    return (
        "add one with ttyfleet.serial_console.domain_serial (e.g. port 0, %s, source_type pty) and "
        "cold-restart the domain (shut down and start, or console_prompt power=cycle, or domain_serial "
        "restart=true): a serial port appears only after a full stop and start, not after a guest reboot" % target
    )


FIX_HINT = fix_hint()


def missing_console_message(name, live_devices, config_devices=None, platform=(None, None)):
    """Why ``name`` cannot be attached to, or None if its (live) console is a pty that libvirt can stream.

    ``live_devices`` come from the XML the console would be opened on (live XML of a running domain, inactive XML
    of a domain about to be started); ``config_devices`` optionally from the inactive XML of a running domain;
    ``platform`` the domain's (arch, machine), for the hint.
    """
    dev = default_console(live_devices)
    if dev is None:
        msg = (
            "domain %s has no serial console: its %sXML has no <serial> or <console> device, which is why "
            "`virsh console %s` stops at 'Escape character is ^]' and then shows nothing; "
            % (name, "running " if config_devices is not None else "", name)
        )
        if config_devices is not None and default_console(config_devices) is not None:
            msg += (
                "its persistent configuration already has %s: it appears after a cold restart (console_prompt "
                "power=cycle, or domain_serial restart=true); a guest reboot is not enough"
                % describe_device(default_console(config_devices))
            )
        else:
            msg += fix_hint(platform)
        return msg
    if dev["type"] != "pty":
        return (
            "the console of domain %s is %s, not a pty: libvirt (and `virsh console`) can only stream pty "
            "consoles; read that %s directly, or switch the device to source_type pty with "
            "ttyfleet.serial_console.domain_serial (a <log file=...> on a pty keeps a copy on disk)"
            % (name, describe_device(dev), dev["type"])
        )
    return None
