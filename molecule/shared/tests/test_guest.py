# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Inside a converged guest: everything a login prompt on its serial console depends on, each failure naming what
is missing. The expected device and GRUB terminal are the scenario's literal expectations (host_vars
molecule_expect_tty, default ttyS0; molecule_expect_grub_terminal, default console + serial), not derived from the
settings the roles were given."""

import re


def _expect(host):
    v = host.ansible.get_variables()
    tty = v.get("molecule_expect_tty", "ttyS0")
    unit = int(v.get("serial_console_port", 0))
    console = tty if tty.startswith("hvc") else f"{tty},115200n8"
    return tty, unit, f"console={console}", v.get("molecule_expect_grub_terminal", ["console", "serial"])


def _systemd_booted(host):
    return host.file("/run/systemd/system").is_directory


def test_uart_is_live(host):
    tty = _expect(host)[0]
    if tty.startswith("hvc"):
        assert host.file(f"/sys/class/tty/{tty}").exists, f"{tty} does not exist: the domain has no live virtio console"
        return
    kind = host.file(f"/sys/class/tty/{tty}/type").content_string.strip()
    # The 8250 driver reports the UART type (4 = 16550A); a PL011 (amba-pl011) has no type file but a device.
    if tty.startswith("ttyAMA"):
        assert host.file(f"/sys/class/tty/{tty}/device").exists, f"{tty} has no device: no PL011 in the guest"
        return
    assert kind not in ("", "0"), f"{tty} is no UART in the guest (type={kind!r}): the domain has no live serial port"


def test_running_kernel_has_serial_console(host):
    arg = _expect(host)[2]
    args = host.file("/proc/cmdline").content_string.split()
    assert arg in args, f"kernel command line lacks {arg}: {' '.join(args)}"


def test_grub_cfg_uses_serial_terminal(host):
    tty, unit, arg, terminal = _expect(host)
    cfg = host.file("/boot/grub/grub.cfg").content_string
    if "serial" in terminal:
        # a PC BIOS GRUB names ports 1-3 by I/O address (it counts units among the ports present): --port=0x2f8
        port = "0x%x" % (0x3F8, 0x2F8, 0x3E8, 0x2E8)[int(unit)] if str(unit).isdigit() and int(unit) < 4 else "-"
        serial = (rf"^\s*serial\s.*((--unit={unit}|--port={port})\b.*--speed=115200\b"
                  rf"|--speed=115200\b.* efi{unit}$)")
        assert re.search(serial, cfg, re.M), (
            f"grub.cfg has no `serial --unit={unit} --speed=115200` (or --port={port}, or efi{unit})")
    for cmd in ("terminal_output", "terminal_input"):
        words = [line.split()[1:] for line in cfg.splitlines() if line.split()[:1] == [cmd]]
        assert words, f"grub.cfg has no `{cmd}` line"
        assert any(sorted(w) == sorted(terminal) for w in words), (
            f"grub.cfg's {cmd} is {words}, not {' '.join(terminal)}"
        )
    assert arg in cfg, f"grub.cfg boots no kernel with {arg}"


def test_serial_getty(host):
    tty = _expect(host)[0]
    if _systemd_booted(host):
        unit = f"serial-getty@{tty}.service"
        state = host.run(f"systemctl is-enabled {unit}").stdout.strip()
        assert host.service(unit).is_enabled, f"{unit} is not enabled (systemctl is-enabled: {state or 'unknown'})"
        assert host.service(unit).is_running, f"{unit} is not running"
    else:
        lines = [
            line
            for line in host.file("/etc/inittab").content_string.splitlines()
            if not line.lstrip().startswith("#") and re.search(rf"getty\b.*\b{tty}\b", line)
        ]
        assert lines, f"/etc/inittab has no getty line for {tty}"
        assert all(":respawn:" in line for line in lines), f"/etc/inittab getty line for {tty} is not respawn: {lines}"
    # By controlling tty, not by arguments: systemd 252's serial-getty@ passes "-" and the tty on stdin.
    procs = [line.split() for line in host.run("ps -eo tty=,comm=").stdout.splitlines()]
    assert any(p[:1] == [tty] and "getty" in p[-1] for p in procs if p), f"no getty process is running on {tty}"


def test_cloud_image_settings_overridden(host):
    """A cloud image's own console settings (grub-cloud-amd64: console=ttyS0, GRUB_TERMINAL) are overridden by the
    role's drop-in, and its packaged files are left as the package shipped them."""
    if not host.package("grub-cloud-amd64").is_installed:
        return
    tty = _expect(host)[0]
    verify = host.run("dpkg --verify grub-cloud-amd64")
    assert verify.rc == 0 and not verify.stdout.strip(), f"grub-cloud-amd64's packaged files changed: {verify.stdout}"
    packaged = host.file("/etc/default/grub").content_string
    assert "console=ttyS0" in packaged, "the packaged /etc/default/grub no longer has its own console=ttyS0"
    consoles = [a for a in host.file("/proc/cmdline").content_string.split() if a.startswith("console=")]
    assert [c.split(",")[0] for c in consoles] == ["console=tty0", f"console={tty}"], (
        f"the running kernel's consoles are {consoles}: the image's own console= was not replaced"
    )
