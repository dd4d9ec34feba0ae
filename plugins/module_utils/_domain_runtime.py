# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The running domain against its persistent definition: the one rule of what is runtime-only, and what follows.

Pure (stdlib ``xml.etree`` only). Two copies of a domain matter: the persistent config (``XMLDesc(INACTIVE)``) and,
for a running domain, the live definition (``XMLDesc(0)``). The live copy carries runtime-only data that must never
count as drift: ``<alias>``, the pty path (``<source path='/dev/pts/N'>`` and ``tty=``), ports libvirt picked for
``autoport``/``websocket='-1'``, listen addresses and sockets filled in from qemu.conf, ``tls=`` filled in from
``chardev_tls``, virtio console ports (renumbered at start). ``same_at_runtime`` is that rule and ``keyed`` pairs the
devices of the two copies; everything here is made of them:

- ``pending_changes``: the audit's ``restart_pending`` (``_console_info.describe_domain``, every console device);
- ``serial_restart_required`` / ``vnc_live_state``: the modules' ``restart_required`` for the devices they manage.

So the modules and the audit cannot disagree about a device: ``test_domain_runtime.py`` pins that on XML libvirt
really produced. Also here: what can be done to a running domain without a restart (``live_attach_blocker``,
``twin_follows_hotplug``) and the device texts for libvirt's live calls.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from ansible_collections.ttyfleet.serial_console.plugins.module_utils._chardev import (
    assign_ports,
    find_by_port,
    managed_serial,
    serial_target_type,
)
from ansible_collections.ttyfleet.serial_console.plugins.module_utils._domain_doc import DomainDoc, element_text

CHARDEV_KINDS = ("serial", "console")
COMPARED_KINDS = ("serial", "console", "graphics")
PASSWORD_ATTRS = ("passwd", "passwdValidTo")  # compared on their own: a password can be changed live


# --------------------------------------------------------------------------------------------- the rule

class _Node:
    """A plain copy of an element (tag, attributes, stripped text, children without comments and PIs) to strip
    runtime-only data from: far cheaper than ``copy.deepcopy`` of an ElementTree element."""

    __slots__ = ("tag", "attrib", "text", "children")

    def __init__(self, elem):
        self.tag = elem.tag
        self.attrib = dict(elem.attrib)
        self.text = (elem.text or "").strip()
        self.children = [_Node(c) for c in elem if isinstance(c.tag, str)]  # comments and PIs are no config

    def get(self, key, default=None):
        return self.attrib.get(key, default)

    def find(self, tag):
        return next((c for c in self.children if c.tag == tag), None)

    def findall(self, tag):
        return [c for c in self.children if c.tag == tag]

    def remove(self, child):
        self.children.remove(child)

    def __len__(self):
        return len(self.children)

    def canon(self):
        return (self.tag, tuple(sorted(self.attrib.items())), self.text, tuple(c.canon() for c in self.children))


def same_at_runtime(live, config, kind, password=True):
    """Whether a live device and its persistent copy are the same device, runtime-only data aside.

    ``kind`` is ``serial``, ``console`` or ``graphics``. This is the one rule of what is runtime-only (see the
    module docstring). ``password=False`` leaves a graphics password and its expiry out of the comparison.
    """
    live_dev, config_dev = _strip_runtime(live, config, kind)
    if not password:
        for elem in (live_dev, config_dev):
            for attr in PASSWORD_ATTRS:
                elem.attrib.pop(attr, None)
    return live_dev.canon() == config_dev.canon()


def _strip_runtime(live, config, kind):
    """Copies of a live/config device pair with runtime-only data removed from both."""
    live = _Node(live)
    config = _Node(config)
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
                    target.attrib.pop("port", None)  # renumbered by libvirt at start, see keyed
    if kind == "graphics":
        for elem in (live, config):
            elem.attrib.pop("listen", None)  # mirrors the first <listen> child, compared below
            elem.attrib.pop("socket", None)
            elem.attrib.pop("websocketGenerated", None)  # libvirt's status XML says which port it picked
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


def keyed(root, kind):
    """Devices of one kind by a stable identity: serial target port, console target, graphics type.

    Virtio console target ports are not stable (libvirt renumbers them when the domain starts: the live copy
    counts from 0 while the persistent copy is rewritten to count from 1), so those are keyed by their order.
    """
    keyed_devices = {}
    ordinal = {}
    devices = root.find("devices")
    for elem in devices.findall(kind) if devices is not None else ():
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
        while unique in keyed_devices:  # invalid for libvirt, but never lose a device to a dict collision
            n += 1
            unique = "%s (%d)" % (key, n)
        keyed_devices[unique] = elem
    return keyed_devices


def pending(config_root, live_root, kinds=COMPARED_KINDS, wanted=None):
    """[(key, reason)] for every device of ``kinds`` (whose key ``wanted(kind, key)`` accepts, if given) that a
    cold restart would change: only in the config, only in the running domain, or different at runtime."""
    out = []
    for kind in kinds:
        config, live = keyed(config_root, kind), keyed(live_root, kind)
        for key in config:
            if key not in live and (wanted is None or wanted(kind, key)):
                out.append((key, "in the persistent config only"))
        for key in live:
            if wanted is not None and not wanted(kind, key):
                continue
            if key not in config:
                out.append((key, "in the running domain only"))
            elif not same_at_runtime(live[key], config[key], kind):
                out.append((key, "differs between the running domain and the persistent config"))
    return out


def pending_changes(config_root, live_root):
    """Console-related differences between the persistent config and the running domain, for humans.

    An empty list means a restart would not change any serial, console or graphics device.
    """
    return ["%s: %s" % (key, reason) for key, reason in pending(config_root, live_root)]


# --------------------------------------------------------------------------------------------- the modules' view

def _first_serial_port(doc):
    devices = doc.devices
    pairs = assign_ports(devices.findall("serial")) if devices is not None else []
    return pairs[0][0] if pairs else None


def serial_restart_required(live, persistent, spec):
    """Whether the running domain (``live``) differs from its definition (``persistent``, DomainDoc or text) in
    the devices a serial spec manages: the serial on its port and, where that serial is the first one (in either
    copy), the console twin libvirt derives from it; or the virtio consoles (which libvirt renumbers at start, so
    they are compared as a list, as the audit does). A pending change of another port's serial or of its console is
    not this spec's: restart=true must not power-cycle a domain for it (seen: all_domains with port 3 cycled a
    domain whose port 0 had just been added)."""
    live, persistent = DomainDoc.of(live), DomainDoc.of(persistent)
    if spec.virtio:
        def wanted(kind, key):
            return kind == "console" and key.startswith("virtio console #")
    else:
        serial = "serial port %d" % spec.port
        twin = spec.port in (_first_serial_port(live), _first_serial_port(persistent))

        def wanted(kind, key):
            return key == serial or (twin and kind == "console" and key.startswith("console on serial port "))
    return bool(pending(persistent.root, live.root, CHARDEV_KINDS, wanted))


def serial_pair(live, persistent, spec):
    """(running, defined): the device a serial spec manages in the live copy and in the definition, or None for
    each copy that has none. A virtio console is paired by its order among the virtio consoles, as ``keyed`` pairs
    it (libvirt renumbers their ports at start); a serial by its port."""
    live, persistent = DomainDoc.of(live), DomainDoc.of(persistent)
    defined = managed_serial(persistent.devices, spec)[0] if persistent.devices is not None else None
    if spec.virtio and defined is not None:
        key = next(k for k, e in keyed(persistent.root, "console").items() if e is defined)
        return keyed(live.root, "console").get(key), defined
    return (managed_serial(live.devices, spec)[0] if live.devices is not None else None), defined


def vnc_live_state(live, persistent):
    """The running domain's VNC device against its definition (DomainDoc or text): (exists/settings differ,
    password or its expiry differs). The password is compared apart because it can be applied live."""
    live_vnc = DomainDoc.of(live).first("graphics", type="vnc")
    persistent_vnc = DomainDoc.of(persistent).first("graphics", type="vnc")
    if live_vnc is None or persistent_vnc is None:
        return (live_vnc is not None) != (persistent_vnc is not None), False
    settings_differ = not same_at_runtime(live_vnc, persistent_vnc, "graphics", password=False)
    password_differs = any(live_vnc.get(a) != persistent_vnc.get(a) for a in PASSWORD_ATTRS)
    return settings_differ, password_differs


# --------------------------------------------------------------------------------------------- live changes

def has_acpi(doc):
    return DomainDoc.of(doc).root.find("features/acpi") is not None


def has_virtio_serial_controller(doc):
    return DomainDoc.of(doc).first("controller", type="virtio-serial") is not None


def live_attach_blocker(live, spec, persistent=None):
    """Why the device of ``spec`` cannot be hot-plugged into this running domain, or None if it can be tried.
    An isa-serial or a system-serial (pl011) never can (``Bus 'isa.0' does not support hotplugging``); a
    pci-serial needs ACPI; a virtio console needs a virtio-serial controller in the running domain. The serial's
    type is read from ``persistent`` (the definition just written) when the spec leaves it out."""
    if spec.state != "present":
        return "libvirt does not hot-unplug console devices reliably; the device goes away at the next restart"
    live = DomainDoc.of(live)
    target_type = spec.target_type
    if target_type is None and persistent is not None:
        devices = DomainDoc.of(persistent).devices
        serial = find_by_port(assign_ports(devices.findall("serial")), spec.port, "serial") \
            if devices is not None else None
        target_type = serial_target_type(serial) if serial is not None else None
    if target_type in (None, "isa-serial", "system-serial"):
        return "an %s port cannot be hot-plugged" % (target_type or "isa-serial")
    if target_type == "pci-serial" and not has_acpi(live):
        return "a pci-serial port can only be hot-plugged into a domain with ACPI"
    if spec.virtio and not has_virtio_serial_controller(live):
        return "the running domain has no virtio-serial controller for a virtio console"
    return None


def twin_follows_hotplug(live, spec):
    """Whether libvirt would give a hot-plugged serial its console twin: only for the very first chardev."""
    if spec.virtio:
        return True
    devices = DomainDoc.of(live).devices
    return devices is None or (not devices.findall("serial") and not devices.findall("console"))


def serial_device_xml(doc, spec):
    """The managed serial (or virtio console) element as text, for attachDeviceFlags; None if absent."""
    devices = DomainDoc.of(doc).devices
    device = managed_serial(devices, spec)[0] if devices is not None else None
    return element_text(device, drop=("alias", "address")) if device is not None else None


def vnc_auth(doc):
    """(passwd, passwdValidTo) of the first VNC device (from XML read with the SECURE flag); None for each that
    is not there."""
    g = DomainDoc.of(doc).first("graphics", type="vnc")
    return (g.get("passwd"), g.get("passwdValidTo")) if g is not None else (None, None)


def vnc_device_xml(doc):
    """The first VNC <graphics> element of a domain as text (for updateDeviceFlags), or None."""
    g = DomainDoc.of(doc).first("graphics", type="vnc")
    return element_text(g) if g is not None else None


def with_vnc_password(device_xml, password, valid_to=None):
    """The live device with the persistent password (and its passwdValidTo, or none) for updateDeviceFlags."""
    g = ET.fromstring(device_xml)
    g.set("passwd", password)
    if valid_to:
        g.set("passwdValidTo", valid_to)
    else:
        g.attrib.pop("passwdValidTo", None)
    return ET.tostring(g, encoding="unicode")
