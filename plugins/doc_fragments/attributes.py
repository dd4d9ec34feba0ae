# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # Attributes of the modules that change a domain's persistent definition. Modules state `support` themselves.
    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description:
      - Can run in check mode and return changed status prediction without modifying target.
      - Check mode reads the same XML, plans the same change and reports the same RV(changed), RV(domains) and diff
        as a real run, without defining, hot-plugging or power-cycling anything.
  diff_mode:
    description:
      - Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
      - The diff holds only the devices that change, one entry per domain; passwords appear as C(********).
  platform:
    description: Target OS/families that can be operated against.
    support: N/A
    platforms: libvirt
"""
