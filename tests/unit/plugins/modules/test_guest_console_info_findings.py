# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The audit's guest side on prepared root file systems: one guest_console_info call reads the root, the findings
table (_findings.guest_findings, what the guest_findings filter runs) judges it; a clean guest has no finding,
each planted fault its own. These are the cases of the audit's former console_probe.py (tests/integration/targets/
fleet_audit/test_probe.py): the facts the probe was handed on its command line (init, UART, GRUB flavour,
pam_securetty, /proc/cmdline) are planted in the root too, so the one read has to find them itself."""

from __future__ import annotations

import json
import os

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.ttyfleet.serial_console.plugins.module_utils import _findings
from ansible_collections.ttyfleet.serial_console.plugins.modules import guest_console_info as info

GRUB_CFG = """\
serial --unit=0 --speed=115200 --word=8 --parity=no --stop=1
terminal_input console serial
terminal_output console serial
menuentry 'Debian GNU/Linux' {
\tlinux\t/boot/vmlinuz-6.1.0-28-amd64 root=UUID=x ro console=tty0 console=ttyS0,115200n8 quiet
}
submenu 'Advanced options' {
\tmenuentry 'Debian (recovery mode)' {
\t\tlinux\t/boot/vmlinuz-6.1.0-28-amd64 root=UUID=x ro single console=tty0 console=ttyS0,115200n8
\t}
}
"""
DEFAULT_GRUB = 'GRUB_DEFAULT=0\nGRUB_TIMEOUT=5\nGRUB_CMDLINE_LINUX_DEFAULT="quiet"\nGRUB_CMDLINE_LINUX=""\n'
DROPIN = (
    'GRUB_TERMINAL="console serial"\n'
    'GRUB_SERIAL_COMMAND="serial --unit=0 --speed=115200 --word=8 --parity=no --stop=1"\n'
    'GRUB_CMDLINE_LINUX="${GRUB_CMDLINE_LINUX:+$GRUB_CMDLINE_LINUX }console=tty0 console=ttyS0,115200n8"\n'
)
RUNNING = "BOOT_IMAGE=/boot/vmlinuz-6.1.0-28-amd64 root=UUID=x ro console=tty0 console=ttyS0,115200n8 quiet"
PAM_SECURETTY = "auth required pam_securetty.so\n"


def write(root, path, text):
    full = os.path.join(str(root), path)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "w") as f:
        f.write(text)
    return full


def make_root(
    base,
    name,
    grub_cfg=GRUB_CFG,
    dropin=DROPIN,
    getty="ttyS0",
    wants=True,
    inittab=None,
    init="systemd",
    uart=("ttyS0", 4),
    cmdline=RUNNING,
    securetty=None,
):
    """A guest as the probe's FACTS described it: systemd booted, a live ttyS0, GRUB 2, no pam_securetty."""
    root = os.path.join(str(base), name)
    write(root, "boot/grub/grub.cfg", grub_cfg)
    write(root, "etc/default/grub", DEFAULT_GRUB)
    os.chmod(write(root, "usr/sbin/update-grub", "#!/bin/sh\n"), 0o755)
    if dropin is not None:
        write(root, "etc/default/grub.d/90-ttyfleet-serial-console.cfg", dropin)
    write(root, "proc/1/cmdline", "/sbin/init\0")
    write(root, "proc/cmdline", cmdline + "\n")
    if uart:
        write(root, "sys/class/tty/%s/type" % uart[0], "%d\n" % uart[1])
    if init == "systemd":
        os.makedirs(os.path.join(root, "run/systemd/system"))
    if getty:
        write(
            root,
            "proc/412/cmdline",
            "/sbin/agetty\0-o\0-p -- \\u\0--keep-baud\0115200,57600,38400,9600\0%s\0vt220\0" % getty,
        )
    if wants:
        os.makedirs(os.path.join(root, "etc/systemd/system/getty.target.wants"), exist_ok=True)
        os.symlink(
            "/lib/systemd/system/serial-getty@.service",
            os.path.join(root, "etc/systemd/system/getty.target.wants/serial-getty@ttyS0.service"),
        )
    if inittab is not None:
        write(root, "etc/inittab", inittab)
    if securetty is not None:
        write(root, "etc/pam.d/login", PAM_SECURETTY)
        write(root, "etc/securetty", "".join(t + "\n" for t in securetty))
    return root


def run(capsys, root, host_ports=(0,), tty="ttyS0", **settings):
    """The audit's guest read: one module call, then the findings of the fleet's settings (port 0, 115200 8N1)."""
    with patch_module_args(dict(root=root, tty=tty)):
        with pytest.raises(SystemExit):
            info.main()
    res = json.loads(capsys.readouterr().out)
    assert not res.get("failed"), res
    assert res["changed"] is False
    want = dict(dict(port=0, speed=115200, word=8, parity="no", stop=1), **settings)
    res["findings"] = _findings.guest_findings(want, res, None if host_ports is None else list(host_ports))
    return res


def kinds(doc):
    return sorted({f["kind"] for f in doc["findings"]})


def check(name, doc, expected):
    assert kinds(doc) == sorted(expected), "%s: expected findings %s, got\n%s" % (
        name,
        sorted(expected),
        json.dumps(doc["findings"], indent=1),
    )
    assert all(f["side"] == "guest" and f["detail"] and f["fix"] for f in doc["findings"]), doc["findings"]


def test_clean_guest(tmp_path, capsys):
    doc = run(capsys, make_root(tmp_path, "clean"))
    check("clean guest", doc, [])
    assert doc["getty"]["processes"] and doc["getty"]["running"] and doc["getty"]["enabled"], doc["getty"]
    assert doc["getty"]["enabled_by"].startswith("systemd unit enabled"), doc["getty"]
    assert doc["getty"]["wants"] == ["/etc/systemd/system/getty.target.wants/serial-getty@ttyS0.service"]
    assert doc["default_grub"]["GRUB_TERMINAL"] == "console serial", doc["default_grub"]
    assert doc["default_grub"]["GRUB_CMDLINE_LINUX"] == "console=tty0 console=ttyS0,115200n8", doc["default_grub"]
    assert doc["grub_cfg"]["entries"] == 2 and doc["grub_cfg"]["entries_without_console"] == 0, doc["grub_cfg"]
    assert doc["proc_cmdline_consoles"] == ["tty0", "ttyS0,115200n8"]
    assert doc["tty"]["live"] is True
    assert doc["init"] == "systemd" and doc["boot"]["grub"] == "grub2"


VGA = GRUB_CFG.replace("terminal_output console serial", "terminal_output console").replace(
    "terminal_input console serial", "terminal_input console"
)
NOCONSOLE = GRUB_CFG.replace(" console=tty0 console=ttyS0,115200n8", "")


def test_grub_terminal_unconfigured_and_stale(tmp_path, capsys):
    doc = run(capsys, make_root(tmp_path, "grub-unconfigured", grub_cfg=VGA, dropin=None))
    check("grub terminal unconfigured", doc, ["grub_terminal"])
    assert "run the guest role" in doc["findings"][0]["fix"], doc["findings"]
    # GRUB_TERMINAL has serial but grub.cfg does not: the power-loss-after-update-grub case
    doc = run(capsys, make_root(tmp_path, "grub-stale", grub_cfg=VGA))
    check("grub.cfg stale", doc, ["grub_terminal"])
    assert doc["findings"][0]["fix"] == "run update-grub", doc["findings"]


def test_kernel_console_not_configured_or_not_running(tmp_path, capsys):
    check(
        "console= not configured",
        run(capsys, make_root(tmp_path, "kcfg", grub_cfg=NOCONSOLE)),
        ["kernel_console_config"],
    )
    doc = run(capsys, make_root(tmp_path, "krun", cmdline="BOOT_IMAGE=/vmlinuz root=UUID=x ro quiet"))
    check("console= not running", doc, ["kernel_console_running"])
    assert "restart is pending" in doc["findings"][0]["detail"], doc["findings"]


def test_getty(tmp_path, capsys):
    check("no getty", run(capsys, make_root(tmp_path, "nogetty", getty=None)), ["getty"])
    doc = run(
        capsys, make_root(tmp_path, "getty-not-enabled", grub_cfg=NOCONSOLE, wants=False, cmdline="root=UUID=x ro")
    )
    check("getty not enabled", doc, ["getty", "kernel_console_config", "kernel_console_running"])
    # systemd starts the getty by itself when console=ttyS0 is configured: no wants link needed
    doc = run(capsys, make_root(tmp_path, "getty-generator", wants=False))
    check("getty by the generator", doc, [])
    assert doc["getty"]["enabled_by"].startswith("systemd-getty-generator"), doc["getty"]
    assert doc["getty"]["enabled"] is False


def test_sysvinit_inittab_getty(tmp_path, capsys):
    inittab = "id:2:initdefault:\nT0:23:respawn:/sbin/getty -L ttyS0 115200 vt102\n"
    doc = run(capsys, make_root(tmp_path, "sysvinit", wants=False, inittab=inittab, init="sysvinit"))
    assert doc["init"] == "sysvinit"
    check("sysvinit inittab getty", doc, [])
    doc = run(
        capsys,
        make_root(tmp_path, "sysvinit-none", wants=False, inittab="id:2:initdefault:\n", getty=None, init="sysvinit"),
    )
    check("sysvinit without getty", doc, ["getty"])
    assert "inittab" in doc["findings"][0]["fix"], doc["findings"]


def test_securetty(tmp_path, capsys):
    # pam_securetty in force and ttyS0 not listed; fine when ttyS0 is /dev/console (the last console=)
    vga_last = "root=UUID=x console=ttyS0,115200n8 console=tty0"
    doc = run(capsys, make_root(tmp_path, "locked", cmdline=vga_last, securetty=["console", "tty1"]))
    assert doc["pam_securetty"]["active"] is True
    check("securetty locks root out", doc, ["securetty"])
    check("securetty: ttyS0 is /dev/console", run(capsys, make_root(tmp_path, "dc", securetty=["console", "tty1"])), [])
    check(
        "securetty lists ttyS0", run(capsys, make_root(tmp_path, "listed", cmdline=vga_last, securetty=["ttyS0"])), []
    )


def test_line_settings_and_port(tmp_path, capsys):
    # the fleet says 115200 on ttyS0
    slow = make_root(
        tmp_path, "speed", grub_cfg=GRUB_CFG.replace("115200", "9600"), cmdline=RUNNING.replace("115200", "9600")
    )
    check("speed mismatch", run(capsys, slow), ["speed_mismatch"])
    ttys1 = GRUB_CFG.replace("console=ttyS0", "console=ttyS1")
    doc = run(capsys, make_root(tmp_path, "port", grub_cfg=ttys1, cmdline=RUNNING.replace("ttyS0", "ttyS1")))
    check("port mismatch", doc, ["kernel_console_config", "kernel_console_running", "port_mismatch"])
    # GRUB on another unit than the kernel console and the host's port
    unit = make_root(tmp_path, "unit", grub_cfg=GRUB_CFG.replace("--unit=0", "--unit=1"))
    check("grub unit mismatch", run(capsys, unit), ["port_mismatch"])
    # the same files are right for a fleet whose port is 1 (and the generator starts the getty on ttyS1)
    port1 = make_root(
        tmp_path,
        "port1",
        grub_cfg=ttys1.replace("--unit=0", "--unit=1"),
        getty="ttyS1",
        wants=False,
        uart=("ttyS1", 4),
        cmdline=RUNNING.replace("ttyS0", "ttyS1"),
    )
    check("all on port 1", run(capsys, port1, host_ports=(0, 1), tty="ttyS1", port=1), [])
    # without the host's ports nothing is known about them: no port finding from the kernel console alone
    noports = make_root(tmp_path, "noports", grub_cfg=ttys1, cmdline=RUNNING.replace("ttyS0", "ttyS1"))
    check("port unknown", run(capsys, noports, host_ports=None), ["kernel_console_config", "kernel_console_running"])


def test_no_uart(tmp_path, capsys):
    # the domain has no serial port yet (the stock lab guest)
    check("no UART", run(capsys, make_root(tmp_path, "nouart", uart=("ttyS0", 0))), ["uart_missing"])
    check("no sysfs entry", run(capsys, make_root(tmp_path, "nosys", uart=None)), ["uart_missing"])


def test_bad_tty_fails_before_reading(tmp_path, capsys):
    with patch_module_args({"root": str(tmp_path), "tty": "ttyS0;reboot"}):
        with pytest.raises(SystemExit):
            info.main()
    res = json.loads(capsys.readouterr().out)
    assert res["failed"] and "not a serial device name" in res["msg"], res
