# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # The guest-side modules (run inside a guest): the test hook `root` and the attribute texts. Each module
    # states its own `support` for check_mode and diff_mode.
    DOCUMENTATION = r"""
options:
  root:
    description:
      - Directory every guest path is read (and written) under. Only for tests against a prepared root file system;
        C(/) on guests. With another root nothing is started or signalled.
    type: path
    default: /
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying target.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
"""
