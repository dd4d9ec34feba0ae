# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The modules' restart_required and the audit's restart_pending are one rule (_domain_runtime).

Each pair is a persistent config and the live XML of the same running domain, as libvirt 9.0 produced them
(fixtures/console_info), or such a pair with one runtime-only value or one real difference put in. For every device
domain_serial / domain_vnc can manage, the module's answer (its Device, as the runner calls it, check mode, no live
apply) must be the audit's (describe_domain's pending_changes for that device).
"""

from __future__ import annotations

import os

import pytest

from ansible_collections.ttyfleet.serial_console.plugins.module_utils._console_info import describe_domain
from ansible_collections.ttyfleet.serial_console.plugins.module_utils._domain_devices import (
    LiveContext,
    SerialDevice,
    VncDevice,
)
from ansible_collections.ttyfleet.serial_console.plugins.module_utils._domain_spec import (
    validate_serial_spec,
    validate_vnc_spec,
)

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "console_info")
PAIRS = ("bare-running", "multi-pending-passwd", "multi-pending-serial", "multi-running", "socket-running",
         "spice-running")


def pair(name):
    def read(kind):
        with open(os.path.join(FIXTURES, "%s.%s.xml" % (name, kind)), encoding="utf-8") as f:
            return f.read()
    return read("config"), read("live")


def live_variant(name, old, new, count=1):
    config, live = pair(name)
    assert live.count(old) >= count, (name, old)
    return config, live.replace(old, new, count)


def config_variant(name, old, new):
    config, live = pair(name)
    assert old in config, (name, old)
    return config.replace(old, new, 1), live


# (config, live) pairs: real ones, then one runtime-only value or one real difference each.
CASES = {name: pair(name) for name in PAIRS}
CASES.update({
    # runtime-only: must never count
    "websocket generated (status XML)": live_variant("multi-running", "websocket='5700'",
                                                     "websocket='5700' websocketGenerated='yes'"),
    "autoport picked another port": live_variant("multi-running", "port='5900' autoport='yes' websocket",
                                                 "port='5931' autoport='yes' websocket"),
    "another pty": live_variant("multi-running", "/dev/pts/1", "/dev/pts/7", count=3),
    "socket path named by libvirt": live_variant("socket-running", "domain-19-tf-h2-sock", "domain-20-tf-h2-sock",
                                                 count=2),
    # real differences: must count
    "vnc keymap": config_variant("multi-running", "keymap='de'", "keymap='fr'"),
    "vnc listen": live_variant("multi-running", "listen='127.0.0.1' keymap='de' passwd='secret12'>\n      <listen "
                               "type='address' address='127.0.0.1'/>", "listen='::1' keymap='de' passwd='secret12'>\n"
                               "      <listen type='address' address='::1'/>"),
    "vnc listen the host default filled in": live_variant("spice-running", "127.0.0.1", "::1"),
    "vnc fixed port": config_variant("spice-running", "port='5977' autoport='no'", "port='5978' autoport='no'"),
    "vnc unknown attribute": config_variant("spice-running", "port='5977' autoport='no'",
                                            "port='5977' autoport='no' sharePolicy='force-shared'"),
    "serial log added": config_variant("multi-running", "<serial type='file'>",
                                       "<serial type='file'>\n      <log file='/tmp/l.log' append='off'/>"),
    "serial tcp protocol": config_variant("multi-running", "<protocol type='telnet'/>", "<protocol type='raw'/>"),
    "serial tls asked for": config_variant("multi-running", "service='4555'/>", "service='4555' tls='yes'/>"),
    "twin log removed": config_variant("multi-running", "<console type='pty'>\n      <log "
                                       "file='/var/log/libvirt/qemu/tf-h2-multi-serial0.log' append='on'/>",
                                       "<console type='pty'>"),
    "virtio console added": config_variant("multi-running", "<target type='virtio' port='1'/>\n    </console>",
                                           "<target type='virtio' port='1'/>\n    </console>\n    <console "
                                           "type='pty'>\n      <target type='virtio' port='2'/>\n    </console>"),
})


def specs():
    for port in range(4):
        yield "serial port %d" % port, SerialDevice(validate_serial_spec({"port": port}))
    for port in range(3):
        yield "virtio port %d" % port, SerialDevice(validate_serial_spec({"port": port, "target_type": "virtio"}))
    yield "vnc", VncDevice(validate_vnc_spec({}))


def audit_says(config, live, device):
    """Whether the audit reports a pending change on the devices ``device`` manages."""
    pending = [c.split(":")[0] for c in describe_domain(config, live)["pending_changes"]]
    if isinstance(device, VncDevice):
        return "graphics vnc" in pending
    if device.spec.virtio:
        return any(k.startswith("virtio console #") for k in pending)
    # the console twin belongs to the first serial port (of either copy), not to every port
    twin = device.spec.port in (first_serial_port(config), first_serial_port(live))
    return any(k == "serial port %d" % device.spec.port or (twin and k.startswith("console on serial port "))
               for k in pending)


def first_serial_port(xml):
    ports = [s["target_port"] for s in describe_domain(xml)["serials"]]
    return ports[0] if ports else None


def module_says(config, live, device):
    ctx = LiveContext(dom=None, name="d", live_xml=live, persistent_xml=config, check_mode=True, live=False)
    return device.live(ctx).restart_required


@pytest.mark.parametrize("case", sorted(CASES))
def test_modules_and_audit_agree_on_every_managed_device(case):
    config, live = CASES[case]
    disagree = [(label, module_says(config, live, device), audit_says(config, live, device))
                for label, device in specs()
                if module_says(config, live, device) != audit_says(config, live, device)]
    assert disagree == [], "%s: (device, module restart_required, audit restart_pending): %s" % (case, disagree)


@pytest.mark.parametrize("case, pending", [
    ("multi-running", False),
    ("websocket generated (status XML)", False),
    ("autoport picked another port", False),
    ("another pty", False),
    ("socket path named by libvirt", False),
    ("vnc listen the host default filled in", False),
    ("multi-pending-serial", True),
    ("multi-pending-passwd", True),
    ("vnc keymap", True),
    ("vnc listen", True),
    ("vnc unknown attribute", True),
    ("serial log added", True),
    ("twin log removed", True),
    ("virtio console added", True),
])
def test_the_cases_mean_what_they_say(case, pending):
    """Agreement alone would pass if both sides said True everywhere: the runtime-only cases are not pending."""
    config, live = CASES[case]
    assert describe_domain(config, live)["restart_pending"] is pending
    assert any(module_says(config, live, device) for _label, device in specs()) is pending


def _live_check(case, port):
    config, live = CASES[case]
    device = SerialDevice(validate_serial_spec({"port": port, "target_type": "virtio"}))
    return device.live(LiveContext(dom=None, name="d", live_xml=live, persistent_xml=config, check_mode=True,
                                   live=True))


def test_a_renumbered_virtio_console_is_never_hot_plugged_again():
    """libvirt renumbers virtio consoles at start (config port 1 runs as port 0): the running one is the same
    device, found by its order, so no second one is hot-plugged; one only the definition has is."""
    result = _live_check("multi-running", 1)
    assert (result.restart_required, result.live_applied, result.changes) == (False, False, [])
    assert _live_check("virtio console added", 1).changes == []
    added = _live_check("virtio console added", 2)
    assert added.changes == ["hot-plug virtio console port 2 (hvc2) into the running domain"]
    assert (added.live_applied, added.restart_required) == (True, False)
