#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r"""
module: console_log
short_description: Read what libvirt domains printed on their serial consoles, from their console log files
version_added: 0.1.0
description:
  - Returns, for one domain, a list of domains or every domain of a hypervisor, the output its serial console wrote
    to its console log file (the C(<log file>) of the console device, as C(domain_serial log_file) sets it, or the
    file of a C(file) console), from a byte offset or as the last N lines; like C(gcloud compute instances
    get-serial-port-output --start).
  - The log and the backups virtlogd rotated it into (C(F.0), C(F.1) ...) are read as one stream, oldest first.
    RV(domains[].next_cursor) names a byte of one file by its inode, so paging with O(cursor) goes on at the right
    byte after a rotation; RV(domains[].missed) says when the bytes asked for were already rotated away.
  - Runs on the hypervisor (the log files are there). Never changes anything and never attaches to a console, so
    it does not disturb a C(virsh console) session.
  - The output is redacted before it is returned, namely the domain's own VNC password, every O(secrets) value and
    every C(passwd=)/C(password=) attribute, in the spellings an XML escape gives them.
author:
  - ttyfleet maintainers (@ttyfleet)
options:
  name:
    description:
      - Names of the domains, in this order. A single name works too. An unknown name fails the task.
      - Mutually exclusive with O(all_domains=true); one of the two is required.
    type: list
    elements: str
  all_domains:
    description: Every domain of O(uri), sorted by name.
    type: bool
    default: false
  uri:
    description: The libvirt connection URI.
    type: str
    default: qemu:///system
  port:
    description:
      - The serial port (target port) whose log to read. Default, the console C(virsh console) opens (the first
        console, else the first serial).
    type: int
  offset:
    description:
      - Byte offset into the log stream as it is kept now (backups, oldest first, then the live file); a negative
        number counts from the end, like C(tail -c). Default 0, the oldest byte kept.
      - Mutually exclusive with O(cursor) and O(lines).
    type: int
  cursor:
    description:
      - A RV(domains[].next_cursor) of an earlier call for the same domain; reading goes on from there, also across
        a rotation. With several domains, give O(cursors) instead.
    type: str
  cursors:
    description:
      - Per domain, a RV(domains[].next_cursor) of an earlier call, as a mapping of domain name to cursor. Domains
        not named here start at O(offset).
    type: dict
    default: {}
  lines:
    description: Return the last this many lines instead (at most O(max_bytes) bytes).
    type: int
  max_bytes:
    description: At most this many bytes per domain (1 to 16 MiB); RV(domains[].more) says whether more followed.
    type: int
    default: 1048576
  strip_ansi:
    description: Remove terminal escape sequences and control characters (keeping newlines and tabs).
    type: bool
    default: true
  secrets:
    description: Strings to replace with C(********) wherever they appear in the output.
    type: list
    elements: str
    default: []
attributes:
  check_mode:
    support: full
    description: The module never changes anything, so check mode returns the same result as a normal run.
  diff_mode:
    support: none
    description: Nothing changes, so there is nothing to diff.
  platform:
    support: N/A
    platforms: libvirt
    description: Target OS/families that can be operated against.
notes:
  - A domain whose console has no log file is returned with RV(domains[].log_file=null) and a RV(domains[].note),
    not as a failure, so that every domain asked for is accounted for. The role C(console_logging) makes libvirt
    log through virtlogd with bounded size; C(domain_serial log_file=...) adds the C(<log file>) per domain.
requirements:
  - libvirt-python (the C(libvirt) Python module) on the host that runs the module
"""

EXAMPLES = r"""
- name: The last 40 lines of web1's console
  ttyfleet.serial_console.console_log:
    name: web1
    lines: 40
  register: tail

- name: Everything new on every console since the last run, following rotations
  ttyfleet.serial_console.console_log:
    all_domains: true
    cursors: "{{ previous.domains | items2dict(key_name='name', value_name='next_cursor') }}"
  register: previous
"""

RETURN = r"""
domains:
  description: One entry per domain, in the order of O(name), or sorted by name with O(all_domains).
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The domain name.
      type: str
    log_file:
      description: The console log file read, or V(null) when the console is not logged.
      type: str
      sample: /var/log/libvirt/qemu/web1-serial0.log
    output:
      description: The console output (UTF-8, invalid bytes replaced), redacted.
      type: str
    start_offset:
      description: Where RV(domains[].output) begins in the kept stream.
      type: int
    next_offset:
      description: The offset to give next time for what follows (valid until the next rotation).
      type: int
    next_cursor:
      description: The cursor to give next time (O(cursor) or O(cursors)); valid across rotations.
      type: str
      sample: "1835271:4096:5e7c2a1f"
    size:
      description: Bytes kept in the log and its backups.
      type: int
    more:
      description: Whether more bytes follow RV(domains[].next_offset) (O(max_bytes) was reached).
      type: bool
    missed:
      description: Whether the bytes asked for are gone (rotated out of the kept backups, or beyond the end).
      type: bool
    files:
      description: The files read, oldest first, with C(path), C(inode), C(size).
      type: list
      elements: dict
    note:
      description: Why there is no output, such as a console without a log file.
      type: str
logging:
  description:
    - How this hypervisor bounds console logs, from C(/etc/libvirt/virtlogd.conf) and C(/etc/libvirt/qemu.conf)
      (what the role C(console_logging) sets). Read only where O(uri) is a local C(qemu:///system) URI, else V(null).
  returned: always
  type: dict
  contains:
    stdio_handler:
      description: C(logd) (virtlogd rotates the logs) or C(file) (QEMU writes them, unbounded).
      type: str
    max_size:
      description: Bytes per file before virtlogd rotates it.
      type: int
    max_backups:
      description: Rotated files kept.
      type: int
    bounded:
      description: Whether console logs are bounded (C(stdio_handler=logd)).
      type: bool
    kept_bytes_per_log:
      description: At most this many bytes are kept per console, C((max_backups + 1) * max_size).
      type: int
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ansible_collections.ttyfleet.serial_console.plugins.module_utils import (  # noqa: E402
    _console_log,
    _libvirt,
)
from ansible_collections.ttyfleet.serial_console.plugins.module_utils._console import strip_ansi  # noqa: E402
from ansible_collections.ttyfleet.serial_console.plugins.module_utils._console_info import (  # noqa: E402
    ConsoleInfoError,
    describe_domain,
)
from ansible_collections.ttyfleet.serial_console.plugins.module_utils._redact import redact_all  # noqa: E402

MAX_BYTES = 16 * 1024 * 1024


def vnc_passwords(xml_text):
    import xml.etree.ElementTree as ET

    root = ET.fromstring(xml_text)
    return [g.get("passwd") for g in root.findall("devices/graphics") if g.get("passwd")]


def read_one(module, sel, p):
    active = _libvirt.is_active(sel.dom, sel.name)
    xml_text = _libvirt.read_domain_xml(sel.dom, inactive=not active, secure=True)
    try:
        info = describe_domain(None if active else xml_text, xml_text if active else None)
    except ConsoleInfoError as e:
        raise _libvirt.LibvirtFailure("domain %s: %s" % (sel.name, e)) from e
    entry = {"name": sel.name, "log_file": None, "output": "", "start_offset": 0, "next_offset": 0,
             "next_cursor": None, "size": 0, "more": False, "missed": False, "files": [], "note": None}
    path, note = _console_log.log_path(info, p["port"])
    if path is None:
        entry["note"] = note
        return entry
    entry["log_file"] = path
    try:
        cursor = p["cursors"].get(sel.name, p["cursor"])
        if p["lines"] is not None:
            got = _console_log.tail(path, p["lines"], p["max_bytes"])
        else:
            got = _console_log.read(path, offset=p["offset"], cursor=cursor, max_bytes=p["max_bytes"])
    except _console_log.LogError as e:
        raise _libvirt.LibvirtFailure("domain %s: %s" % (sel.name, e)) from e
    if not got["files"]:
        entry["note"] = "the log file does not exist yet (the domain has not written to its console since it was set)"
    text = got.pop("data").decode("utf-8", errors="replace")
    if p["strip_ansi"]:
        text = strip_ansi(text)
    entry.update(got)
    entry["output"] = redact_all(text, list(p["secrets"]) + vnc_passwords(xml_text))
    return entry


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def hypervisor_logging(uri):
    if uri not in ("qemu:///system", "qemu+unix:///system"):
        return None  # another host's files, or a session daemon's: not these
    return _console_log.logging_config(_read("/etc/libvirt/virtlogd.conf"), _read("/etc/libvirt/qemu.conf"))


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="list", elements="str"),
            all_domains=dict(type="bool", default=False),
            uri=dict(type="str", default="qemu:///system"),
            port=dict(type="int"),
            offset=dict(type="int"),
            cursor=dict(type="str"),
            cursors=dict(type="dict", default={}),
            lines=dict(type="int"),
            max_bytes=dict(type="int", default=1048576),
            strip_ansi=dict(type="bool", default=True),
            secrets=dict(type="list", elements="str", default=[], no_log=True),
        ),
        mutually_exclusive=[("offset", "cursor", "lines"), ("lines", "cursors")],
        supports_check_mode=True,
    )
    p = module.params
    if p["name"] and p["all_domains"]:
        module.fail_json(msg="name and all_domains=true are mutually exclusive")
    if not p["name"] and not p["all_domains"]:
        module.fail_json(msg="one of name (one or more domains) or all_domains=true is required")
    if p["port"] is not None and not 0 <= p["port"] <= 3:
        module.fail_json(msg="port must be 0-3, got %d" % p["port"])
    if not 1 <= p["max_bytes"] <= MAX_BYTES:
        module.fail_json(msg="max_bytes must be 1-%d, got %d" % (MAX_BYTES, p["max_bytes"]))
    if p["lines"] is not None and not 0 <= p["lines"] <= 1000000:
        module.fail_json(msg="lines must be 0-1000000, got %d" % p["lines"])
    for where, value in [("cursor", p["cursor"])] + [("cursors[%s]" % k, v) for k, v in p["cursors"].items()]:
        if value is not None:
            try:
                _console_log.parse_cursor(value)
            except _console_log.LogError as e:
                module.fail_json(msg="%s: %s" % (where, e))
    _libvirt.require_libvirt(module)
    conn = None
    results = []
    try:
        conn = _libvirt.connect(p["uri"])
        names = None if p["all_domains"] else p["name"]
        for sel in _libvirt.select_domains(conn, p["uri"], names):
            try:
                results.append(read_one(module, sel, p))
            except _libvirt.DomainGone:
                if names is not None:
                    raise
    except _libvirt.LibvirtFailure as e:
        module.fail_json(msg=str(e), domains=results)
    finally:
        _libvirt.close_quietly(conn)
    module.exit_json(changed=False, domains=results, logging=hypervisor_logging(p["uri"]))


if __name__ == "__main__":
    main()
