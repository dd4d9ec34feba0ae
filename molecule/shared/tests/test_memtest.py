# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""memtest86+ on a converged guest: its GRUB entries are there and as its package wrote them (issue 8: only Linux
kernel entries are judged; before, the role demanded console= on memtest's line and never converged)."""

import re

import pytest


def test_memtest_entries_untouched(host):
    """memtest86+ keeps the entries its package writes (host var molecule_expect_memtest: the bookworm guest of
    `default` has it installed): present, and without the kernel's console= arguments the roles set."""
    if not host.ansible.get_variables().get("molecule_expect_memtest"):
        pytest.skip("this guest has no memtest86+ by design")
    assert host.package("memtest86+").is_installed, "memtest86+ is not installed: the memtest case would be vacuous"
    cfg = host.file("/boot/grub/grub.cfg").content_string
    m = re.search(r"^### BEGIN /etc/grub.d/20_memtest86\+ ###\n(.*?)^### END", cfg, re.M | re.S)
    assert m, "grub.cfg has no 20_memtest86+ section"
    lines = [line.split() for line in m.group(1).splitlines() if line.split()[:1] == ["linux"]]
    assert [w[2:] for w in lines] == [[], ["console=ttyS0,115200"]], f"memtest86+ entries changed: {lines}"
    assert all(w[1].endswith("/memtest86+x64.bin") for w in lines), f"memtest86+ entries changed: {lines}"
