# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Read-only probe of a guest's serial console chain, for the audit and doctor playbooks.

Runs on the guest (``ansible.builtin.script``, any Python 3.6+). It reads what ``guest_console_facts`` does not:
the generated GRUB configuration, the GRUB settings as grub-mkconfig sees them (sourced the way it sources them)
and whether a getty listens on the tty. It takes ``guest_console_facts``' result and the wanted console settings
as arguments and prints one JSON document: the facts it read and a list of findings, each a dict with ``kind``,
``detail`` and ``fix``. It writes nothing. ``--root`` reads a prepared root file system instead of ``/``
(tests); the running-system parts (``/proc``, ``/sys``, systemctl) are then read under that root too.
"""

import argparse
import glob
import json
import os
import re
import subprocess
import sys

GRUB_CFGS = ("/boot/grub/grub.cfg", "/boot/grub2/grub.cfg")
# grub-mkconfig sources /etc/default/grub, then every /etc/default/grub.d/*.cfg in order; so does this.
SOURCE_SH = (
    'R="$1"; [ -r "$R/etc/default/grub" ] && . "$R/etc/default/grub"; '
    'for f in "$R"/etc/default/grub.d/*.cfg; do [ -r "$f" ] && . "$f"; done; '
    "for v in GRUB_TERMINAL GRUB_TERMINAL_INPUT GRUB_TERMINAL_OUTPUT GRUB_SERIAL_COMMAND "
    'GRUB_CMDLINE_LINUX GRUB_CMDLINE_LINUX_DEFAULT; do eval "x=\\${$v-}"; printf \'%s=%s\\n\' "$v" "$x"; done'
)
LINUX_RE = re.compile(r"^\s*(linux|linux16|linuxefi)\s+\S+(.*)$")


class Result:
    def __init__(self, returncode, stdout, stderr):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def run(argv):
    """Run a command with a timeout; Popen rather than subprocess.run(capture_output=...) for Python 3.6 guests."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    return Result(proc.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"))


def read(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return None


def console_args(text):
    return [a.split("=", 1)[1] for a in (text or "").split() if a.startswith("console=")]


def tty_of(console):
    return console.split(",", 1)[0]


def default_grub(root):
    """GRUB_* settings after sourcing /etc/default/grub and its drop-ins, as grub-mkconfig would; None if absent."""
    if not os.path.exists(os.path.join(root, "etc/default/grub")) and not glob.glob(
        os.path.join(root, "etc/default/grub.d/*.cfg")
    ):
        return None
    try:
        out = run(["sh", "-c", SOURCE_SH, "sh", root.rstrip("/")])
    except (OSError, subprocess.SubprocessError) as e:
        return {"error": str(e)}
    values = {}
    for line in out.stdout.splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            values[k] = v
    if out.returncode != 0:
        values["error"] = out.stderr.strip()[-300:]
    return values


def grub_cfg(root, tty):
    """The parts of the generated grub.cfg that decide the serial console."""
    for path in GRUB_CFGS:
        text = read(os.path.join(root, path.lstrip("/")))
        if text is None:
            continue
        lines = [line.strip() for line in text.splitlines()]
        serial = [line for line in lines if line.split()[:1] == ["serial"]]
        out_terms = [line.split()[1:] for line in lines if line.split()[:1] == ["terminal_output"]]
        in_terms = [line.split()[1:] for line in lines if line.split()[:1] == ["terminal_input"]]
        kernels = [m.group(2) for m in (LINUX_RE.match(line) for line in lines) if m]
        return {
            "path": path,
            "serial_command": serial[0] if serial else None,
            "terminal_output": out_terms[0] if out_terms else [],
            "terminal_input": in_terms[0] if in_terms else [],
            # the first entry is the default one unless GRUB_DEFAULT says otherwise; every entry is checked anyway
            "entries": len(kernels),
            "consoles_default_entry": console_args(kernels[0]) if kernels else [],
            "entries_without_console": sum(1 for k in kernels if tty not in [tty_of(c) for c in console_args(k)]),
        }
    return None


def _cmdline(pid_dir):
    raw = read(os.path.join(pid_dir, "cmdline"))
    return [a for a in (raw or "").split("\0") if a]


def gettys(root, tty):
    """Processes that are a getty on ``tty``: by argument, or by their standard input (systemd's ``-``)."""
    found = []
    for pid_dir in glob.glob(os.path.join(root, "proc/[0-9]*")):
        argv = _cmdline(pid_dir)
        if not argv or "getty" not in os.path.basename(argv[0]):
            continue
        try:
            stdin = os.readlink(os.path.join(pid_dir, "fd/0"))
        except OSError:
            stdin = ""
        if tty in argv or "/dev/" + tty in argv or stdin == "/dev/" + tty:
            found.append(" ".join(argv))
    return sorted(found)


def systemctl(root, *args):
    if root != "/":
        return None
    try:
        out = run(["systemctl"] + list(args))
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def getty_enabled(root, tty, init, configured_consoles):
    """How a getty on ``tty`` would start at the next boot, or None when nothing starts one."""
    if init == "systemd":
        for wants in glob.glob(os.path.join(root, "etc/systemd/system/*.wants/serial-getty@%s.service" % tty)):
            return "systemd unit enabled (%s)" % os.path.relpath(wants, root)
        if tty in [tty_of(c) for c in configured_consoles]:
            return "systemd-getty-generator (console=%s on the kernel command line)" % tty
        return None
    if init == "sysvinit":
        for line in (read(os.path.join(root, "etc/inittab")) or "").splitlines():
            fields = line.split("#", 1)[0].split(":", 3)
            if len(fields) == 4 and "respawn" in fields[2] and "getty" in fields[3] and tty in fields[3].split():
                return "inittab: %s" % line.strip()
        return None
    if init == "upstart":
        conf = os.path.join(root, "etc/init/%s.conf" % tty)
        return "upstart job /etc/init/%s.conf" % tty if os.path.exists(conf) else None
    return None


def line_settings(speed, word, parity):
    return "%d%s%d" % (speed, parity[0], word)


def probe(args, facts):
    root = args.root
    tty = args.tty
    want_console = "%s,%s" % (tty, line_settings(args.speed, args.word, args.parity))
    want_serial = "serial --unit=%d --speed=%d --word=%d --parity=%s --stop=%d" % (
        args.unit,
        args.speed,
        args.word,
        args.parity,
        args.stop,
    )
    init = facts.get("init", "unknown")
    running = console_args(facts.get("proc_cmdline", ""))
    cfg = grub_cfg(root, tty)
    defaults = default_grub(root)
    configured = cfg["consoles_default_entry"] if cfg else []
    procs = gettys(root, tty)
    enabled = getty_enabled(root, tty, init, configured)
    active = systemctl(root, "is-active", "serial-getty@%s.service" % tty) if init == "systemd" else None
    findings = []

    def finding(kind, detail, fix):
        findings.append({"kind": kind, "detail": detail, "fix": fix})

    uart = (facts.get("tty") or {}).get("live")
    if tty.startswith("ttyS") and not uart:
        finding(
            "uart_missing",
            "the guest has no UART at %s (sysfs type %s): the domain gives it no serial port yet"
            % (tty, (facts.get("tty") or {}).get("uart_type")),
            "add the serial device on the hypervisor (domain_serial) and power-cycle the domain "
            "(shutdown + start; a guest reboot is not enough)",
        )

    grub = (facts.get("boot") or {}).get("grub")
    if grub == "grub2" and cfg is None:
        finding(
            "grub_terminal",
            "GRUB 2 is installed but no grub.cfg was found (%s)" % ", ".join(GRUB_CFGS),
            "run the guest role (it regenerates grub.cfg)",
        )
    elif cfg is not None:
        term_ok = "serial" in cfg["terminal_output"] and "serial" in cfg["terminal_input"]
        serial_ok = cfg["serial_command"] is not None
        if not (term_ok and serial_ok):
            src = defaults or {}
            source_ok = "serial" in (src.get("GRUB_TERMINAL") or src.get("GRUB_TERMINAL_OUTPUT") or "").split()
            finding(
                "grub_terminal",
                "%s: terminal_output %s, %s; %s"
                % (
                    cfg["path"],
                    " ".join(cfg["terminal_output"]) or "(none)",
                    "serial command '%s'" % cfg["serial_command"] if serial_ok else "no serial command",
                    "GRUB_TERMINAL in /etc/default/grub* has serial, so grub.cfg is stale"
                    if source_ok
                    else "GRUB_TERMINAL in /etc/default/grub* is '%s'" % (src.get("GRUB_TERMINAL") or ""),
                ),
                "run update-grub" if source_ok else "run the guest role (grub: GRUB_TERMINAL='console serial')",
            )
        if tty not in [tty_of(c) for c in configured] or cfg["entries_without_console"]:
            finding(
                "kernel_console_config",
                "%s: the default entry's console= arguments are [%s]; %d of %d entries lack console=%s"
                % (cfg["path"], " ".join(configured), cfg["entries_without_console"], cfg["entries"], tty),
                "run the guest role (grub: console=%s)" % want_console,
            )
        if serial_ok and cfg["serial_command"] != want_serial:
            unit = re.search(r"--unit=(\d+)", cfg["serial_command"])
            if unit and int(unit.group(1)) != args.unit:
                finding(
                    "port_mismatch",
                    "%s: GRUB uses serial unit %s, the fleet's port is %d ('%s')"
                    % (cfg["path"], unit.group(1), args.unit, cfg["serial_command"]),
                    "set one serial_console_port for host and guest and run the rollout",
                )
            else:
                finding(
                    "speed_mismatch",
                    "%s: '%s', wanted '%s'" % (cfg["path"], cfg["serial_command"], want_serial),
                    "run the guest role with the fleet's serial_console_speed/word/parity/stop",
                )
    if tty not in [tty_of(c) for c in running]:
        finding(
            "kernel_console_running",
            "/proc/cmdline has console=[%s], no %s%s"
            % (
                " ".join(running),
                tty,
                " (configured for the next boot: a restart is pending)"
                if tty in [tty_of(c) for c in configured]
                else "",
            ),
            "power-cycle the domain (or reboot the guest) to boot with console=%s" % want_console
            if tty in [tty_of(c) for c in configured]
            else "run the guest role, then power-cycle the domain",
        )

    # The line settings must agree everywhere: kernel (configured and running), GRUB and the fleet variables.
    for where, consoles in (("grub.cfg", configured), ("/proc/cmdline", running)):
        for c in consoles:
            if tty_of(c) == tty and c != want_console and "," in c:
                finding(
                    "speed_mismatch",
                    "%s has console=%s, the fleet wants console=%s" % (where, c, want_console),
                    "run the guest role with the fleet's serial_console_speed/word/parity",
                )
    # Host and guest must agree on the port: a console on a ttyS the domain does not have prints nowhere.
    guest_ports = sorted({int(tty_of(c)[4:]) for c in configured + running if re.match(r"^ttyS\d+$", tty_of(c))})
    if args.host_ports is not None:
        host_ports = [int(p) for p in args.host_ports.split(",") if p != ""]
        stray = [p for p in guest_ports if p not in host_ports]
        if stray:
            finding(
                "port_mismatch",
                "the guest kernel uses console=%s but the domain has serial port(s) [%s]"
                % (",".join("ttyS%d" % p for p in stray), ",".join(str(p) for p in host_ports)),
                "set one serial_console_port for host and guest and run the rollout",
            )

    if not procs and active != "active":
        finding(
            "getty",
            "no getty listens on %s (%s)"
            % (tty, "systemd: serial-getty@%s.service is %s" % (tty, active) if active else "no getty process on it"),
            (
                "systemctl enable --now serial-getty@%s.service" % tty
                if init == "systemd"
                else "add a respawn getty line for %s to /etc/inittab and run telinit q" % tty
            )
            + " (or run the guest role)",
        )
    elif not enabled and init in ("systemd", "sysvinit", "upstart"):
        finding(
            "getty", "a getty runs on %s now but nothing starts it at the next boot" % tty, "run the guest role (getty)"
        )

    pam = facts.get("pam_securetty") or {}
    if pam.get("active") and pam.get("securetty_exists") and tty not in pam.get("securetty", []):
        # pam_securetty also lets root in on the tty that is /dev/console (the last console=), unless noconsole.
        if not (running and tty_of(running[-1]) == tty):
            finding(
                "securetty",
                "pam_securetty is active (%s) and /etc/securetty lacks %s: root cannot log in there"
                % (pam.get("file"), tty),
                "run the guest role (securetty) or add %s to /etc/securetty" % tty,
            )

    return {
        "tty": tty,
        "init": init,
        "uart_live": bool(uart),
        "proc_cmdline_consoles": running,
        "grub_cfg": cfg,
        "default_grub": defaults,
        "getty": {"processes": procs, "systemd_active": active, "enabled": enabled},
        "findings": findings,
    }


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", default="/")
    p.add_argument("--tty", default="ttyS0")
    p.add_argument("--unit", type=int, default=0)
    p.add_argument("--speed", type=int, default=115200)
    p.add_argument("--word", type=int, default=8)
    p.add_argument("--parity", default="no", choices=("no", "odd", "even"))
    p.add_argument("--stop", type=int, default=1)
    p.add_argument("--host-ports", default=None, help="comma separated serial target ports of the domain")
    p.add_argument("--facts", default="{}", help="guest_console_facts' result as JSON")
    args = p.parse_args(argv)
    args.root = os.path.abspath(args.root)
    if not args.root.endswith("/"):
        args.root += "/"
    if args.root == "//":
        args.root = "/"
    json.dump(probe(args, json.loads(args.facts)), sys.stdout, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
