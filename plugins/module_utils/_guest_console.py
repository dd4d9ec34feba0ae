# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The guest side of the console chain, read once: the one home of what a guest is, for roles, audit and doctor.

``read_guest(root, tty)`` reads, without changing anything: distribution, init system (and whether it runs), the
UART behind the tty, the boot loader (GRUB flavour, BLS, EFI, its tools), the GRUB settings as grub-mkconfig sources
them, the kernel entries of the generated grub.cfg, the getty (process, enablement, drop-in), pam_securetty and
``/proc/cmdline``. Every path is read under ``root`` (a prepared root file system in tests; ``/`` on guests).
What is wrong with such a read is judged by ``_findings.guest_findings`` (the findings table).

GRUB file formats are parsed by ``_grub_serial`` (their one home); the console formulas come from
``_console_settings``. Guest-side: stdlib only, Python 3.9 (bullseye) or newer.
"""

from __future__ import annotations

import glob
import os
import re
import shlex
import stat
import subprocess

from ansible_collections.ttyfleet.serial_console.plugins.module_utils import _console_settings as cs
from ansible_collections.ttyfleet.serial_console.plugins.module_utils import _grub_serial as grub

BIN_DIRS = ("/usr/sbin", "/sbin", "/usr/bin", "/bin", "/usr/local/sbin")
TOOLS = (
    "update-grub",
    "grub-mkconfig",
    "grub2-mkconfig",
    "grubby",
    "grub2-editenv",
    "telinit",
    "systemctl",
    "initctl",
    "agetty",
    "getty",
    "mingetty",
)
GRUB_CFGS = ("/boot/grub/grub.cfg", "/boot/grub2/grub.cfg")
LEGACY_MENUS = ("/boot/grub/menu.lst", "/boot/grub/grub.conf")
DEFAULT_GRUB = "/etc/default/grub"
DEFAULT_GRUB_D = "/etc/default/grub.d"
# What the guest roles and the audit need from the sourced GRUB settings.
GRUB_VARS = (
    "GRUB_TERMINAL",
    "GRUB_TERMINAL_INPUT",
    "GRUB_TERMINAL_OUTPUT",
    "GRUB_SERIAL_COMMAND",
    "GRUB_CMDLINE_LINUX",
    "GRUB_CMDLINE_LINUX_DEFAULT",
)
GETTY_DROPIN = "/etc/systemd/system/serial-getty@%s.service.d/ttyfleet.conf"
# serial-getty@ BindsTo= dev-<tty>.device (start job cancelled after DefaultDeviceTimeoutSec=, 90 s): its drop-in, as
# fstab-generator writes for x-systemd.device-timeout=. cs.TTY_RE allows [a-zA-Z0-9]: the unit name needs no escape.
DEVICE_DROPIN = "/etc/systemd/system/dev-%s.device.d/ttyfleet.conf"


def read(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return None


def device_dropin_text(timeout_s):
    """The device unit drop-in serial_getty writes: wait ``timeout_s`` seconds for the tty at boot."""
    return (
        "# ttyfleet.serial_console: wait up to %d s at boot for udev to announce the tty (systemd's default: 90 s)\n"
        "[Unit]\nJobRunningTimeoutSec=%d\n" % (timeout_s, timeout_s)
    )


def device_timeout_of(text):
    """Seconds of a drop-in exactly as ``device_dropin_text`` writes it, else None (serial_getty rewrites it)."""
    m = re.search(r"^JobRunningTimeoutSec=([1-9][0-9]*)$", text or "", re.M)
    return int(m.group(1)) if m and device_dropin_text(int(m.group(1))) == text else None


def under(root, path):
    """``path`` (absolute on the guest) under ``root``."""
    return os.path.join(root, path.lstrip("/"))


# ---------------------------------------------------------------------------------------------------------------
# distribution, tools, init


def os_release(root):
    text = read(under(root, "/etc/os-release")) or read(under(root, "/usr/lib/os-release")) or ""
    data = {}
    for line in text.splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            k, v = line.split("=", 1)
            try:
                data[k.strip()] = " ".join(shlex.split(v))
            except ValueError:
                data[k.strip()] = v.strip().strip("\"'")
    if not data:
        rel = read(under(root, "/etc/redhat-release")) or ""
        m = re.search(r"release (\d+(?:\.\d+)*)", rel)
        if m:
            data = {"ID": "centos" if "CentOS" in rel else "rhel", "VERSION_ID": m.group(1), "ID_LIKE": "rhel"}
    ident = data.get("ID", "unknown")
    like = data.get("ID_LIKE", "").split()
    family = ident
    for fam, members in (
        ("Debian", ("debian", "ubuntu")),
        ("RedHat", ("rhel", "fedora", "centos")),
        ("Suse", ("suse", "sles", "sled", "opensuse")),
    ):
        names = [ident] + like
        if any(n in members or (fam == "Suse" and n.startswith("opensuse")) for n in names):
            family = fam
            break
    version = data.get("VERSION_ID", "")
    return dict(id=ident, version_id=version, major=version.split(".")[0], id_like=like, family=family)


def find_tools(root):
    """Absolute guest paths of the boot and init tools present (the first of BIN_DIRS that has each)."""
    found = {}
    for name in TOOLS:
        for d in BIN_DIRS:
            path = under(root, os.path.join(d, name))
            if os.path.isfile(path) and os.access(path, os.X_OK):
                found[name] = path
                break
    return found


def init_system(root, tools):
    """What is installed (not necessarily running): systemd, upstart, sysvinit or unknown."""
    pid1 = os.path.realpath(under(root, "/sbin/init"))
    if os.path.isdir(under(root, "/run/systemd/system")) or os.path.basename(pid1) == "systemd":
        return "systemd"
    if os.path.isdir(under(root, "/etc/init")) and tools.get("initctl"):
        return "upstart"
    if os.path.exists(under(root, "/etc/inittab")):
        return "sysvinit"
    return "unknown"


def in_chroot(root):
    """The reader runs in a chroot (its / is not process 1's root), so no init may be signalled."""
    if root != "/":
        return False
    try:
        a, b = os.stat("/"), os.stat("/proc/1/root/")
    except OSError:
        return False
    return (a.st_dev, a.st_ino) != (b.st_dev, b.st_ino)


# ---------------------------------------------------------------------------------------------------------------
# the tty and its UART


def uart(root, tty):
    """``name``, ``exists`` (device node), ``uart_type`` (sysfs; 0 or None: no UART), ``live``, ``group``."""
    raw = read(under(root, "/sys/class/tty/%s/type" % tty))
    uart_type = int(raw.strip()) if raw and raw.strip().isdigit() else None
    group = None
    try:
        st = os.stat(under(root, "/dev/%s" % tty))
        exists = stat.S_ISCHR(st.st_mode) or root != "/"
        try:
            import grp

            group = grp.getgrgid(st.st_gid).gr_name
        except KeyError:
            group = str(st.st_gid)
    except OSError:
        exists = False
    if tty.startswith("ttyS"):
        live = bool(uart_type)
    else:
        # ttyAMA and hvc have no sysfs 'type'; the device existing in sysfs means the port is there.
        live = os.path.isdir(under(root, "/sys/class/tty/%s" % tty))
    return dict(name=tty, exists=exists, uart_type=uart_type, live=live, group=group)


# ---------------------------------------------------------------------------------------------------------------
# boot loader


def boot(root, tools):
    legacy = [p for p in LEGACY_MENUS if os.path.exists(under(root, p))]
    if any(tools.get(t) for t in ("update-grub", "grub-mkconfig", "grub2-mkconfig")):
        flavour = "grub2"
    elif legacy:
        flavour = "legacy"
    else:
        flavour = "none"
    method = "grub" if flavour != "none" else None
    if method is None:
        if os.path.exists(under(root, "/run/ostree-booted")):
            method = "ostree"
        elif os.path.isdir(under(root, "/boot/efi/loader")) or os.path.isdir(under(root, "/efi/loader")):
            method = "systemd-boot"
        elif os.path.exists(under(root, "/etc/zipl.conf")):
            method = "zipl"
        else:
            method = "unknown (direct kernel boot? then console= belongs in the domain's <cmdline>)"
    entries = under(root, "/boot/loader/entries")
    bls = os.path.isdir(entries) and any(f.endswith(".conf") for f in os.listdir(entries))
    return dict(
        grub=flavour,
        legacy_files=legacy,
        efi=os.path.isdir(under(root, "/sys/firmware/efi")),
        bls=bls,
        method=method,
        tools=tools,
    )


def default_grub_files(root):
    """/etc/default/grub, then every /etc/default/grub.d/*.cfg in order: what grub-mkconfig sources."""
    return [under(root, DEFAULT_GRUB)] + sorted(glob.glob(under(root, DEFAULT_GRUB_D + "/*.cfg")))


def default_grub(root):
    """GRUB_* settings after sourcing the files grub-mkconfig sources (None when there is none); ``error`` set
    when a file fails to source. Runs sh on the guest's own config, like grub-mkconfig does."""
    files = [f for f in default_grub_files(root) if os.path.isfile(f)]
    if not files:
        return None
    try:
        values = grub.source_defaults(files, names=GRUB_VARS)
    except (RuntimeError, OSError) as e:
        return {"error": str(e)[-300:]}
    return dict(values)


def grub_cfg(root, tty):
    """The parts of the generated grub.cfg that decide the serial console on ``tty``; None without grub.cfg."""
    for path in GRUB_CFGS:
        text = read(under(root, path))
        if text is None:
            continue
        terms = grub.grub_cfg_terminal(text)
        kernels = [args for _cmd, _image, args in grub.kernel_lines(text)]
        consoles = [[a.split("=", 1)[1] for a in grub.console_args(k)] for k in kernels]
        return dict(
            path=path,
            serial_command=terms["serial"][0] if terms["serial"] else None,
            terminal_output=terms["terminal_output"][0] if terms["terminal_output"] else [],
            terminal_input=terms["terminal_input"][0] if terms["terminal_input"] else [],
            # the first entry is the default one unless GRUB_DEFAULT says otherwise; every entry is checked anyway
            entries=len(kernels),
            consoles_default_entry=consoles[0] if consoles else [],
            entries_without_console=sum(1 for c in consoles if tty not in [cs.console_tty(v) for v in c]),
        )
    return None


# ---------------------------------------------------------------------------------------------------------------
# login: pam_securetty, getty


def pam_securetty(root):
    """Is pam_securetty in login's stack? Follows include/substack/@include one level, as PAM stacks are built."""
    pamd = under(root, "/etc/pam.d")
    seen = []

    def scan(name, depth):
        text = read(os.path.join(pamd, name))
        if text is None or name in seen:
            return None
        seen.append(name)
        for line in text.splitlines():
            # A bracketed control field ([success=ok default=die]) is one word for PAM.
            words = re.sub(r"\[[^\]]*\]", "[]", line.split("#", 1)[0]).split()
            if not words:
                continue
            if words[0] == "@include" and len(words) > 1 and depth < 3:
                hit = scan(words[1], depth + 1)
                if hit:
                    return hit
            elif len(words) > 2 and words[0].lstrip("-") == "auth":
                if words[1] in ("include", "substack") and depth < 3:
                    hit = scan(words[2], depth + 1)
                    if hit:
                        return hit
                elif any(os.path.basename(w).startswith("pam_securetty") for w in words[1:4]):
                    return name
        return None

    hit = scan("login", 0)
    sec = read(under(root, "/etc/securetty"))
    listed = [w.strip() for w in (sec or "").splitlines() if w.strip() and not w.strip().startswith("#")]
    return dict(
        active=bool(hit),
        file=os.path.join("/etc/pam.d", hit) if hit else None,
        securetty_exists=sec is not None,
        securetty=listed,
    )


def getty_processes(root, tty):
    """Command lines of processes that are a getty on ``tty`` (agetty, getty, mingetty), read from /proc: by
    argument, or by their standard input (systemd's serial-getty@ passes ``-``)."""
    found = []
    for pid_dir in glob.glob(under(root, "/proc/[0-9]*")):
        raw = read(os.path.join(pid_dir, "cmdline"))
        argv = [a for a in (raw or "").split("\0") if a]
        if not argv or not os.path.basename(argv[0]).endswith("getty"):
            continue
        try:
            stdin = os.readlink(os.path.join(pid_dir, "fd", "0"))
        except OSError:
            stdin = ""
        if tty in argv or "/dev/" + tty in argv or stdin == "/dev/" + tty:
            found.append(" ".join(argv))
    return sorted(found)


def getty_wants(root, tty):
    """systemd's wants-links of serial-getty@<tty> (what ``systemctl enable`` makes), as guest paths, sorted."""
    pattern = under(root, "/etc/systemd/system/*.wants/serial-getty@%s.service" % tty)
    return sorted("/" + os.path.relpath(p, root) for p in glob.glob(pattern) if os.path.lexists(p))


def getty_enabled_by(root, tty, init, wants, configured_consoles):
    """How a getty on ``tty`` starts at the next boot, in words; None when nothing starts one."""
    if init == "systemd":
        if wants:
            return "systemd unit enabled (%s)" % wants[0].lstrip("/")
        if tty in [cs.console_tty(c) for c in configured_consoles]:
            return "systemd-getty-generator (console=%s on the kernel command line)" % tty
        return None
    if init == "sysvinit":
        for line in (read(under(root, "/etc/inittab")) or "").splitlines():
            fields = line.split("#", 1)[0].split(":", 3)
            if len(fields) == 4 and "respawn" in fields[2] and "getty" in fields[3] and tty in fields[3].split():
                return "inittab: %s" % line.strip()
        return None
    if init == "upstart":
        return "upstart job /etc/init/%s.conf" % tty if os.path.exists(under(root, "/etc/init/%s.conf" % tty)) else None
    return None


def systemd_active(unit, systemctl):
    """``systemctl is-active UNIT`` (active, inactive, failed...), or None when it cannot be asked."""
    try:
        p = subprocess.run([systemctl, "is-active", unit], capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return p.stdout.decode("utf-8", "replace").strip() or None


# ---------------------------------------------------------------------------------------------------------------
# the one read


def read_guest(root, tty):
    """Everything the roles, the audit and the doctor decide on, read once (see guest_console_info's RETURN)."""
    if not cs.TTY_RE.match(tty or ""):
        raise ValueError("tty %r is not a serial device name (%s)" % (tty, cs.TTY_GRAMMAR))
    tools = find_tools(root)
    init = init_system(root, tools)
    booted = os.path.isdir(under(root, "/run/systemd/system"))
    cmdline = (read(under(root, "/proc/cmdline")) or "").strip()
    cfg = grub_cfg(root, tty)
    wants = getty_wants(root, tty)
    processes = getty_processes(root, tty)
    active = None
    if init == "systemd" and booted and root == "/" and tools.get("systemctl"):
        active = systemd_active("serial-getty@%s.service" % tty, tools["systemctl"])
    device_text = read(under(root, DEVICE_DROPIN % tty))
    return dict(
        pid1=(read(under(root, "/proc/1/comm")) or "").strip(),
        in_chroot=in_chroot(root),
        os=os_release(root),
        init=init,
        systemd_booted=booted,
        tty=uart(root, tty),
        boot=boot(root, tools),
        default_grub=default_grub(root),
        grub_cfg=cfg,
        pam_securetty=pam_securetty(root),
        getty=dict(
            enabled=bool(wants),
            wants=wants,
            running=bool(processes),
            processes=processes,
            systemd_active=active,
            enabled_by=getty_enabled_by(root, tty, init, wants, cfg["consoles_default_entry"] if cfg else []),
            dropin=os.path.exists(under(root, GETTY_DROPIN % tty)),
            dropin_text=read(under(root, GETTY_DROPIN % tty)),
            device_dropin_text=device_text,
            device_timeout_s=device_timeout_of(device_text),
        ),
        proc_cmdline=cmdline,
        proc_cmdline_consoles=[a.split("=", 1)[1] for a in grub.console_args(grub.split_args(cmdline))],
    )
