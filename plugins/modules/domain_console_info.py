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
attributes:
  check_mode:
    support: full
    description: The module never changes anything, so check mode returns the same result as a normal run.
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
      type: dict
      sample:
        serials: [{type: tcp, target_type: isa-serial, target_port: 1, source_host: 127.0.0.1, source_port: 4555,
                   source_mode: bind, protocol: telnet, log_file: null}]
        vnc: {listen_type: address, listen: 127.0.0.1, port: -1, autoport: true, password_set: true}
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402 (validate-modules wants the docs first)

from ansible_collections.ttyfleet.serial_console.plugins.module_utils import _libvirt  # noqa: E402
from ansible_collections.ttyfleet.serial_console.plugins.module_utils._console_info import (  # noqa: E402
    ConsoleInfoError,
    describe_domain,
    state_name,
)


def _select(module, conn, uri):
    names = None if module.params["all_domains"] else module.params["name"]
    try:
        return [s.dom for s in _libvirt.select_domains(conn, uri, names)]
    except _libvirt.DomainsNotFound as e:
        raise _libvirt.LibvirtFailure(
            "domain%s not found on %s: %s" % ("s" if len(e.missing) > 1 else "", uri, ", ".join(e.missing))
        ) from e


def _describe(dom, states, transient, secure):
    uuid = dom.UUIDString()
    persistent = uuid not in transient
    active = dom.ID() != -1
    config_xml = _libvirt.read_domain_xml(dom, inactive=True, secure=secure) if persistent else None
    live_xml = _libvirt.read_domain_xml(dom, secure=secure) if active else None
    try:
        info = describe_domain(config_xml, live_xml, secure=secure)
    except ConsoleInfoError as e:
        raise _libvirt.LibvirtFailure("domain %s: %s" % (dom.name(), e)) from e
    info.update(
        name=dom.name(),
        uuid=uuid,
        state=state_name(states.get(uuid)),
        active=active,
        persistent=persistent,
    )
    return info


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="list", elements="str"),
            all_domains=dict(type="bool", default=False),
            uri=dict(type="str", default="qemu:///system"),
            read_only=dict(type="bool", default=False),
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
    _libvirt.require_libvirt(module)

    uri = module.params["uri"]
    secure = not module.params["read_only"]
    conn = None
    try:
        conn = _libvirt.connect(uri, readonly=module.params["read_only"])
        domains = _select(module, conn, uri)
        states = _libvirt.domain_states(conn, domains)
        transient = _libvirt.transient_uuids(conn, uri)
        results = []
        for dom in domains:
            try:
                results.append(_describe(dom, states, transient, secure))
            except _libvirt.DomainGone:
                if not module.params["all_domains"]:
                    raise
    except _libvirt.LibvirtFailure as e:
        module.fail_json(msg=str(e))
    finally:
        if conn is not None:
            conn.close()
    module.exit_json(changed=False, domains=results)


if __name__ == "__main__":
    main()
