# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Serial and console devices as libvirt keeps them: the chardev model shared by the serial planner
(``_serial_plan``) and the runtime model (``_domain_runtime``).

Pure (stdlib ``xml.etree`` only). Which device a spec means (``managed_serial``: the serial on a target port, or
the virtio console, and the first serial's console twin), how libvirt numbers ports that have none, what libvirt
keeps of a device in the persistent definition with its defaults filled in (``serial_key``; live against persistent
is a different question, answered by ``_domain_runtime.same_at_runtime``), and the serial port a platform has.

libvirt mirrors the first ``<serial>`` (document order) as ``<console><target type='serial'/></console>``, always as
the first console, and re-creates either one from the other when one is missing (``twin_of``).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from ansible_collections.ttyfleet.serial_console.plugins.module_utils._domain_doc import PlanError
from ansible_collections.ttyfleet.serial_console.plugins.module_utils._domain_spec import DEFAULT_MODEL

_X86 = ("x86_64", "i686")
_ARM = ("aarch64", "armv7l", "armv6l")


def _target(elem):
    return elem.find("target")


def chardev_key(elem):
    """What libvirt keeps of a <serial>/<console> chardev in a definition, with its defaults filled in (mode
    connect, protocol raw, append off): type, source, protocol, log. A pty's source is not part of it. The
    planners compare a definition with what it must become by this key; the running domain against its definition
    is ``_domain_runtime.same_at_runtime``."""
    ctype = elem.get("type", "pty")
    src = elem.find("source")
    source = ()
    if src is not None and ctype != "pty":
        mode = src.get("mode")
        if ctype in ("tcp", "unix") and mode is None:
            mode = "connect"
        source = (mode, src.get("host"), src.get("service"), src.get("path"), src.get("tls"))
    protocol = None
    if ctype == "tcp":
        proto = elem.find("protocol")
        protocol = proto.get("type", "raw") if proto is not None else "raw"
    log = elem.find("log")
    log_key = None
    if log is not None:
        log_key = (log.get("file"), log.get("append", "off"))
    return (ctype, source, protocol, log_key)


def serial_target_type(elem):
    t = _target(elem)
    ttype = t.get("type") if t is not None else None
    return ttype or "isa-serial"


def serial_key(elem):
    ttype = serial_target_type(elem)
    t = _target(elem)
    model = t.find("model") if t is not None else None
    model_name = model.get("name") if model is not None else None
    return (chardev_key(elem), ttype, model_name or DEFAULT_MODEL.get(ttype))


def port_of(elem):
    t = _target(elem)
    if t is None or t.get("port") is None:
        return None
    try:
        return int(t.get("port"))
    except ValueError:
        raise PlanError("invalid target port %r in existing XML" % t.get("port")) from None


def assign_ports(elems):
    """libvirt's rule for devices without an explicit target port: highest explicit port + 1, in order."""
    explicit = [p for p in (port_of(e) for e in elems) if p is not None]
    nxt = max(explicit, default=-1)
    out = []
    for e in elems:
        p = port_of(e)
        if p is None:
            nxt += 1
            p = nxt
        out.append((p, e))
    return out


def console_is_serial(elem):
    t = _target(elem)
    ttype = t.get("type") if t is not None else None
    return ttype in (None, "serial")


def virtio_consoles(devices):
    return [c for c in devices.findall("console") if (_target(c) is not None and _target(c).get("type") == "virtio")]


def find_by_port(pairs, port, what):
    found = [e for p, e in pairs if p == port]
    if len(found) > 1:
        raise PlanError("the domain already has %d %s devices on port %d; fix that by hand first"
                        % (len(found), what, port))
    return found[0] if found else None


def _arm_virt(platform):
    arch, machine = platform
    return arch in _ARM and (machine or "").startswith("virt")


def default_serial_target(platform):
    """The serial port a guest of this platform has by default: isa-serial (ttyS0) on x86 pc/q35 (and where the
    XML names no arch: libvirt then uses the host's), system-serial pl011 (ttyAMA0) on arm virt."""
    arch, machine = platform
    if arch is None or arch in _X86:
        return "isa-serial"
    if _arm_virt(platform):
        return "system-serial"
    raise PlanError("domain_serial knows no default serial port for arch %s, machine %s; set target_type "
                    "(pci-serial or virtio work on most machines)" % (arch, machine))


def serial_target_problem(platform, target_type):
    """Why libvirt would refuse a serial of target_type on this platform (decided before any define), or None."""
    arch, machine = platform
    if target_type == "isa-serial" and not (arch is None or arch in _X86):
        return ("target_type isa-serial needs an ISA bus, which a %s %s machine has not; use system-serial "
                "(pl011, ttyAMA0 in the guest), pci-serial or virtio" % (arch, machine))
    if target_type == "system-serial" and not _arm_virt(platform):
        return ("target_type system-serial (pl011) exists only on arm virt machines, not on %s %s; use "
                "isa-serial (ttyS0), pci-serial or virtio" % (arch or "this", machine or "machine"))
    return None


def twin_of(serial):
    """The <console> libvirt derives from the first serial: same source, target type serial, same port."""
    twin = ET.Element("console", {"type": serial.get("type", "pty")})
    for child in serial:
        if child.tag in ("source", "protocol", "log"):
            if child.tag == "source" and serial.get("type", "pty") == "pty":
                continue
            twin.append(ET.fromstring(ET.tostring(child, encoding="unicode")))
    port = port_of(serial)
    ET.SubElement(twin, "target", {"type": "serial", "port": str(port if port is not None else 0)})
    return twin


def twin_key(console):
    t = _target(console)
    port = t.get("port") if t is not None else None
    return (chardev_key(console), port)


def describe_chardev(elem):
    """The chardev of a <serial>/<console> in words, for the change list."""
    ctype = elem.get("type", "pty")
    src = elem.find("source")
    attr = src.get if src is not None else (lambda _k: None)
    if ctype == "tcp":
        proto = elem.find("protocol")
        s = "tcp %s %s:%s (%s)" % (attr("mode") or "connect", attr("host"), attr("service"),
                                   proto.get("type", "raw") if proto is not None else "raw")
        if attr("tls") == "yes":
            s += ", tls"
    elif ctype == "unix":
        s = "unix %s %s" % (attr("mode") or "connect", attr("path"))
    elif ctype == "file":
        s = "file %s" % attr("path")
    else:
        s = ctype
    log = elem.find("log")
    if log is not None:
        s += ", log %s (append %s)" % (log.get("file"), log.get("append", "off"))
    return s


def managed_serial(devices, spec):
    """The devices a serial spec is about: [the serial on spec.port, the first console if it is a serial's twin],
    or [the virtio console on spec.port]; None where there is none. PlanError for two devices on one port."""
    if devices is None:
        return []
    if spec.virtio:
        return [find_by_port(assign_ports(virtio_consoles(devices)), spec.port, "virtio console")]
    serial = find_by_port(assign_ports(devices.findall("serial")), spec.port, "serial")
    consoles = devices.findall("console")
    twin = consoles[0] if consoles and console_is_serial(consoles[0]) else None
    return [serial, twin]
