# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Inside a converged guest: everything a login prompt on ttyS0 depends on, each failure naming what is missing."""

import re

TTY = "ttyS0"
CONSOLE_ARG = "console=ttyS0,115200n8"


def _systemd_booted(host):
    return host.file("/run/systemd/system").is_directory


def test_uart_is_live(host):
    kind = host.file(f"/sys/class/tty/{TTY}/type").content_string.strip()
    assert kind not in ("", "0"), f"{TTY} is no UART in the guest (type={kind!r}): the domain has no live serial port"


def test_running_kernel_has_serial_console(host):
    args = host.file("/proc/cmdline").content_string.split()
    assert CONSOLE_ARG in args, f"kernel command line lacks {CONSOLE_ARG}: {' '.join(args)}"


def test_grub_cfg_uses_serial_terminal(host):
    cfg = host.file("/boot/grub/grub.cfg").content_string
    assert re.search(r"^\s*serial\s.*--unit=0\b.*--speed=115200\b", cfg, re.M), (
        "grub.cfg has no `serial --unit=0 --speed=115200` command"
    )
    assert re.search(r"^\s*terminal_output\s.*\bserial\b", cfg, re.M), "grub.cfg has no `terminal_output ... serial`"
    assert re.search(r"^\s*terminal_input\s.*\bserial\b", cfg, re.M), "grub.cfg has no `terminal_input ... serial`"
    assert CONSOLE_ARG in cfg, f"grub.cfg boots no kernel with {CONSOLE_ARG}"


def test_serial_getty(host):
    if _systemd_booted(host):
        unit = f"serial-getty@{TTY}.service"
        state = host.run(f"systemctl is-enabled {unit}").stdout.strip()
        assert host.service(unit).is_enabled, f"{unit} is not enabled (systemctl is-enabled: {state or 'unknown'})"
        assert host.service(unit).is_running, f"{unit} is not running"
    else:
        lines = [
            line
            for line in host.file("/etc/inittab").content_string.splitlines()
            if not line.lstrip().startswith("#") and re.search(rf"getty\b.*\b{TTY}\b", line)
        ]
        assert lines, f"/etc/inittab has no getty line for {TTY}"
        assert all(":respawn:" in line for line in lines), f"/etc/inittab getty line for {TTY} is not respawn: {lines}"
    # By controlling tty, not by arguments: systemd 252's serial-getty@ passes "-" and the tty on stdin.
    procs = [line.split() for line in host.run("ps -eo tty=,comm=").stdout.splitlines()]
    assert any(p[:1] == [TTY] and "getty" in p[-1] for p in procs if p), f"no getty process is running on {TTY}"
