# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The `conn` fixture for module tests on libvirt's test driver: defines throw-away domains, removes them after."""

from __future__ import annotations

import uuid

import pytest
from libvirt_test_driver import DOMAIN, URI


@pytest.fixture
def conn():
    libvirt = pytest.importorskip("libvirt")
    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
    c = libvirt.open(URI)
    made = []

    def define(devices="", name=None):
        name = name or "tf-unit-%s" % uuid.uuid4().hex[:8]
        made.append(c.defineXML(DOMAIN % (name, devices)))
        return name

    c.make = define
    yield c
    for d in made:
        try:
            d.undefine()
        except libvirt.libvirtError:
            pass
    c.close()
