# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""domain_serial's planner: a domain's persistent XML and a ``SerialSpec`` in, a ``Plan`` out; never touches anything.

Pure (stdlib ``xml.etree`` only). What "the same" means: devices are compared by what libvirt keeps in its
canonical inactive XML (``_chardev.serial_key``), not by text, so defaults libvirt adds by itself never count as a
difference. Only the managed devices are touched: the serial (or virtio console) on the spec's port and the first
serial's console twin, which ``_sync_twin`` keeps the way libvirt would, so that a plan predicts libvirt's canonical
XML and a second run changes nothing. An edit is a copy of the existing device with the given options applied
(``_wanted_chardev``): what the module does not manage is kept.
"""

from __future__ import annotations

import copy
import xml.etree.ElementTree as ET

from ansible_collections.ttyfleet.serial_console.plugins.module_utils import _exposure as exposure
from ansible_collections.ttyfleet.serial_console.plugins.module_utils._chardev import (
    assign_ports,
    chardev_key,
    console_is_serial,
    default_serial_target,
    describe_chardev,
    find_by_port,
    managed_serial,
    serial_key,
    serial_target_problem,
    serial_target_type,
    twin_key,
    twin_of,
    virtio_consoles,
)
from ansible_collections.ttyfleet.serial_console.plugins.module_utils._domain_doc import (
    DomainDoc,
    Plan,
    PlanError,
    child_index,
    copies,
    devices_of,
    index_before,
    insert,
    platform_of,
    remove,
    replace,
)
from ansible_collections.ttyfleet.serial_console.plugins.module_utils._domain_spec import DEFAULT_MODEL

# Where a new device goes when the domain has none of its kind: before the first of these (libvirt sorts
# devices by kind when it formats, so this only keeps our own output readable).
_SERIAL_BEFORE = ("parallel", "console", "channel", "input", "tpm", "graphics", "sound", "audio", "video",
                  "hostdev", "redirdev", "smartcard", "watchdog", "memballoon", "rng", "panic")


def _wanted_chardev(current, spec, tag, platform=None):
    """The <serial> or <console> as it must be after this task: a copy of the current device (everything the
    module does not manage is kept: tls, reconnect, seclabel, unknown attributes and children) with what the
    caller gave applied; defaults only where the device has nothing yet."""
    if current is None:
        elem = ET.Element(tag, {"type": spec.source_type or "pty"})
    else:
        elem = copy.deepcopy(current)
        elem.tail = None
    old_type = elem.get("type", "pty")
    new_type = spec.source_type or old_type
    src = elem.find("source")
    if new_type != old_type:
        # A new kind of source: its attributes and the protocol belong to the old kind; children such as a
        # <seclabel> are carried over (libvirt's VALIDATE judges them), <reconnect> is checked below.
        children = list(src) if src is not None else []
        for old in elem.findall("source") + elem.findall("protocol"):
            elem.remove(old)
        elem.set("type", new_type)
        src = None
        if new_type != "pty" or children:
            src = ET.Element("source")
            src.extend(children)
            elem.insert(0, src)
    if spec.source_type is not None and new_type in ("file", "unix", "tcp"):
        if src is None:
            src = ET.Element("source")
            elem.insert(0, src)
        if new_type in ("unix", "tcp"):
            src.set("mode", spec.source_mode or src.get("mode") or "bind")
        if new_type in ("file", "unix"):
            src.set("path", spec.source_path)
        if new_type == "tcp":
            src.set("host", spec.source_host)
            src.set("service", str(spec.source_port))
            if spec.source_tls is True:
                src.set("tls", "yes")
            elif spec.source_tls is False:
                src.attrib.pop("tls", None)
            proto = elem.find("protocol")
            if proto is None:
                proto = ET.Element("protocol", {"type": spec.protocol or "raw"})
                elem.insert(child_index(elem, ("source",)), proto)
            elif spec.protocol:
                proto.set("type", spec.protocol)
    if src is not None and src.find("reconnect") is not None and (src.get("mode") or "connect") != "connect":
        raise PlanError("the existing <reconnect> of %s only works with source_mode connect; keep connect or "
                        "remove <reconnect> by hand first" % spec.label)
    log = elem.find("log")
    if spec.log_file == "":
        if log is not None:
            elem.remove(log)
    elif spec.log_file:
        if log is None:
            log = ET.Element("log", {"file": spec.log_file, "append": "on" if spec.log_append else "off"})
            elem.insert(child_index(elem, ("source", "protocol")), log)
        log.set("file", spec.log_file)
    if spec.log_append is not None and spec.log_file != "":
        if log is None:
            raise PlanError("log_append needs log_file: %s has no log" % spec.label)
        log.set("append", "on" if spec.log_append else "off")
    if tag == "console":
        if current is None:
            elem.append(ET.Element("target", {"type": "virtio", "port": str(spec.port)}))
        return elem
    have_type = serial_target_type(current) if current is not None else None
    want_type = spec.target_type or have_type or default_serial_target(platform)
    if current is None or want_type != have_type:
        problem = serial_target_problem(platform, want_type)
        if problem:
            raise PlanError("%s: %s" % (spec.label, problem))
        for old in elem.findall("target"):
            elem.remove(old)
        for old in elem.findall("address"):
            elem.remove(old)  # another bus: libvirt assigns a new address
        target = ET.Element("target", {"type": want_type, "port": str(spec.port)})
        ET.SubElement(target, "model", {"name": spec.model or DEFAULT_MODEL[want_type]})
        elem.insert(child_index(elem, ("source", "protocol", "log")), target)
    elif spec.model is not None:
        target = elem.find("target")
        model = target.find("model")
        if model is None:
            model = ET.SubElement(target, "model")
        model.set("name", spec.model)
    return elem


def _check_source_exposure(elem, spec):
    """A tcp source that is not loopback needs allow_remote_source and TLS (see domain_serial's docs)."""
    if elem.get("type") != "tcp":
        return
    src = elem.find("source")
    host = src.get("host") if src is not None else None
    tls = src is not None and src.get("tls") == "yes"
    problem = exposure.exposure_problem(host if host is not None else "", "source_host", spec.allow_remote_source,
                                        "allow_remote_source", tls, "source_tls", "the serial console")
    if problem:
        raise PlanError("%s: %s" % (spec.label, problem))


def _sync_twin(devices, depth):
    """Make consoles[0] mirror serials[0] the way libvirt would. Returns a change text or None."""
    serials = devices.findall("serial")
    consoles = devices.findall("console")
    first = consoles[0] if consoles else None
    if serials:
        twin = twin_of(serials[0])
        if first is not None and console_is_serial(first):
            have_source, have_port = twin_key(first)
            if have_source == chardev_key(twin) and have_port in (None, twin.find("target").get("port")):
                return None
            replace(devices, first, twin, depth)
            return "update console (twin of the first serial, port %s)" % twin.find("target").get("port")
        children = list(devices)
        index = children.index(first) if first is not None else children.index(serials[-1]) + 1
        insert(devices, index, twin, depth)
        return "add console bound to serial port %s" % twin.find("target").get("port")
    if first is not None and console_is_serial(first):
        remove(devices, first)
        return "remove console bound to the removed serial"
    return None


def _plan_serial_devices(devices, spec, changes, platform):
    if spec.virtio:
        _plan_virtio(devices, spec, changes)
    else:
        _plan_serial_device(devices, spec, changes, platform)


def plan_serial(doc, spec):
    """Plan domain_serial on one domain's inactive XML (a DomainDoc or text). Returns a Plan."""
    doc = DomainDoc.of(doc)
    mini = doc.fresh_devices(("serial", "console"))
    if mini is not None:
        # The planning rules only look at <serial> and <console> children of <devices> (and the platform in
        # <os>), so running them on a document of just those decides "nothing to do" exactly as the full
        # document would, far cheaper.
        before = copies(managed_serial(mini, spec))
        changes = []
        _plan_serial_devices(mini, spec, changes, doc.platform)
        if not changes:
            return Plan(elems=before)
        # The change list and the device diff are known; the whole document is parsed only when its new text
        # is asked for (define), never for a drift check in check mode.
        return Plan(changes, before=before, after=managed_serial(mini, spec),
                    full=lambda: _plan_serial_full(doc, spec))
    return _plan_serial_full(doc, spec)


def _plan_serial_full(doc, spec):
    doc = DomainDoc.of(doc)
    root = doc.fresh_root()
    before = copies(managed_serial(root.find("devices"), spec))
    devices = devices_of(root, create=spec.state == "present")
    changes = []
    if devices is not None:
        _plan_serial_devices(devices, spec, changes, platform_of(root))
    if not changes:
        return Plan(before=before)
    return Plan(changes, before=before, after=managed_serial(devices, spec), root=root, text=doc.text)


def _plan_serial_device(devices, spec, changes, platform):
    pairs = assign_ports(devices.findall("serial"))
    current = find_by_port(pairs, spec.port, "serial")
    if spec.state == "absent":
        if current is None:
            return
        remove(devices, current)
        changes.append("remove serial port %d" % spec.port)
    else:
        wanted = _wanted_chardev(current, spec, "serial", platform)
        if current is not None:
            if serial_key(current) != serial_key(wanted):
                _check_source_exposure(wanted, spec)
                replace(devices, current, wanted, 2)
                changes.append("change serial port %d to %s, %s"
                               % (spec.port, describe_chardev(wanted), serial_target_type(wanted)))
        else:
            _check_source_exposure(wanted, spec)
            # Keep serials in port order so that port 0 becomes the first serial, the one libvirt binds the
            # console (and `virsh console`) to.
            index = _port_order_index(devices, pairs, spec.port)
            if index is None:
                index = index_before(devices, _SERIAL_BEFORE)
            insert(devices, index, wanted, 2)
            changes.append("add serial port %d (%s, %s)" % (spec.port, describe_chardev(wanted),
                                                            serial_target_type(wanted)))
    # With the serial itself already right, a stale twin only occurs in hand-written XML (libvirt's canonical
    # XML never has one); it is reported all the same.
    twin_change = _sync_twin(devices, 2)
    if twin_change:
        changes.append(twin_change)


def _port_order_index(devices, pairs, port):
    """Where a new device for ``port`` goes so that ``pairs`` ((port, element), in document order) stay in port
    order; None when there are none of them yet."""
    later = [e for p, e in pairs if p > port]
    if later:
        return list(devices).index(later[0])
    if pairs:
        return list(devices).index(pairs[-1][1]) + 1
    return None


def _plan_virtio(devices, spec, changes):
    pairs = assign_ports(virtio_consoles(devices))
    current = find_by_port(pairs, spec.port, "virtio console")
    if spec.state == "absent":
        if current is not None:
            remove(devices, current)
            changes.append("remove virtio console port %d (hvc%d)" % (spec.port, spec.port))
        return
    wanted = _wanted_chardev(current, spec, "console")
    if current is not None:
        if chardev_key(current) == chardev_key(wanted):
            return
        _check_source_exposure(wanted, spec)
        replace(devices, current, wanted, 2)
        changes.append("change virtio console port %d (hvc%d) to %s" % (spec.port, spec.port,
                                                                        describe_chardev(wanted)))
        return
    _check_source_exposure(wanted, spec)
    index = _port_order_index(devices, pairs, spec.port)
    if index is None:
        consoles = devices.findall("console")
        if consoles:
            index = list(devices).index(consoles[-1]) + 1
        else:
            index = index_before(devices, _SERIAL_BEFORE[2:])
    if devices.findall("serial") and not (devices.findall("console") and
                                          console_is_serial(devices.findall("console")[0])):
        # libvirt puts the serial's twin first and renumbers virtio consoles otherwise; add it ourselves.
        twin_change = _sync_twin(devices, 2)
        if twin_change:
            changes.append(twin_change)
        consoles = devices.findall("console")
        index = max(index, list(devices).index(consoles[0]) + 1)
    insert(devices, index, wanted, 2)
    changes.append("add virtio console port %d (hvc%d, %s)" % (spec.port, spec.port, describe_chardev(wanted)))
