# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # The connection and the choice of domains, shared by every module that works on libvirt domains.
    DOCUMENTATION = r"""
options:
  name:
    description:
      - Names of the domains to work on. A single name works too.
      - Every name must exist on O(uri); an unknown name fails the task before anything is changed.
      - Mutually exclusive with O(all_domains=true); one of the two is required.
    type: list
    elements: str
  all_domains:
    description:
      - Work on every persistent domain defined on O(uri), running or not. Transient domains are skipped.
    type: bool
    default: false
  uri:
    description:
      - The libvirt connection URI. One connection serves all domains of the task.
      - Reading the VNC password needs a read-write connection (root, or a member of the C(libvirt) group).
    type: str
    default: qemu:///system
requirements:
  - libvirt-python (the C(libvirt) Python module) on the host that runs the module
"""
