# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""console_probe.py against prepared root file systems: a clean guest has no finding, each planted fault its own.

Run by runme.sh with the probe's path; plain asserts, so no test framework is needed on the test host.
"""

import json
import os
import subprocess
import sys
import tempfile

PROBE = sys.argv[1]

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
FACTS = {
    "init": "systemd",
    "systemd_booted": True,
    "tty": {"name": "ttyS0", "live": True, "uart_type": 4},
    "boot": {"grub": "grub2"},
    "pam_securetty": {"active": False},
    "proc_cmdline": RUNNING,
}


def write(root, path, text):
    full = os.path.join(root, path)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "w") as f:
        f.write(text)


def make_root(base, name, grub_cfg=GRUB_CFG, dropin=DROPIN, getty="ttyS0", wants=True, inittab=None):
    root = os.path.join(base, name)
    write(root, "boot/grub/grub.cfg", grub_cfg)
    write(root, "etc/default/grub", DEFAULT_GRUB)
    if dropin is not None:
        write(root, "etc/default/grub.d/90-ttyfleet-serial-console.cfg", dropin)
    write(root, "proc/1/cmdline", "/sbin/init\0")
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
    return root


def run(root, facts=None, host_ports="0", **kw):
    args = [sys.executable, PROBE, "--root", root, "--facts", json.dumps(dict(FACTS, **(facts or {})))]
    if host_ports is not None:
        args += ["--host-ports", host_ports]
    for k, v in kw.items():
        args += ["--" + k.replace("_", "-"), str(v)]
    out = subprocess.run(args, capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def kinds(doc):
    return sorted({f["kind"] for f in doc["findings"]})


def check(name, doc, expected):
    got = kinds(doc)
    assert got == sorted(expected), "%s: expected findings %s, got %s\n%s" % (
        name,
        sorted(expected),
        got,
        json.dumps(doc["findings"], indent=1),
    )
    print("ok   %-28s %s" % (name, ", ".join(got) or "no finding"))


def main():
    base = tempfile.mkdtemp(prefix="fleet-probe-")
    clean = make_root(base, "clean")
    doc = run(clean)
    check("clean guest", doc, [])
    assert doc["getty"]["processes"], doc["getty"]
    assert doc["getty"]["enabled"].startswith("systemd unit enabled"), doc["getty"]
    assert doc["default_grub"]["GRUB_TERMINAL"] == "console serial", doc["default_grub"]
    assert doc["default_grub"]["GRUB_CMDLINE_LINUX"] == "console=tty0 console=ttyS0,115200n8", doc["default_grub"]
    assert doc["grub_cfg"]["entries"] == 2 and doc["grub_cfg"]["entries_without_console"] == 0, doc["grub_cfg"]

    # GRUB draws on VGA only: not configured, and configured but grub.cfg is stale (the power-loss case)
    vga = GRUB_CFG.replace("terminal_output console serial", "terminal_output console").replace(
        "terminal_input console serial", "terminal_input console"
    )
    doc = run(make_root(base, "grub-unconfigured", grub_cfg=vga, dropin=None))
    check("grub terminal unconfigured", doc, ["grub_terminal"])
    assert "run the guest role" in doc["findings"][0]["fix"], doc["findings"]
    doc = run(make_root(base, "grub-stale", grub_cfg=vga))
    check("grub.cfg stale", doc, ["grub_terminal"])
    assert doc["findings"][0]["fix"] == "run update-grub", doc["findings"]

    # kernel console= missing from the generated config, and configured but not running yet
    noconsole = GRUB_CFG.replace(" console=tty0 console=ttyS0,115200n8", "")
    check("console= not configured", run(make_root(base, "kcfg", grub_cfg=noconsole)), ["kernel_console_config"])
    doc = run(clean, facts={"proc_cmdline": "BOOT_IMAGE=/vmlinuz root=UUID=x ro quiet"})
    check("console= not running", doc, ["kernel_console_running"])
    assert "restart is pending" in doc["findings"][0]["detail"], doc["findings"]

    # getty: none at all; running but not enabled for the next boot (and no console= for the generator)
    check("no getty", run(make_root(base, "nogetty", getty=None)), ["getty"])
    doc = run(
        make_root(base, "getty-not-enabled", grub_cfg=noconsole, wants=False), facts={"proc_cmdline": "root=UUID=x ro"}
    )
    check("getty not enabled", doc, ["getty", "kernel_console_config", "kernel_console_running"])
    # systemd starts the getty by itself when console=ttyS0 is configured: no wants link needed
    doc = run(make_root(base, "getty-generator", wants=False))
    check("getty by the generator", doc, [])
    assert doc["getty"]["enabled"].startswith("systemd-getty-generator"), doc["getty"]
    # sysvinit: an inittab respawn line
    inittab = "id:2:initdefault:\nT0:23:respawn:/sbin/getty -L ttyS0 115200 vt102\n"
    doc = run(make_root(base, "sysvinit", wants=False, inittab=inittab), facts={"init": "sysvinit"})
    check("sysvinit inittab getty", doc, [])
    doc = run(
        make_root(base, "sysvinit-none", wants=False, inittab="id:2:initdefault:\n", getty=None),
        facts={"init": "sysvinit"},
    )
    check("sysvinit without getty", doc, ["getty"])
    assert "inittab" in doc["findings"][0]["fix"], doc["findings"]

    # securetty: pam_securetty in force and ttyS0 not listed; fine when ttyS0 is /dev/console (last console=)
    pam = {"active": True, "file": "/etc/pam.d/login", "securetty_exists": True, "securetty": ["console", "tty1"]}
    vga_last = "root=UUID=x console=ttyS0,115200n8 console=tty0"
    check("securetty locks root out", run(clean, facts={"pam_securetty": pam, "proc_cmdline": vga_last}), ["securetty"])
    check("securetty: ttyS0 is /dev/console", run(clean, facts={"pam_securetty": pam}), [])
    listed = dict(pam, securetty=["ttyS0"])
    check("securetty lists ttyS0", run(clean, facts={"pam_securetty": listed, "proc_cmdline": vga_last}), [])

    # line settings and port: the fleet says 115200 on ttyS0
    slow = GRUB_CFG.replace("115200", "9600")
    doc = run(make_root(base, "speed", grub_cfg=slow), facts={"proc_cmdline": RUNNING.replace("115200", "9600")})
    check("speed mismatch", doc, ["speed_mismatch"])
    ttys1 = GRUB_CFG.replace("console=ttyS0", "console=ttyS1")
    doc = run(make_root(base, "port", grub_cfg=ttys1), facts={"proc_cmdline": RUNNING.replace("ttyS0", "ttyS1")})
    check("port mismatch", doc, ["kernel_console_config", "kernel_console_running", "port_mismatch"])
    # GRUB on another unit than the kernel console and the host's port
    check(
        "grub unit mismatch",
        run(make_root(base, "unit", grub_cfg=GRUB_CFG.replace("--unit=0", "--unit=1"))),
        ["port_mismatch"],
    )
    # the same files are right for a fleet whose port is 1 (and the generator starts the getty on ttyS1)
    unit1 = ttys1.replace("--unit=0", "--unit=1")
    check(
        "all on port 1",
        run(
            make_root(base, "port1", grub_cfg=unit1, getty="ttyS1", wants=False),
            facts={"proc_cmdline": RUNNING.replace("ttyS0", "ttyS1"), "tty": {"name": "ttyS1", "live": True}},
            host_ports="0,1",
            tty="ttyS1",
            unit=1,
        ),
        [],
    )

    # no UART: the domain has no serial port yet (the stock lab guest)
    check("no UART", run(clean, facts={"tty": {"name": "ttyS0", "live": False, "uart_type": 0}}), ["uart_missing"])
    print("console_probe.py: all cases passed")


if __name__ == "__main__":
    main()
