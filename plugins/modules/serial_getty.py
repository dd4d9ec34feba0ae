#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: serial_getty
short_description: A systemd serial-getty on a serial tty in one call - drop-in, enabled by its unit link, started
version_added: 0.1.0
description:
  - Guest side, systemd only (used by role C(getty)). In one module call, what would otherwise be three to five -
    writes or removes this collection's drop-in for C(serial-getty@<tty>.service) and the one for the tty's
    device unit C(dev-<tty>.device) (O(device_timeout_s)), enables the unit for the next
    boot by its wants-link (exactly the link C(systemctl enable) makes,
    C(getty.target.wants/serial-getty@<tty>.service)), and, only with O(start=true), starts it now, or restarts
    it after a drop-in change (with a C(daemon-reload)).
  - Without O(start) no C(systemctl) runs at all - the right thing when the UART is missing and the domain gets a
    power cycle anyway, or in an image or chroot where systemd is not running.
author:
  - ttyfleet maintainers (@ttyfleet)
options:
  tty:
    description: Serial device name (C(ttyS<N>), C(ttyAMA<N>), C(hvc<N>)).
    type: str
    required: true
  dropin:
    description:
      - Full text of the drop-in C(/etc/systemd/system/serial-getty@<tty>.service.d/ttyfleet.conf). Omitted - the
        drop-in is removed if it exists (only this collection's file; other drop-ins are left alone).
    type: str
  device_timeout_s:
    description:
      - Seconds systemd waits at boot for udev to announce the tty, written as C(JobRunningTimeoutSec=) in the
        drop-in C(/etc/systemd/system/dev-<tty>.device.d/ttyfleet.conf) (the setting systemd-fstab-generator writes
        for C(x-systemd.device-timeout=); systemd 247, 252 and 257 load drop-ins for device units).
      - Why - C(serial-getty@.service) has C(BindsTo=dev-%i.device) and C(After=dev-%i.device), and a device unit's
        start job is cancelled after C(DefaultDeviceTimeoutSec=) (90 s; before systemd 252 C(DefaultTimeoutStartSec=))
        from early boot. On a slow boot (an emulated guest on a busy host) udev can announce the tty later; the
        getty's job then fails with result C(dependency) and no login prompt appears on the port until someone
        starts it.
      - It matters only at the next boot (the device is there now); with O(start=true) a C(daemon-reload) loads it.
      - 90 to 3600 (the range of role C(getty)'s C(getty_device_timeout_s)); less than systemd's own default of
        90 s would make a late tty more likely to lose its getty, not less.
      - Omitted - the drop-in is removed if it exists (only this collection's file), leaving systemd's default.
    type: int
  unit_dir:
    description: Directory of the packaged C(serial-getty@.service), the target of the wants-link.
    type: path
    default: /lib/systemd/system
  start:
    description:
      - Start the getty now when it is not active, and restart it when the drop-in changed. Only where systemd
        runs and the UART is live.
    type: bool
    default: false
extends_documentation_fragment:
  - ttyfleet.serial_console.guest
attributes:
  check_mode:
    support: full
    details: Predicts the real run exactly (it asks C(systemctl is-active), which changes nothing).
  diff_mode:
    support: full
seealso:
  - module: ttyfleet.serial_console.guest_console_info
"""

EXAMPLES = r"""
- name: Enable the serial getty for the next boot (the UART appears after the power cycle)
  ttyfleet.serial_console.serial_getty:
    tty: ttyS0

- name: Drop-in with the speed first, enabled and started now
  ttyfleet.serial_console.serial_getty:
    tty: ttyS0
    dropin: |
      [Service]
      ExecStart=
      ExecStart=-/sbin/agetty -o '-p -- \\u' --keep-baud 115200,57600,38400,9600 %I $TERM
    start: true

- name: Enabled for the next boot, waiting up to 5 minutes for the tty at boot
  ttyfleet.serial_console.serial_getty:
    tty: ttyS1
    device_timeout_s: 300
"""

RETURN = r"""
dropin_changed:
  description: The drop-in was (or in check mode would be) written or removed.
  returned: always
  type: bool
device_dropin_changed:
  description: The device unit drop-in (O(device_timeout_s)) was (or would be) written or removed.
  returned: always
  type: bool
link_changed:
  description: The wants-link was (or would be) made or corrected.
  returned: always
  type: bool
started:
  description: The getty was (or would be) started because it was not active.
  returned: always
  type: bool
restarted:
  description: The getty was (or would be) restarted after a drop-in change.
  returned: always
  type: bool
"""

import os  # noqa: E402 (validate-modules wants the docs first)
import tempfile  # noqa: E402 (validate-modules wants the docs first)

from ansible.module_utils.basic import AnsibleModule  # noqa: E402 (validate-modules wants the docs first)

from ansible_collections.ttyfleet.serial_console.plugins.module_utils import (  # noqa: E402
    _console_settings as cs,
)
from ansible_collections.ttyfleet.serial_console.plugins.module_utils import (  # noqa: E402
    _guest_console as guest,
)

WANTS = "/etc/systemd/system/getty.target.wants/serial-getty@%s.service"


def write_atomic(module, path, text):
    d = os.path.dirname(path)
    if not os.path.isdir(d):
        os.makedirs(d, 0o755)
    fd, tmp = tempfile.mkstemp(prefix=".ttyfleet.", dir=d)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.chmod(tmp, 0o644)
    module.atomic_move(tmp, path)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            tty=dict(type="str", required=True),
            dropin=dict(type="str"),
            device_timeout_s=dict(type="int"),
            unit_dir=dict(type="path", default="/lib/systemd/system"),
            start=dict(type="bool", default=False),
            root=dict(type="path", default="/"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    problems = cs.validate_settings(tty=p["tty"])
    if p["dropin"] is not None and "\0" in p["dropin"]:
        problems.append("dropin must be text without NUL characters")
    if p["device_timeout_s"] is not None and not 90 <= p["device_timeout_s"] <= 3600:
        problems.append("device_timeout_s must be 90-3600 seconds (omit it to remove the drop-in; less than "
                        "systemd's default of 90 s would make a late tty more likely to lose its getty)")
    if not os.path.isabs(p["unit_dir"]) or "\n" in p["unit_dir"]:
        problems.append("unit_dir must be an absolute path")
    if problems:
        module.fail_json(msg="; ".join(problems))
    tty, root = p["tty"], p["root"]
    unit = "serial-getty@%s.service" % tty
    dropin_path = guest.under(root, guest.GETTY_DROPIN % tty)
    link_path = guest.under(root, WANTS % tty)
    device_path = guest.under(root, guest.DEVICE_DROPIN % tty)
    target = os.path.join(p["unit_dir"], "serial-getty@.service")

    old = guest.read(dropin_path) if os.path.isfile(dropin_path) else None
    dropin_changed = old != p["dropin"]
    device_old = guest.read(device_path) if os.path.isfile(device_path) else None
    device_new = None if p["device_timeout_s"] is None else guest.device_dropin_text(p["device_timeout_s"])
    device_changed = device_old != device_new
    link_changed = not (os.path.islink(link_path) and os.readlink(link_path) == target)
    active = None
    start = p["start"] and root == "/"
    if start:
        systemctl = module.get_bin_path("systemctl", required=True)
        active = guest.systemd_active(unit, systemctl)
    restarted = start and dropin_changed and active == "active"
    started = start and active != "active"
    result = dict(
        changed=dropin_changed or device_changed or link_changed or started or restarted,
        dropin_changed=dropin_changed,
        device_dropin_changed=device_changed,
        link_changed=link_changed,
        started=started,
        restarted=restarted,
    )
    if module._diff:
        result["diff"] = [
            dict(
                before_header=guest.GETTY_DROPIN % tty,
                after_header=guest.GETTY_DROPIN % tty,
                before=old or "",
                after=p["dropin"] or "",
            ),
            dict(
                before_header=WANTS % tty,
                after_header=WANTS % tty,
                before=(os.readlink(link_path) + "\n") if os.path.islink(link_path) else "",
                after=target + "\n",
            ),
            dict(
                before_header=guest.DEVICE_DROPIN % tty,
                after_header=guest.DEVICE_DROPIN % tty,
                before=device_old or "",
                after=device_new or "",
            ),
        ]
    if module.check_mode or not result["changed"]:
        module.exit_json(**result)

    if dropin_changed:
        if p["dropin"] is None:
            os.unlink(dropin_path)
        else:
            write_atomic(module, dropin_path, p["dropin"])
    if device_changed:
        if device_new is None:
            os.unlink(device_path)
        else:
            write_atomic(module, device_path, device_new)
    if link_changed:
        os.makedirs(os.path.dirname(link_path), 0o755, exist_ok=True)
        if os.path.lexists(link_path):
            os.unlink(link_path)
        os.symlink(target, link_path)
    if start and (dropin_changed or device_changed):
        module.run_command([systemctl, "daemon-reload"], check_rc=True)
    if started or restarted:
        module.run_command([systemctl, "restart" if restarted else "start", unit], check_rc=True)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
