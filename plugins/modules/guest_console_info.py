#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: guest_console_info
short_description: Read a guest's whole serial console chain in one call
version_added: 0.1.0
description:
  - Reads, without changing anything, everything the guest roles of this collection decide on and everything the
    C(audit) and C(doctor) playbooks judge - distribution, init system and whether systemd is booted, whether the
    serial port is a live UART, the boot loader and its tools, the GRUB settings as C(grub-mkconfig) sources them,
    the kernel entries of the generated C(grub.cfg), the getty (process, enablement, drop-in), whether
    C(pam_securetty) is in force for C(login), C(/proc/cmdline).
  - The fleet playbooks judge this read with the C(ttyfleet.serial_console.guest_findings) filter.
  - One module call per guest, for the roles and for the audit alike; it replaces C(guest_console_facts) (which
    now redirects here) and the audit's former C(console_probe.py) script.
  - To read the GRUB settings it sources C(/etc/default/grub) and C(/etc/default/grub.d/*.cfg) with C(sh), as
    C(grub-mkconfig) does; what they print is discarded.
author:
  - ttyfleet maintainers (@ttyfleet)
options:
  tty:
    description: Serial device name to inspect (C(ttyS<N>), C(ttyAMA<N>), C(hvc<N>)).
    type: str
    default: ttyS0
extends_documentation_fragment:
  - ttyfleet.serial_console.guest
attributes:
  check_mode:
    support: full
    details: Read only; runs the same in check mode.
  diff_mode:
    support: none
seealso:
  - module: ttyfleet.serial_console.grub_serial
  - module: ttyfleet.serial_console.domain_console_info
"""

EXAMPLES = r"""
- name: Read the guest's console chain
  ttyfleet.serial_console.guest_console_info:
    tty: ttyS0
  register: console

- name: Say whether the domain still needs a power cycle for its serial port
  ansible.builtin.debug:
    msg: "{{ 'no UART at ttyS0 yet: power-cycle the domain' if not console.tty.live else 'ttyS0 is live' }}"
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
      C(/etc/inittab) line, an upstart job - or null), C(dropin) (this collection's serial-getty drop-in exists)
      and C(dropin_text) (its text, or null; role C(getty) compares it with the wanted one and skips the write),
      C(device_dropin_text) (the text of this collection's drop-in for the tty's device unit, or null) and
      C(device_timeout_s) (its seconds when it is exactly what C(serial_getty) writes, else null; role C(getty)
      compares it with C(getty_device_timeout_s)).
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
        argument_spec=dict(tty=dict(type="str", default="ttyS0"), root=dict(type="path", default="/")),
        supports_check_mode=True,
    )
    p = module.params
    problems = cs.validate_settings(tty=p["tty"])
    if problems:
        module.fail_json(msg="; ".join(problems))
    module.exit_json(changed=False, **guest.read_guest(p["root"], p["tty"]))


if __name__ == "__main__":
    main()
