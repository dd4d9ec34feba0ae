# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""guest_console_info on prepared root trees: distribution family, pam_securetty through includes and bracketed
controls, live UART, getty process found through its standard input, boot method without GRUB."""

from __future__ import annotations

import json
import os

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.ttyfleet.serial_console.plugins.modules import guest_console_info as info


def run(capsys, root, tty="ttyS0"):
    with patch_module_args({"root": str(root), "tty": tty}):
        with pytest.raises(SystemExit):
            info.main()
    return json.loads(capsys.readouterr().out)


def put(root, path, text=""):
    p = root / path
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return p


@pytest.mark.parametrize(
    "release, family, ident, major",
    [
        ('ID=debian\nVERSION_ID="12"\n', "Debian", "debian", "12"),
        ('ID=ubuntu\nID_LIKE=debian\nVERSION_ID="22.04"\n', "Debian", "ubuntu", "22"),
        ('ID="rocky"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.3"\n', "RedHat", "rocky", "9"),
        ('ID="sles"\nID_LIKE="suse"\nVERSION_ID="15.5"\n', "Suse", "sles", "15"),
        ('ID="opensuse-leap"\nID_LIKE="suse opensuse"\nVERSION_ID="15.6"\n', "Suse", "opensuse-leap", "15"),
    ],
)
def test_os_family(tmp_path, capsys, release, family, ident, major):
    put(tmp_path, "etc/os-release", release)
    os_ = run(capsys, tmp_path)["os"]
    assert (os_["family"], os_["id"], os_["major"]) == (family, ident, major)


def test_centos6_without_os_release(tmp_path, capsys):
    put(tmp_path, "etc/redhat-release", "CentOS release 6.10 (Final)\n")
    put(tmp_path, "boot/grub/grub.conf", "title x\n")
    res = run(capsys, tmp_path)
    assert res["os"]["family"] == "RedHat" and res["os"]["major"] == "6"
    assert res["boot"]["grub"] == "legacy" and res["boot"]["legacy_files"] == ["/boot/grub/grub.conf"]


def test_pam_securetty_bracketed_control_and_includes(tmp_path, capsys):
    put(tmp_path, "etc/pam.d/login", "auth [success=ok ignore=ignore user_unknown=bad default=die] pam_securetty.so\n")
    assert run(capsys, tmp_path)["pam_securetty"]["active"] is True
    put(tmp_path, "etc/pam.d/login", "#auth required pam_securetty.so\nauth substack system-auth\n")
    put(tmp_path, "etc/pam.d/system-auth", "auth required /lib/security/pam_securetty.so\n")
    res = run(capsys, tmp_path)["pam_securetty"]
    assert res["active"] is True and res["file"] == "/etc/pam.d/system-auth" and res["securetty_exists"] is False
    put(tmp_path, "etc/pam.d/system-auth", "auth required pam_unix.so\n")
    assert run(capsys, tmp_path)["pam_securetty"]["active"] is False


def test_uart_and_getty_on_stdin(tmp_path, capsys):
    put(tmp_path, "sys/class/tty/ttyS0/type", "0\n")
    assert run(capsys, tmp_path)["tty"]["live"] is False
    put(tmp_path, "sys/class/tty/ttyS0/type", "4\n")
    put(tmp_path, "proc/1/comm", "systemd\n")
    put(tmp_path, "proc/42/cmdline", "/sbin/agetty\0-o\0-p -- \\u\0--keep-baud\0115200\0-\0vt220\0")
    (tmp_path / "proc/42/fd").mkdir()
    os.symlink("/dev/ttyS0", tmp_path / "proc/42/fd/0")
    res = run(capsys, tmp_path)
    assert res["tty"]["live"] is True and res["getty"]["running"] is True and res["pid1"] == "systemd"
    assert res["getty"]["enabled"] is False


def test_no_grub_names_the_boot_method(tmp_path, capsys):
    put(tmp_path, "run/ostree-booted")
    boot = run(capsys, tmp_path)["boot"]
    assert boot["grub"] == "none" and boot["method"] == "ostree"


def test_bad_tty_name(tmp_path, capsys):
    res = run(capsys, tmp_path, tty="tty0")
    assert res["failed"] and "not a serial device name" in res["msg"]
