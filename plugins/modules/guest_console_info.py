#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: guest_console_info
short_description: Read a guest's whole serial console chain in one call, and its drift
version_added: 0.2.0
description:
  - Reads, without changing anything, everything the guest roles of this collection decide on and everything the
    C(audit) and C(doctor) playbooks judge - distribution, init system and whether systemd is booted, whether the
    serial port is a live UART, the boot loader and its tools, the GRUB settings as C(grub-mkconfig) sources them,
    the kernel entries of the generated C(grub.cfg), the getty (process, enablement, drop-in), whether
    C(pam_securetty) is in force for C(login), C(/proc/cmdline) - and the guest-side findings against the wanted
    console settings.
  - One module call per guest, for the roles and for the audit alike; it replaces C(guest_console_facts) (which
    now redirects here) and the audit's former C(console_probe.py) script.
  - To read the GRUB settings it sources C(/etc/default/grub) and C(/etc/default/grub.d/*.cfg) with C(sh), as
    C(grub-mkconfig) does; what they print is discarded.
author:
  - ttyfleet maintainers (@ttyfleet)
options:
  tty:
    description:
      - Serial device name to inspect (C(ttyS<N>), C(ttyAMA<N>), C(hvc<N>)). Default C(ttyS<unit>).
    type: str
  unit:
    description: Serial port index N (C(ttyS<N>), GRUB C(--unit=N), libvirt target port N) the findings expect.
    type: int
    default: 0
    choices: [0, 1, 2, 3]
  speed:
    description: Speed in baud the findings expect.
    type: int
    default: 115200
    choices: [1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200]
  word:
    description: Data bits the findings expect.
    type: int
    default: 8
    choices: [5, 6, 7, 8]
  parity:
    description: Parity the findings expect.
    type: str
    default: "no"
    choices: ["no", "odd", "even"]
  stop:
    description: Stop bits the findings expect.
    type: int
    default: 1
    choices: [1, 2]
  host_ports:
    description:
      - Serial target ports of the guest's domain, as the hypervisor reports them; when given, a kernel console on
        a port the domain does not have is a C(port_mismatch) finding.
    type: list
    elements: int
  root:
    description:
      - Directory every path is read under. Only for tests against a prepared root file system; C(/) on guests.
    type: path
    default: /
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying target.
    support: full
    details: Read only; runs the same in check mode.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
seealso:
  - module: ttyfleet.serial_console.grub_serial
  - module: ttyfleet.serial_console.domain_console_info
"""

EXAMPLES = r"""
- name: Read the guest's console chain (and its drift against ttyS0 at 115200 8N1)
  ttyfleet.serial_console.guest_console_info:
    unit: 0
    speed: 115200
  register: console

- name: Show what is missing
  ansible.builtin.debug:
    msg: "{{ console.findings | map(attribute='kind') | list }}"
"""

RETURN = r"""
os:
  description: From os-release - C(id), C(version_id), C(major), C(id_like) and an Ansible-style C(family)
    (Debian, RedHat, Suse, or the id).
  returned: always
  type: dict
  sample: {"id": "debian", "version_id": "12", "major": "12", "id_like": [], "family": "Debian"}
init:
  description: C(systemd), C(upstart), C(sysvinit) or C(unknown) (what is installed, not necessarily running).
  returned: always
  type: str
systemd_booted:
  description: The guest runs systemd as PID 1 right now (C(/run/systemd/system) exists).
  returned: always
  type: bool
pid1:
  description: Name of process 1 (C(systemd), C(init)); empty if unreadable.
  returned: always
  type: str
in_chroot:
  description: The module runs in a chroot (its C(/) is not the root of process 1), so no init may be signalled.
  returned: always
  type: bool
tty:
  description: C(name), C(exists) (device node), C(uart_type) (from sysfs, 0 or null means no UART),
    C(live) (a real port answers now), C(group) owning the device node.
  returned: always
  type: dict
  sample: {"name": "ttyS0", "exists": true, "uart_type": 4, "live": true, "group": "dialout"}
boot:
  description: C(grub) (C(grub2), C(legacy) or C(none)), C(legacy_files) (GRUB 0.97 menus found), C(efi),
    C(bls) (BLS entries present), C(method) (what else boots the guest when there is no GRUB), and C(tools)
    (tool name to absolute path, for the tools found).
  returned: always
  type: dict
default_grub:
  description:
    - GRUB settings after sourcing C(/etc/default/grub) and C(/etc/default/grub.d/*.cfg) as C(grub-mkconfig)
      does - C(GRUB_TERMINAL), C(GRUB_TERMINAL_INPUT), C(GRUB_TERMINAL_OUTPUT), C(GRUB_SERIAL_COMMAND),
      C(GRUB_CMDLINE_LINUX), C(GRUB_CMDLINE_LINUX_DEFAULT); or only C(error) when a file fails to source.
    - Null when none of these files exists.
  returned: always
  type: dict
grub_cfg:
  description:
    - The generated C(grub.cfg) as far as the serial console goes - C(path), C(serial_command) (its first
      C(serial) line, or null), C(terminal_output) and C(terminal_input) (the words of the first such command),
      C(entries) (number of Linux kernel entries; memtest86+ and other systems are not counted),
      C(consoles_default_entry) (the C(console=) values of the first entry), C(entries_without_console) (entries
      without a C(console=) on the tty).
    - Null when there is no C(/boot/grub/grub.cfg) or C(/boot/grub2/grub.cfg).
  returned: always
  type: dict
pam_securetty:
  description: C(active) (C(pam_securetty) is in the PAM stack of C(login), directly or through an include),
    C(file) the PAM file that has it, C(securetty_exists) and C(securetty) (the listed ttys).
  returned: always
  type: dict
getty:
  description:
    - C(enabled) (a systemd wants-link of C(serial-getty@<tty>) exists) and C(wants) (those links),
      C(running) (a getty process holds the tty now, read from C(/proc)) and C(processes) (their command lines),
      C(systemd_active) (C(systemctl is-active) of the unit when systemd is booted, else null),
      C(enabled_by) (how a getty starts at the next boot, in words - the unit, C(systemd-getty-generator), an
      C(/etc/inittab) line, an upstart job - or null), C(dropin) (this collection's serial-getty drop-in exists).
  returned: always
  type: dict
proc_cmdline:
  description: Arguments of the running kernel.
  returned: always
  type: str
proc_cmdline_consoles:
  description: The C(console=) values of the running kernel, in order (the last is C(/dev/console)).
  returned: always
  type: list
  elements: str
console:
  description: The wanted console settings the findings were judged against, as the C(console_settings) filter
    returns them (C(tty), C(unit), C(speed), C(word), C(parity), C(stop), C(console), C(serial_command)...).
  returned: always
  type: dict
findings:
  description:
    - The guest-side drift, each C({side, kind, detail, fix}) with C(side=guest). Kinds - C(uart_missing),
      C(grub_terminal), C(kernel_console_config), C(kernel_console_running), C(speed_mismatch),
      C(port_mismatch), C(getty), C(securetty). Empty when the guest side is right.
  returned: always
  type: list
  elements: dict
  sample: [{"side": "guest", "kind": "uart_missing", "detail": "the guest has no UART at ttyS0 (sysfs type 0)...",
            "fix": "add the serial device on the hypervisor (domain_serial) and power-cycle the domain..."}]
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402 (validate-modules wants the docs first)

from ansible_collections.ttyfleet.serial_console.plugins.module_utils import (  # noqa: E402
    _console_settings as cs,
)
from ansible_collections.ttyfleet.serial_console.plugins.module_utils import (  # noqa: E402
    _guest_console as guest,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            tty=dict(type="str"),
            unit=dict(type="int", default=0, choices=list(cs.UNITS)),
            speed=dict(type="int", default=115200, choices=list(cs.SPEEDS)),
            word=dict(type="int", default=8, choices=list(cs.WORDS)),
            parity=dict(type="str", default="no", choices=list(cs.PARITIES)),
            stop=dict(type="int", default=1, choices=list(cs.STOPS)),
            host_ports=dict(type="list", elements="int"),
            root=dict(type="path", default="/"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    try:
        want = cs.settings({k: p[k] for k in ("tty", "unit", "speed", "word", "parity", "stop")})
    except ValueError as e:
        module.fail_json(msg=str(e))
    result = guest.read_guest(p["root"], want["tty"])
    result["console"] = want
    result["findings"] = guest.guest_findings(result, want, p["host_ports"])
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
