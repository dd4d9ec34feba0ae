#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: domain_serial
short_description: Ensure libvirt domains have a serial port and the console bound to it
version_added: 0.1.0
description:
  - Ensures that a serial port (C(ttyS0)-C(ttyS3)) with the console bound to it, or a virtio console (C(hvcN)),
    exists in the persistent definition of one domain, a list of domains, or every domain of a hypervisor; or
    removes it (O(state=absent)).
  - The module reads each domain's persistent XML with C(VIR_DOMAIN_XML_INACTIVE|VIR_DOMAIN_XML_SECURE), changes
    only the managed devices, defines the result with C(VIR_DOMAIN_DEFINE_VALIDATE), re-reads it and fails if
    libvirt did not keep the change. Devices are compared with what libvirt keeps, so defaults libvirt adds by
    itself (C(<model name='isa-serial'/>), aliases, addresses) never cause a change, and a second run reports none.
  - libvirt mirrors the first serial port as the first C(<console>). The module keeps that twin in step, never
    adds a second one, and removes it together with the serial port. A new port is inserted in port order, so
    port 0 is the first serial and the one C(virsh console) opens.
  - Omitted means untouched. An option left out keeps what the device on O(port) has (its source, log, target
    type and model); a new device gets the defaults (a pty, no log, the platform's serial port). Removing takes
    an explicit value, O(log_file=""). Other serial ports, consoles and devices are never touched.
  - Attributes and children of the device that the module does not manage are kept on every edit, for example
    C(tls='yes') on a tcp source, C(append) of a file source or log, C(<reconnect>) and C(<source><seclabel>).
    A combination libvirt would reject (a C(<reconnect>) on a source that binds) is refused before any write.
  - The domain's architecture and machine decide the default serial port. An isa-serial (C(ttyS0)) is used on
    x86 C(pc)/C(q35), and a C(system-serial) PL011 (C(ttyAMA0)) on arm C(virt) machines. A target type the
    machine does not have (isa-serial on arm virt, system-serial on x86) is refused when planned, before
    anything is written.
  - A tcp source that is not on loopback is a root console for whoever reaches the port. libvirt has no
    password for a serial console. Its only credential is TLS with client certificates (C(chardev_tls) and
    C(chardev_tls_x509_verify=1) in C(qemu.conf)). So any other address (C(0.0.0.0), C(::) in every spelling,
    another IP, a host name, which is never resolved) needs O(allow_remote_source=true) and TLS on the source
    (O(source_tls=true), or C(tls='yes') already there). This is checked whenever the module writes such a
    device, also when it only changes its log.
  - All domains are read and planned first. If any of them fails (unknown name, malformed XML, conflicting
    existing devices), or the settings cannot serve all selected domains at once (a O(log_file) or a listening
    socket without C({name})), the task fails before anything is written.
  - If a domain's XML changes between the read and the define (another tool or a parallel run), the module
    plans again on the fresh XML instead of overwriting that change, and fails after a few attempts.
  - A running domain gets the new persistent definition at once. What can be hot-plugged (a pci-serial port
    with ACPI, a virtio console with a virtio-serial controller) is also added to the running domain; anything
    else (an isa-serial port, changes and removals) takes effect at the next cold start and is reported as
    RV(restart_required). A reboot inside the guest is not enough. See O(restart).
author:
  - ttyfleet maintainers (@ttyfleet)
extends_documentation_fragment:
  - ttyfleet.serial_console.libvirt
  - ttyfleet.serial_console.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  platform:
    platforms: libvirt
options:
  state:
    description:
      - V(present) ensures the device; V(absent) removes the serial port O(port) (and its console twin), or the
        virtio console O(port) when O(target_type=virtio).
    type: str
    choices: [present, absent]
    default: present
  port:
    description:
      - The serial port index (libvirt target port), 0-3. Port N is C(ttySN) in the guest and GRUB unit N.
      - With O(target_type=virtio), the virtio console port, C(hvcN) in the guest.
    type: int
    default: 0
  target_type:
    description:
      - V(isa-serial) is the classic 16550 UART at the legacy I/O ports (x86 only); GRUB and early kernel output
        use it. It cannot be hot-plugged.
      - V(system-serial) is the machine's own UART, a PL011 on arm C(virt) machines (C(ttyAMA0) in the guest).
        It cannot be hot-plugged.
      - V(pci-serial) is a PCI 16550; it can be hot-plugged into a domain with ACPI.
      - V(virtio) is a virtio console (C(<console><target type='virtio'/>)), C(hvcN) in the guest, without a
        serial port. libvirt adds a virtio-serial controller to the definition if there is none.
      - Left out, an existing serial port keeps its type and a new one gets the platform's default, V(isa-serial)
        on x86 and V(system-serial) on arm C(virt); other platforms need it set.
    type: str
    choices: [isa-serial, pci-serial, system-serial, virtio]
  model:
    description:
      - The device model of the serial port, the one that fits O(target_type). Use V(isa-serial) for isa-serial,
        V(pci-serial) for pci-serial and V(pl011) for system-serial. Left out, the model of O(target_type) is used.
    type: str
    choices: [isa-serial, pci-serial, pl011]
  source_type:
    description:
      - The host side of the character device. V(pty) is what C(virsh console) uses.
      - Left out, an existing device keeps its source as it is, and a new one gets V(pty). The other
        C(source_*) options and O(protocol) need O(source_type).
    type: str
    choices: [pty, file, tcp, unix]
  source_path:
    description:
      - Absolute path of the file (O(source_type=file)) or UNIX socket (O(source_type=unix)). Required for both.
      - C({name}) is replaced by each domain's name and C({uuid}) by its UUID, for example
        C(/var/lib/libvirt/qemu/{name}-serial1.sock). Other text in braces is an error.
      - When more than one domain is selected, a file source or a UNIX socket with O(source_mode=bind) must
        contain a placeholder, otherwise the task fails before anything is written (the domains would share
        one file or socket). Several domains may connect (O(source_mode=connect)) to one socket.
    type: path
  source_host:
    description:
      - Address or host name of the TCP endpoint. Required with O(source_type=tcp).
      - Anything but a loopback address (C(127.0.0.1), C(::1)) needs O(allow_remote_source=true) and TLS, see
        the description. Numeric shorthands such as C(0) or C(127.1) are refused; write the address in full.
    type: str
  source_port:
    description:
      - TCP port, 1-65535. Required with O(source_type=tcp).
    type: int
  source_mode:
    description:
      - Whether QEMU listens (V(bind)) or connects (V(connect)); for O(source_type=tcp) and O(source_type=unix).
        Left out, an existing source keeps its mode and a new one gets V(bind).
      - One TCP port can be listened on by one domain only, so O(source_type=tcp) with V(bind) fails before
        anything is written when more than one domain is selected; use one task per domain, each with its own
        O(source_port).
    type: str
    choices: [bind, connect]
  protocol:
    description:
      - Wire protocol of a TCP source. Left out, an existing source keeps its protocol and a new one gets V(raw).
    type: str
    choices: [raw, telnet]
  source_tls:
    description:
      - Encrypt the TCP source with TLS (C(tls='yes')); needs C(chardev_tls) in libvirt's C(qemu.conf). V(false)
        removes it. Left out, an existing device keeps what it has.
    type: bool
  allow_remote_source:
    description:
      - Confirm that a tcp source may bind to or connect to an address other than loopback. TLS on the source is
        required as well (O(source_tls)).
    type: bool
    default: false
  log_file:
    description:
      - Absolute path of a C(<log>) file that records everything the guest prints on this port (written by
        virtlogd), so the console is interactive and logged at once.
      - C({name}) is replaced by each domain's name and C({uuid}) by its UUID, for example
        C(/var/log/libvirt/qemu/{name}-serial0.log). Other text in braces is an error.
      - When more than one domain is selected (a list in O(name), or O(all_domains)), the path must contain a
        placeholder, otherwise the task fails before anything is written (the domains would log into one file).
      - Left out, an existing C(<log>) is kept as it is. An empty string removes it.
    type: path
  log_append:
    description:
      - Append to the log across restarts instead of truncating it. Needs O(log_file) or an existing log.
      - Left out, an existing log keeps its setting and a new one truncates (V(false)).
    type: bool
  restart:
    description:
      - Power-cycle running domains whose serial or console devices differ from their persistent definition
        (because of this run or an earlier one), so the devices take effect now.
      - The guest is asked to shut down (ACPI); only if it is still running after O(shutdown_timeout_s) is it
        destroyed. Then it is started again. RV(domains[].restarted) reports it.
      - Without this option the module never stops or starts a domain.
    type: bool
    default: false
  shutdown_timeout_s:
    description:
      - Seconds to wait for a graceful shutdown before O(restart) destroys the domain.
    type: int
    default: 120
notes:
  - Changing a running domain's persistent definition never disturbs the guest.
  - An isa-serial port added to a running domain appears only after a cold start (destroy and start, or
    O(restart=true)); C(virsh reboot) or a reboot inside the guest keeps the old QEMU devices.
seealso:
  - module: ttyfleet.serial_console.domain_vnc
  - module: ttyfleet.serial_console.domain_console_info
  - name: libvirt domain XML, serial ports and consoles
    description: Serial ports, consoles and how the first serial port is mirrored as the console.
    link: https://libvirt.org/formatdomain.html#consoles-serial-parallel-channel-devices
"""

EXAMPLES = r"""
- name: Give two domains ttyS0 on a pty, so that virsh console works
  ttyfleet.serial_console.domain_serial:
    name: [web1, web2]

- name: Serial console on every domain, each logged to its own file, power-cycling running ones now
  ttyfleet.serial_console.domain_serial:
    all_domains: true
    log_file: /var/log/libvirt/qemu/{name}-serial0.log
    log_append: true
    restart: true
    shutdown_timeout_s: 60

- name: A second port on a TCP socket (telnet 127.0.0.1 4001)
  ttyfleet.serial_console.domain_serial:
    name: db1
    port: 1
    source_type: tcp
    source_host: 127.0.0.1
    source_port: 4001
    protocol: telnet

- name: ttyS1 of each domain on its own UNIX socket, named after the domain's UUID
  ttyfleet.serial_console.domain_serial:
    name: [web1, web2]
    port: 1
    source_type: unix
    source_path: /var/lib/libvirt/qemu/{uuid}-serial1.sock

- name: A virtio console hvc1 that can be hot-plugged into a running domain
  ttyfleet.serial_console.domain_serial:
    name: db1
    port: 1
    target_type: virtio

- name: The PL011 of an arm64 domain (the default on aarch64 virt), logged
  ttyfleet.serial_console.domain_serial:
    name: arm1
    target_type: system-serial
    log_file: /var/log/libvirt/qemu/{name}-serial0.log

- name: Stop logging ttyS0, leave the rest of the port as it is
  ttyfleet.serial_console.domain_serial:
    name: db1
    log_file: ""

- name: Remove ttyS0 and its console
  ttyfleet.serial_console.domain_serial:
    name: db1
    state: absent
"""

RETURN = r"""
changed:
  description: Whether any domain changed (definition, live devices or power cycle).
  returned: always
  type: bool
restart_required:
  description: Whether any running domain still differs from its persistent definition in the managed devices.
  returned: always
  type: bool
domains:
  description:
    - One entry per selected domain, in the order of O(name) (or sorted by name with O(all_domains)).
    - Also returned when the task fails, so that every domain is accounted for.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Domain name.
      type: str
      sample: web1
    changed:
      description: Whether this domain changed.
      type: bool
    restart_required:
      description:
        - The domain runs and its live serial/console devices differ from the persistent ones; they take effect
          at the next cold start.
      type: bool
    restarted:
      description: Whether the domain was power-cycled because of O(restart) (in check mode, would be).
      type: bool
    live_applied:
      description: Whether the device was hot-plugged into the running domain (in check mode, would be tried).
      type: bool
    changes:
      description: What changed (or, in check mode, would change), in words.
      type: list
      elements: str
      sample: ["add serial port 0 (pty, isa-serial)", "add console bound to serial port 0"]
    status:
      description:
        - What became of this domain. V(unchanged) nothing to do; V(changed) done (in check mode, would be done);
          V(failed) see RV(domains[].error); V(vanished) undefined by someone else while the task ran (only with
          O(all_domains); skipped, the rest goes on); V(not_reached) not written because the task stopped at the
          failure of another domain.
        - Also in the result of a failed task, for every selected domain.
      type: str
      choices: [unchanged, changed, failed, vanished, not_reached]
      sample: changed
    steps:
      description:
        - What was done to this domain, in order (in check mode, what the real run would do). V(planned) the
          change was planned; V(replanned) the definition changed under the task and the change was planned again
          on the fresh one; V(defined) the new definition was stored and re-read; V(live_applied) applied to the
          running domain; V(stopped), V(started) the power cycle of O(restart).
      type: list
      elements: str
      sample: [planned, defined, stopped, started]
    error:
      description: Why the domain failed, vanished or was not reached (libvirt's text, passwords redacted); else null.
      type: str
      sample: "cannot start domain web1: ...; domain web1 is left stopped (it was running before this task stopped it)"
    left_stopped:
      description:
        - True when O(restart) shut the domain down and it could not be started again; RV(domains[].error) says why.
      type: bool
      sample: false
    define_note:
      description:
        - Set when the connection to libvirtd was lost around the define. V(confirmed after connecting again) the
          task connected again and the re-read shows the new definition; V(sent, not confirmed) it could not check.
      type: str
      returned: when the connection to libvirtd was lost around the define
diff:
  description:
    - With C(--diff), one entry per changed domain with the managed devices before and after.
  returned: when diff mode is on
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402 (validate-modules wants the docs first)

from ansible_collections.ttyfleet.serial_console.plugins.module_utils import _domain_module as runner  # noqa: E402
from ansible_collections.ttyfleet.serial_console.plugins.module_utils import _domain_spec as specs  # noqa: E402
from ansible_collections.ttyfleet.serial_console.plugins.module_utils._domain_devices import SerialDevice  # noqa: E402


def main():
    argument_spec = dict(
        runner.DOMAIN_ARGS,
        state=dict(type="str", choices=["present", "absent"], default="present"),
        port=dict(type="int", default=0),
        target_type=dict(type="str", choices=list(specs.SERIAL_TARGET_TYPES)),
        model=dict(type="str", choices=list(specs.SERIAL_MODELS)),
        source_type=dict(type="str", choices=list(specs.SOURCE_TYPES)),
        source_path=dict(type="path"),
        source_host=dict(type="str"),
        source_port=dict(type="int"),
        source_mode=dict(type="str", choices=list(specs.SOURCE_MODES)),
        protocol=dict(type="str", choices=list(specs.PROTOCOLS)),
        source_tls=dict(type="bool"),
        allow_remote_source=dict(type="bool", default=False),
        log_file=dict(type="path"),
        log_append=dict(type="bool"),
        restart=dict(type="bool", default=False),
        shutdown_timeout_s=dict(type="int", default=120),
    )
    module = AnsibleModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        mutually_exclusive=[("name", "all_domains")],
        required_one_of=[("name", "all_domains")],
        required_if=[("source_type", "tcp", ("source_host", "source_port")),
                     ("source_type", "file", ("source_path",)),
                     ("source_type", "unix", ("source_path",))],
    )
    if module.params["all_domains"] is False and not module.params["name"]:
        module.fail_json(msg="name must list at least one domain, or set all_domains: true")
    if module.params["shutdown_timeout_s"] < 0:
        module.fail_json(msg="shutdown_timeout_s must not be negative")
    try:
        spec = specs.validate_serial_spec(module.params)
    except specs.SpecError as e:
        module.fail_json(msg=str(e))
    runner.main_wrapper(module, SerialDevice(spec))


if __name__ == "__main__":
    main()
