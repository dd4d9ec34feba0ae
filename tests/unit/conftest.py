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

import pytest

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


@pytest.fixture(autouse=True)
def _modules_run_apart_from_the_controller(monkeypatch):
    """A module runs in its own process, where warnings go into its result. Once a test of a controller plugin
    (a filter) has imported ansible's controller code, ansible-core 2.19 sends module warnings to the display
    instead (``module_utils._internal.is_controller``), and a module test that asserts a warning would depend on
    the order the files run in. Each test starts as a module process would."""
    try:
        from ansible.module_utils import _internal
    except ImportError:  # ansible-core < 2.19 has no controller switch
        return
    if hasattr(_internal, "is_controller"):
        monkeypatch.setattr(_internal, "is_controller", False)
