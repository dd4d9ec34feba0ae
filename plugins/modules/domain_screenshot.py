#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r"""
module: domain_screenshot
short_description: Save what a running libvirt domain's display shows as a PNG
version_added: 0.1.0
description:
  - Takes a screenshot of a running domain's display through libvirt's screenshot API (what C(virsh screenshot)
    does) and writes it as a PNG file on the host that runs the module.
  - Meant for a guest whose serial console stays silent, where the display tells at once whether the guest sits
    in GRUB, an emergency shell, a kernel panic or the firmware.
  - libvirt 9 with QEMU 7.1 or later hands out a PNG, written as it is; older ones hand out a PPM, which the module
    converts to PNG itself (Python standard library only). Either way the image is decoded to tell a blank display
    from one that shows something (RV(blank)).
  - Never changes the domain. The file is written with mode C(0600), because a display can show what a console
    user typed, and only when its content differs from the file already at O(dest).
author:
  - ttyfleet maintainers (@ttyfleet)
options:
  name:
    description:
      - The domain. It must be running (or paused), since a shut off domain has no display.
    type: str
    required: true
  uri:
    description:
      - The libvirt connection URI.
    type: str
    default: qemu:///system
  dest:
    description:
      - Absolute path of the PNG file to write. Its directory must exist.
    type: path
    required: true
  screen:
    description:
      - The screen (head) of the video device to capture, 0 for the first.
    type: int
    default: 0
attributes:
  check_mode:
    support: full
    description: Check mode takes the screenshot (which changes nothing) and reports whether the file would change,
      but writes nothing.
  diff_mode:
    support: none
    description: An image has no textual diff; RV(sha256) tells two screenshots apart.
  platform:
    support: N/A
    platforms: libvirt
    description: Target OS/families that can be operated against.
notes:
  - Two screenshots of a running guest differ whenever anything on its display moved (a blinking cursor does
    not count on a text console, a clock does), so a second run may report C(changed=true).
requirements:
  - libvirt-python (the C(libvirt) Python module) on the host that runs the module
seealso:
  - name: virDomainScreenshot
    description: The libvirt API the module calls.
    link: https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainScreenshot
"""

EXAMPLES = r"""
- name: What does web1's display show?
  ttyfleet.serial_console.domain_screenshot:
    name: web1
    dest: /var/tmp/web1-vga.png
  register: shot

- name: Say where it is
  ansible.builtin.debug:
    msg: "{{ shot.path }} ({{ shot.width }}x{{ shot.height }}{{ ', blank' if shot.blank else '' }})"
"""

RETURN = r"""
path:
  description: The PNG file (written, or in check mode the file that would be written).
  returned: success
  type: str
  sample: /var/tmp/web1-vga.png
width:
  description: The image width in pixels.
  returned: success
  type: int
  sample: 720
height:
  description: The image height in pixels.
  returned: success
  type: int
  sample: 400
blank:
  description:
    - Whether every pixel has the same colour (a display that is off or shows nothing yet).
  returned: success
  type: bool
  sample: false
colours:
  description: The number of distinct colours, counted up to 256 (a VGA text screen has a few).
  returned: success
  type: int
  sample: 2
mime_type:
  description: The image type the hypervisor sent before conversion.
  returned: success
  type: str
  sample: image/x-portable-pixmap
sha256:
  description: The SHA-256 of the PNG.
  returned: success
  type: str
  sample: 6d2c5b0c8a1e7f3f0e4a6b2e9c1d7a5b3f8e0d4c2a6b9e1f7d3c5a8b0e2f4d6c
size_bytes:
  description: The size of the PNG in bytes.
  returned: success
  type: int
  sample: 4187
"""

import hashlib  # noqa: E402 (validate-modules wants the docs first)
import os  # noqa: E402
import tempfile  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ansible_collections.ttyfleet.serial_console.plugins.module_utils import _libvirt  # noqa: E402
from ansible_collections.ttyfleet.serial_console.plugins.module_utils._image import (  # noqa: E402
    ImageError,
    png_size,
    to_png,
)


def _same_content(path, data):
    try:
        with open(path, "rb") as f:
            return f.read() == data
    except FileNotFoundError:
        return False


def _write(module, dest, data):
    """Write ``data`` next to ``dest`` with mode 0600, then move it into place (never a half-written PNG)."""
    fd, tmp = tempfile.mkstemp(prefix=".domain_screenshot.", suffix=".png", dir=os.path.dirname(dest))
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o600)
        os.replace(tmp, dest)
    except OSError as e:
        if os.path.exists(tmp):
            os.unlink(tmp)
        module.fail_json(msg="cannot write dest %s: %s" % (dest, e.strerror))
    with open(dest, "rb") as f:
        if f.read() != data:
            module.fail_json(msg="dest %s does not hold the screenshot just written" % dest)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            uri=dict(type="str", default="qemu:///system"),
            dest=dict(type="path", required=True),
            screen=dict(type="int", default=0),
        ),
        supports_check_mode=True,
    )
    name, dest, screen = module.params["name"], module.params["dest"], module.params["screen"]
    if not name:
        module.fail_json(msg="name must be a domain name, not empty")
    if not os.path.isabs(dest) or dest.endswith("/"):
        module.fail_json(msg="dest must be an absolute path of a file, got %r" % dest)
    if not os.path.isdir(os.path.dirname(dest)):
        module.fail_json(msg="dest's directory %s does not exist" % os.path.dirname(dest))
    if os.path.isdir(dest):
        module.fail_json(msg="dest %s is a directory; give the path of the PNG file" % dest)
    if not 0 <= screen <= 15:
        module.fail_json(msg="screen must be between 0 and 15, got %d" % screen)
    _libvirt.require_libvirt(module)

    uri = module.params["uri"]
    conn = None
    try:
        conn = _libvirt.connect(uri)
        selected = _libvirt.select_domains(conn, uri, [name])
        dom = selected[0].dom
        if not _libvirt.is_active(dom, name):
            raise _libvirt.LibvirtFailure(
                "domain %s is not running: a shut off domain has no display to capture" % name
            )
        mime, data = _libvirt.screenshot(conn, dom, screen)
    except _libvirt.DomainsNotFound as e:
        module.fail_json(msg="domain not found on %s: %s" % (uri, ", ".join(e.missing)))
    except _libvirt.LibvirtFailure as e:
        module.fail_json(msg=str(e))
    finally:
        _libvirt.close_quietly(conn)

    try:
        png, image = to_png(data, mime)
    except ImageError as e:
        module.fail_json(msg="domain %s: the screenshot cannot be read: %s" % (name, e), mime_type=mime)
    width, height = png_size(png)
    changed = not _same_content(dest, png)
    if changed and not module.check_mode:
        _write(module, dest, png)
    module.exit_json(
        changed=changed,
        path=dest,
        width=width,
        height=height,
        blank=image.is_blank(),
        colours=image.colours(),
        mime_type=mime,
        sha256=hashlib.sha256(png).hexdigest(),
        size_bytes=len(png),
    )


if __name__ == "__main__":
    main()
