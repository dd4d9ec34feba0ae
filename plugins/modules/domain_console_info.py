#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r"""
module: domain_console_info
short_description: Report the serial consoles, VNC display and pending restarts of libvirt domains
version_added: 0.1.0
description:
  - Reads, for one domain, a list of domains, or every domain on a hypervisor, the power state, the serial and
    console devices, the pty of a running domain's console, the VNC settings and display, the console log file,
    and whether the running domain differs from its persistent config in those devices (a restart is pending).
  - Never changes anything. One libvirt connection serves all domains and no subprocess is started, so a
    hypervisor with a thousand domains is read in one task.
  - The devices reported are those of the running domain when it runs (what is in effect now, with its pty and
    the ports libvirt assigned), else those of the persistent config. RV(domains[].config) always holds the
    persistent config's devices next to them.
  - RV(domains[].restart_pending) compares the serial, console and graphics devices of the running domain with
    the persistent config semantically. Data that only exists at runtime is not drift, namely device aliases,
    pty paths, ports and websocket ports libvirt picked for C(autoport) or C(websocket=-1), listen addresses and sockets
    filled in from C(qemu.conf), the C(tls) default of a TCP source, and the numbering of virtio consoles.
author:
  - ttyfleet maintainers (@ttyfleet)
extends_documentation_fragment:
  - ttyfleet.serial_console.libvirt
options:
  name:
    description:
      - Names of the domains to report on, in this order. A single name works too.
      - An unknown name fails the task and names every unknown domain.
      - Mutually exclusive with O(all_domains=true); one of the two is required.
    type: list
    elements: str
  all_domains:
    description:
      - Report on every domain of O(uri), running or not, persistent or transient, sorted by name.
      - A domain undefined while the module reads is left out.
    type: bool
    default: false
  read_only:
    description:
      - Open a read-only connection, which a user without write access to libvirt may still be granted.
      - libvirt hands out the VNC password only with C(VIR_DOMAIN_XML_SECURE), which a read-only connection is
        refused. With O(read_only=true) the module reads the XML without it, so RV(domains[].vnc.password_set)
        is V(null) (unknown) and a password changed only on the running domain is not seen as a pending restart.
      - By default the module opens a read-write connection, reads with C(VIR_DOMAIN_XML_SECURE) and still never
        returns the password.
    type: bool
    default: false
  inactive_config:
    description:
      - Whether RV(domains[].config) is also returned for a domain that is not running. Such a domain's devices at
        the top level of its entry are its persistent config already, so V(false) leaves the second copy out (on a
        hypervisor of stopped domains about a third of the answer); read the top level instead.
      - A running domain always gets RV(domains[].config). Nothing else of the answer changes.
    type: bool
    default: true
  drift:
    description:
      - Also report, for every domain, what M(ttyfleet.serial_console.domain_serial) and
        M(ttyfleet.serial_console.domain_vnc) with these options (and state V(present)) would change, that is
        their check mode's answer for the domain, in RV(domains[].serial_drift) and RV(domains[].vnc_drift). The
        same planners and rules as those modules, on the same read of each domain, so that an audit of a
        hypervisor is one module call that reads each domain's XML once.
      - As in those modules, a domain whose XML cannot be planned, or a transient domain named in O(name), fails
        the task, naming the domain; with O(all_domains=true) transient domains are left out of the check (as
        those modules' O(all_domains) leaves them out) and get no RV(domains[].serial_drift) or
        RV(domains[].vnc_drift). Nothing is ever written.
      - Needs O(read_only=false), because the plans read the XML with the VNC password (never returned).
    type: dict
    suboptions:
      serial:
        description:
          - The serial port to compare each domain with (M(ttyfleet.serial_console.domain_serial)'s options of the
            same names). Left out, the serial port is not compared and RV(domains[].serial_drift) is not returned.
        type: dict
        suboptions:
          port:
            description: The serial port index, 0-3 (C(ttyS0)-C(ttyS3)), or the virtio console port.
            type: int
            default: 0
          target_type:
            description: The target type; left out, an existing port keeps its type and a missing one gets the
              platform's default.
            type: str
            choices: [isa-serial, pci-serial, system-serial, virtio]
          log_file:
            description: The C(<log>) file the port must have; C({name}) and C({uuid}) are replaced per domain.
              Left out, the log is not compared.
            type: path
      vnc:
        description:
          - The VNC device to compare each domain with (M(ttyfleet.serial_console.domain_vnc)'s options of the same
            names). Left out, VNC is not compared and RV(domains[].vnc_drift) is not returned.
        type: dict
        suboptions:
          listen:
            description: The listen address, V(socket) or V(none); left out, the listen is not compared.
            type: str
          allow_remote_listen:
            description: Confirm that O(drift.vnc.listen) may be an address other than loopback.
            type: bool
            default: false
          password:
            description: The VNC password the device must have. Only compared, never returned.
            type: str
attributes:
  check_mode:
    support: full
    description: The module never changes anything, so check mode returns the same result as a normal run
      (O(drift) included, which is always what the other modules' check mode would answer).
  diff_mode:
    support: none
    description: Nothing changes, so there is nothing to diff.
notes:
  - RV(domains[].vnc_display) is what C(virsh vncdisplay) prints for the first VNC device of a running domain,
    including its quirks (C(:N) for a listen address of C(0.0.0.0), an IPv6 address without brackets), and
    V(null) where C(virsh vncdisplay) fails (domain not running, VNC on a UNIX socket or without a listener).
seealso:
  - name: libvirt domain XML, serial ports and consoles
    description: How libvirt mirrors the first serial port as the first console.
    link: https://libvirt.org/formatdomain.html#consoles-serial-parallel-channel-devices
  - name: libvirt domain XML, graphical framebuffers
    description: The VNC C(graphics) element and its C(listen) children.
    link: https://libvirt.org/formatdomain.html#graphical-framebuffers
"""

EXAMPLES = r"""
- name: Read the consoles of two domains
  ttyfleet.serial_console.domain_console_info:
    name:
      - web1
      - web2
  register: consoles

- name: Attach to the console of web1
  ansible.builtin.debug:
    msg: "virsh console web1 uses {{ consoles.domains[0].pty }}, VNC at {{ consoles.domains[0].vnc_display }}"

- name: Find every domain that needs a cold restart to pick up its console config
  ttyfleet.serial_console.domain_console_info:
    all_domains: true
  register: all_consoles

- name: List them
  ansible.builtin.debug:
    msg: "{{ all_consoles.domains | selectattr('restart_pending') | map(attribute='name') | list }}"

- name: Audit a hypervisor in one call - the consoles, and what domain_serial and domain_vnc would change
  ttyfleet.serial_console.domain_console_info:
    all_domains: true
    drift:
      serial:
        port: 0
      vnc:
        listen: 127.0.0.1
  register: audit

- name: List the domains that lack ttyS0 with its console
  ansible.builtin.debug:
    msg: "{{ audit.domains | selectattr('serial_drift.changed') | map(attribute='name') | list }}"

- name: Audit with a read-only connection (the VNC password state is then unknown)
  ttyfleet.serial_console.domain_console_info:
    all_domains: true
    read_only: true
    uri: qemu+ssh://root@hv1.example.com/system
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
      sample: web1
    uuid:
      description: The domain UUID.
      type: str
      sample: 2f1c6a52-0d7e-4c53-9d0f-2b7a5e0c0001
    state:
      description: The power state.
      type: str
      choices: [nostate, running, blocked, paused, shutdown, shutoff, crashed, pmsuspended, unknown]
      sample: running
    active:
      description: Whether the domain has a running QEMU process (running, paused, ...).
      type: bool
    persistent:
      description: Whether the domain has a persistent config. A transient domain is never
        RV(domains[].restart_pending).
      type: bool
    serials:
      description: The C(serial) devices, in XML order.
      type: list
      elements: dict
      contains:
        type:
          description: The character device type, the same values as C(domain_serial)'s C(source_type).
          type: str
          sample: pty
        target_type:
          description: C(isa-serial), C(pci-serial), C(usb-serial), ...
          type: str
        target_port:
          description: The target port (ttyS number for an isa-serial).
          type: int
        target_model:
          description: The target model name.
          type: str
        source_path:
          description: The path of a C(file), C(unix), C(dev) or C(pipe) source; V(null) for a pty (see the C(pty)
            key).
          type: str
        source_host:
          description: The host of a C(tcp) or C(udp) source.
          type: str
        source_port:
          description: The service port of a C(tcp) or C(udp) source.
          type: int
        source_mode:
          description: C(bind) or C(connect).
          type: str
        protocol:
          description: C(raw) or C(telnet) for a tcp source.
          type: str
        log_file:
          description: The C(<log file>) that records everything the device outputs.
          type: str
        log_append:
          description: Whether the log is appended to across starts; V(null) when libvirt's default applies.
          type: bool
        pty:
          description: The pty of a running domain's C(pty) device, such as C(/dev/pts/3); else V(null).
          type: str
    consoles:
      description: The C(console) devices, with the same keys as RV(domains[].serials). libvirt mirrors the first
        serial port as the first console, with C(target_type=serial).
      type: list
      elements: dict
    pty:
      description: The pty that C(virsh console NAME) attaches to (the first console, else the first serial) of a
        running domain; V(null) when the domain is not running or that device is not a pty.
      type: str
      sample: /dev/pts/3
    log_file:
      description: The log file of that same console device, or V(null).
      type: str
      sample: /var/log/libvirt/qemu/web1-serial0.log
    vnc:
      description: The first VNC C(graphics) device, or V(null) when there is none.
      type: dict
      contains:
        listen_type:
          description: C(address), C(network), C(socket) or C(none).
          type: str
        listen:
          description: The listen address; V(null) when libvirt uses C(vnc_listen) from qemu.conf (not running).
          type: str
          sample: 127.0.0.1
        listen_network:
          description: The libvirt network for C(listen_type=network).
          type: str
        socket:
          description: The UNIX socket for C(listen_type=socket).
          type: str
        port:
          description: The TCP port; C(-1) in a config with autoport, the assigned port once running.
          type: int
          sample: 5900
        autoport:
          description: Whether libvirt picks the port at start.
          type: bool
        websocket:
          description: The websocket port; C(-1) means libvirt picks one at start.
          type: int
        keymap:
          description: The keymap.
          type: str
        password_set:
          description: Whether a VNC password is set. Never the password itself. V(null) with O(read_only=true).
          type: bool
    vnc_display:
      description: What C(virsh vncdisplay) prints for the running domain; V(null) where it fails.
      type: str
      sample: 127.0.0.1:0
    restart_pending:
      description: Whether the running domain's serial, console or graphics devices differ from its persistent
        config, so that only a cold restart (destroy and start, not a guest reboot) applies the config.
      type: bool
    pending_changes:
      description: The devices that differ, in words, for humans. Empty when RV(domains[].restart_pending) is false.
      type: list
      elements: str
      sample: ["serial port 1: in the persistent config only"]
    spice:
      description: The first SPICE C(graphics) device, or V(null) when there is none. The keys of RV(domains[].vnc)
        without C(websocket), with C(tls_port).
      type: dict
    config:
      description:
        - The persistent config's devices, what applies at the next start - C(serials), C(consoles) (the keys of
          RV(domains[].serials)), C(pty) (always V(null)), C(log_file), C(vnc) and C(spice) (the keys of
          RV(domains[].vnc) and RV(domains[].spice)). For a domain that is not running these are the devices
          reported at the top level.
        - Read this, never a diff, to see what a running domain will have after a cold restart (a tcp serial's bind
          address in C(source_host), the VNC listen in C(vnc.listen), whether a password is set).
        - V(null) for a transient domain, which has no persistent config.
        - Left out for a domain that is not running with O(inactive_config=false) (its top-level devices are its
          config).
      returned: always, except for a domain that is not running with O(inactive_config=false)
      type: dict
      sample:
        serials: [{type: tcp, target_type: isa-serial, target_port: 1, source_host: 127.0.0.1, source_port: 4555,
                   source_mode: bind, protocol: telnet, log_file: null}]
        vnc: {listen_type: address, listen: 127.0.0.1, port: -1, autoport: true, password_set: true}
    serial_drift:
      description:
        - What M(ttyfleet.serial_console.domain_serial) with O(drift.serial) would answer for this domain in check
          mode, its C(changed), C(changes) and C(restart_required).
      returned: with O(drift.serial)
      type: dict
      contains:
        changed:
          description: Whether the serial port or its console differs from O(drift.serial).
          type: bool
        changes:
          description: What a run of domain_serial would change, in words.
          type: list
          elements: str
          sample: ["add serial port 0 (pty, isa-serial)", "add console bound to serial port 0"]
        restart_required:
          description: Whether the running domain would still differ from its definition after that run.
          type: bool
    vnc_drift:
      description:
        - What M(ttyfleet.serial_console.domain_vnc) with O(drift.vnc) would answer for this domain in check mode,
          with the keys of RV(domains[].serial_drift). Never the password.
      returned: with O(drift.vnc)
      type: dict
      sample: {changed: true, changes: ["add VNC graphics (listen 127.0.0.1, autoport)"], restart_required: false}
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402 (validate-modules wants the docs first)

from ansible_collections.ttyfleet.serial_console.plugins.module_utils import (  # noqa: E402
    _domain_module,
    _libvirt,
)
from ansible_collections.ttyfleet.serial_console.plugins.module_utils import _domain_spec as specs  # noqa: E402
from ansible_collections.ttyfleet.serial_console.plugins.module_utils._console_info import (  # noqa: E402
    ConsoleInfoError,
    describe_domain,
    state_name,
)
from ansible_collections.ttyfleet.serial_console.plugins.module_utils._domain_devices import (  # noqa: E402
    SerialDevice,
    VncDevice,
)
from ansible_collections.ttyfleet.serial_console.plugins.module_utils._redact import redact_result  # noqa: E402

# what each drift entry keeps of domain_serial's / domain_vnc's per-domain answer
DRIFT_KEYS = ("changed", "changes", "restart_required")


class _Reader:
    """Each domain's XML read at most once per copy (persistent, live), for the summary and the drift plans."""

    def __init__(self, secure):
        self.secure = secure
        self.xml = {}

    def __call__(self, dom, inactive):
        key = (dom.UUIDString(), inactive)
        if key not in self.xml:
            self.xml[key] = _libvirt.read_domain_xml(dom, inactive=inactive, secure=self.secure)
        return self.xml[key]


def _select(module, conn, uri):
    names = None if module.params["all_domains"] else module.params["name"]
    try:
        return _libvirt.select_domains(conn, uri, names)
    except _libvirt.DomainsNotFound as e:
        raise _libvirt.LibvirtFailure(
            "domain%s not found on %s: %s" % ("s" if len(e.missing) > 1 else "", uri, ", ".join(e.missing))
        ) from e


def _describe(sel, states, read, inactive_config=True):
    dom, uuid = sel.dom, sel.uuid
    active = dom.ID() != -1
    config_xml = read(dom, True) if sel.persistent else None
    live_xml = read(dom, False) if active else None
    try:
        info = describe_domain(config_xml, live_xml, secure=read.secure)
    except ConsoleInfoError as e:
        raise _libvirt.LibvirtFailure("domain %s: %s" % (sel.name, e)) from e
    info.update(
        name=sel.name,
        uuid=uuid,
        state=state_name(states.get(uuid)),
        active=active,
        persistent=sel.persistent,
    )
    if not (active or inactive_config):
        del info["config"]  # the top level holds the same devices
    return info


def drift_devices(drift):
    """[(result key, what, Device)] for the drift option (checked like domain_serial's and domain_vnc's options);
    raises SpecError."""
    devices = []
    if drift.get("serial") is not None:
        spec = specs.validate_serial_spec(dict(drift["serial"], state="present"))
        devices.append(("serial_drift", "domain_serial", SerialDevice(spec)))
    if drift.get("vnc") is not None:
        spec = specs.validate_vnc_spec(dict(drift["vnc"], state="present"))
        devices.append(("vnc_drift", "domain_vnc", VncDevice(spec)))
    return devices


def _drift(module, conn, selected, read, devices, results, secrets):
    """Add each drift entry to the domains' results: the other modules' check mode on the XML already read,
    redacted as those modules redact their answers."""
    by_name = {r["name"]: r for r in results}
    kept = [s for s in selected if s.name in by_name]  # under all_domains, one undefined meanwhile is left out
    # which domains run, as the summary saw them: the plans need it, and a listing of every domain per plan is
    # what a hypervisor with many domains pays most for
    active = {by_name[s.name]["uuid"] for s in kept if by_name[s.name]["active"]}
    for key, what, device in devices:
        try:
            answer = _domain_module.preview(module, device, conn, kept, read, active=active)
        except _domain_module.TaskFailure as e:
            raise _libvirt.LibvirtFailure("%s (the check of %s): %s" % (key, what, e)) from e
        for entry in answer["domains"]:
            if entry["name"] in by_name:
                by_name[entry["name"]][key] = redact_result({k: entry[k] for k in DRIFT_KEYS}, secrets)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="list", elements="str"),
            all_domains=dict(type="bool", default=False),
            uri=dict(type="str", default="qemu:///system"),
            read_only=dict(type="bool", default=False),
            inactive_config=dict(type="bool", default=True),
            drift=dict(type="dict", options=dict(
                serial=dict(type="dict", options=dict(
                    port=dict(type="int", default=0),
                    target_type=dict(type="str", choices=list(specs.SERIAL_TARGET_TYPES)),
                    log_file=dict(type="path"),
                )),
                vnc=dict(type="dict", options=dict(
                    listen=dict(type="str"),
                    allow_remote_listen=dict(type="bool", default=False),
                    password=dict(type="str", no_log=True),
                )),
            )),
        ),
        supports_check_mode=True,
    )
    names, all_domains = module.params["name"], module.params["all_domains"]
    # all_domains=false beside a name is fine, so these are checked here rather than with mutually_exclusive
    if names and all_domains:
        module.fail_json(msg="name and all_domains=true are mutually exclusive")
    if not names and not all_domains:
        module.fail_json(msg="one of name (one or more domains) or all_domains=true is required")
    if not all(names or ["all"]):
        module.fail_json(msg="name must not contain an empty domain name")
    drift = module.params["drift"] or {}
    secrets = [drift["vnc"]["password"]] if (drift.get("vnc") or {}).get("password") else []
    if drift and module.params["read_only"]:
        module.fail_json(msg="drift needs read_only=false: its plans read the XML with the VNC password")
    try:
        devices = drift_devices(drift)
    except specs.SpecError as e:
        module.fail_json(msg=redact_result("drift: %s" % e, secrets))
    _libvirt.require_libvirt(module)

    uri = module.params["uri"]
    read = _Reader(secure=not module.params["read_only"])
    conn = None
    try:
        conn = _libvirt.connect(uri, readonly=module.params["read_only"])
        selected = _select(module, conn, uri)
        states = _libvirt.domain_states(conn, [s.dom for s in selected])
        results = []
        for sel in selected:
            try:
                results.append(_describe(sel, states, read, module.params["inactive_config"]))
            except _libvirt.DomainGone:
                if not module.params["all_domains"]:
                    raise
        if devices:
            _drift(module, conn, selected, read, devices, results, secrets)
    except _libvirt.LibvirtFailure as e:
        module.fail_json(msg=redact_result(str(e), secrets))
    finally:
        if conn is not None:
            conn.close()
    module.exit_json(changed=False, domains=results)


if __name__ == "__main__":
    main()
