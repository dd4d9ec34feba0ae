# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The unit tests run on every ansible-core the collection claims (make matrix: 2.16 to 2.19).

``ansible.module_utils.testing.patch_module_args`` is new in ansible-core 2.19; on older releases the same context
manager is provided here (the module args as AnsibleModule reads them, ``basic._ANSIBLE_ARGS``), so the test files
import it from one place whatever the version.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import sys
import types
from unittest import mock

if importlib.util.find_spec("ansible.module_utils.testing") is None:  # ansible-core 2.19 and newer have it
    from ansible.module_utils import basic

    @contextlib.contextmanager
    def patch_module_args(args=None):
        if not isinstance(args, (dict, type(None))):
            raise TypeError("The `args` arg must be a dict or None.")
        data = json.dumps({"ANSIBLE_MODULE_ARGS": args or {}}).encode()
        with mock.patch.object(basic, "_ANSIBLE_ARGS", data):
            yield

    _compat = types.ModuleType("ansible.module_utils.testing")
    _compat.patch_module_args = patch_module_args
    sys.modules["ansible.module_utils.testing"] = _compat
