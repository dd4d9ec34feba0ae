# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: console_settings
short_description: One set of serial console settings, checked, with every string derived from it
version_added: 0.1.0
description:
  - Takes the console settings (any of C(tty), C(unit), C(speed), C(word), C(parity), C(stop), C(console_order))
    and returns them complete and checked, with the strings every part of the collection derives from them - the
    kernel C(console=) value, GRUB's C(serial) command, the C(console=) list in order, agetty's speed list.
  - The one formula for these settings, shared with the guest-side modules; the C(guest) role passes its result to
    its sub-roles, and the fleet playbooks build it from the C(serial_console_*) inventory variables.
  - Fails, naming each bad key and what it allows, on a bad value or an unknown key.
positional: _input
options:
  _input:
    description: The settings. Missing keys take the defaults (unit 0, 115200 baud, 8 data bits, no parity,
      1 stop bit, console order C([tty0, serial])); a missing C(tty) is C(ttyS<unit>).
    type: dict
    required: true
  prefix:
    description:
      - "How the messages name the caller's variables - a prefix (C(guest_) - C(guest_tty 'tty0' must be a serial
        device name ...)), or a dict of key to variable name (C({unit: serial_console_port}); other keys are named
        as they are)."
    type: raw
    default: ""
author:
  - ttyfleet maintainers (@ttyfleet)
"""

EXAMPLES = r"""
- name: The kernel console= value and GRUB's serial command for port 1 at 9600 baud
  ansible.builtin.debug:
    msg: "{{ s.console }} / {{ s.serial_command }}"
  vars:
    s: "{{ {'unit': 1, 'speed': 9600} | ttyfleet.serial_console.console_settings }}"
  # ttyS1,9600n8 / serial --unit=1 --speed=9600 --word=8 --parity=no --stop=1
"""

RETURN = r"""
_value:
  description:
    - C(tty), C(unit), C(port) (= unit, the libvirt serial target port), C(speed), C(word), C(parity), C(stop);
    - C(line) (C(115200n8)), C(console) (the kernel C(console=) value, C(ttyS0,115200n8); C(hvc0) alone),
      C(console_order) and C(consoles) (the C(console=) values in order, C(serial) replaced by C(console); the last
      becomes C(/dev/console)), C(serial_command) (GRUB's C(serial --unit=0 --speed=115200 ...)), C(getty_speeds)
      (agetty's list, the wanted speed first).
  type: dict
"""

from collections.abc import Mapping  # noqa: E402 (the docs come first)

from ansible.errors import AnsibleFilterError  # noqa: E402

from ansible_collections.ttyfleet.serial_console.plugins.module_utils import _console_settings as cs  # noqa: E402


def console_settings(values, prefix=""):
    try:
        return cs.settings(dict(values) if isinstance(values, Mapping) else values, prefix=prefix)
    except ValueError as e:
        raise AnsibleFilterError(str(e)) from None


class FilterModule:
    def filters(self):
        return {"console_settings": console_settings}
