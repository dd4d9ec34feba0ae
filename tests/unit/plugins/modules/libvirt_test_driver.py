# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared by the module tests that run in-process against libvirt's test driver (test:///default): the domain
template, a module runner and an XML reader. The `conn` fixture that uses them is in conftest.py."""

from __future__ import annotations

import json

import pytest
from ansible.module_utils.testing import patch_module_args

libvirt = pytest.importorskip("libvirt")

URI = "test:///default"
FLAGS = libvirt.VIR_DOMAIN_XML_INACTIVE | libvirt.VIR_DOMAIN_XML_SECURE

DOMAIN = """<domain type='qemu'><name>%s</name><memory unit='MiB'>64</memory>
  <os><type arch='x86_64' machine='pc'>hvm</type></os><features><acpi/></features>
  <devices>%s</devices></domain>"""


def run(module, args, capsys, check=False, diff=False):
    args = dict(args, uri=args.get("uri", URI), _ansible_check_mode=check, _ansible_diff=diff)
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            module.main()
    return json.loads(capsys.readouterr().out)


def xml_of(conn, name):
    return conn.lookupByName(name).XMLDesc(FLAGS)
