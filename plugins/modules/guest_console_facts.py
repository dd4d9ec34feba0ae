#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: guest_console_facts
short_description: What a guest's serial console depends on, read in one call
version_added: 0.1.0
description:
  - Reads, without changing anything, what the guest roles of this collection decide on - distribution, init
    system and whether systemd is booted, whether a serial port is a live UART, the boot loader and its tools,
    whether C(pam_securetty) is in force for C(login), and the group owning the tty device.
  - One module call instead of a dozen C(stat)/C(slurp) tasks keeps a no-op run of the C(guest) role short.
author:
  - ttyfleet maintainers (@ttyfleet)
options:
  tty:
    description: Serial device name to inspect (C(ttyS0), C(ttyAMA0), C(hvc0)).
    type: str
    default: ttyS0
  root:
    description:
      - Directory every path is read under. Only for tests against a prepared root file system; C(/) on guests.
    type: path
    default: /
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying target.
    support: full
    details: Read only; runs the same in check mode.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
"""

EXAMPLES = r"""
- name: Read console facts
  ttyfleet.serial_console.guest_console_facts:
    tty: ttyS0
  register: console_facts
"""

RETURN = r"""
os:
  description: From os-release - C(id), C(version_id), C(major), C(id_like) and an Ansible-style C(family)
    (Debian, RedHat, Suse, or the id).
  returned: always
  type: dict
init:
  description: C(systemd), C(upstart), C(sysvinit) or C(unknown) (what is installed, not necessarily running).
  returned: always
  type: str
systemd_booted:
  description: The guest runs systemd as PID 1 right now (C(/run/systemd/system) exists).
  returned: always
  type: bool
tty:
  description: C(name), C(exists) (device node), C(uart_type) (from sysfs, 0 or null means no UART),
    C(live) (a real port answers now), C(group) owning the device node.
  returned: always
  type: dict
boot:
  description: C(grub) (C(grub2), C(legacy) or C(none)), C(efi), C(bls) (BLS entries present), C(method) (what
    else boots the guest when there is no GRUB), and absolute paths of C(tools) found.
  returned: always
  type: dict
pam_securetty:
  description: C(pam_securetty) is active in the PAM stack of C(login) (directly or through an include),
    C(file) the PAM file that has it, C(securetty_exists) and C(securetty) (the listed ttys).
  returned: always
  type: dict
pid1:
  description: Name of process 1 (C(systemd), C(init)); empty if unreadable.
  returned: always
  type: str
in_chroot:
  description: The module runs in a chroot (its C(/) is not the root of process 1), so no init may be signalled.
  returned: always
  type: bool
getty:
  description: C(enabled) (systemd's C(serial-getty@<tty>) wants-link exists) and C(running) (a getty process
    holds the tty now, read from C(/proc)), C(dropin) (this collection's serial-getty drop-in exists).
  returned: always
  type: dict
proc_cmdline:
  description: Arguments of the running kernel.
  returned: always
  type: str
"""

import os  # noqa: E402 (validate-modules wants the docs first)
import re  # noqa: E402 (validate-modules wants the docs first)
import shlex  # noqa: E402 (validate-modules wants the docs first)
import stat  # noqa: E402 (validate-modules wants the docs first)

from ansible.module_utils.basic import AnsibleModule  # noqa: E402 (validate-modules wants the docs first)

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


def read(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return None


def os_release(root):
    text = read(os.path.join(root, "etc/os-release")) or read(os.path.join(root, "usr/lib/os-release")) or ""
    data = {}
    for line in text.splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            k, v = line.split("=", 1)
            try:
                data[k.strip()] = " ".join(shlex.split(v))
            except ValueError:
                data[k.strip()] = v.strip().strip("\"'")
    if not data:
        rel = read(os.path.join(root, "etc/redhat-release")) or ""
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


def find_tool(root, name):
    for d in BIN_DIRS:
        path = os.path.join(root, d.lstrip("/"), name)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


def pam_securetty(root):
    """Is pam_securetty in login's stack? Follows include/substack/@include one level, as PAM stacks are built."""
    pamd = os.path.join(root, "etc/pam.d")
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
    sec = read(os.path.join(root, "etc/securetty"))
    listed = [w.strip() for w in (sec or "").splitlines() if w.strip() and not w.strip().startswith("#")]
    return dict(
        active=bool(hit),
        file=os.path.join("/etc/pam.d", hit) if hit else None,
        securetty_exists=sec is not None,
        securetty=listed,
    )


def getty_running(root, name):
    """A getty process (agetty, getty, mingetty) holds the tty now: read from /proc, which needs no init at all."""
    proc = os.path.join(root, "proc")
    try:
        pids = [d for d in os.listdir(proc) if d.isdigit()]
    except OSError:
        return False
    for pid in pids:
        try:
            with open(os.path.join(proc, pid, "cmdline"), "rb") as f:
                argv = f.read().decode("utf-8", "replace").split("\0")
        except OSError:
            continue
        if not argv or not os.path.basename(argv[0]).endswith("getty"):
            continue
        if name in argv or "/dev/" + name in argv:
            return True
        try:
            # systemd's serial-getty@ passes '-': the tty is the getty's standard input.
            if os.readlink(os.path.join(proc, pid, "fd", "0")) == "/dev/" + name:
                return True
        except OSError:
            continue
    return False


def main():
    module = AnsibleModule(
        argument_spec=dict(tty=dict(type="str", default="ttyS0"), root=dict(type="path", default="/")),
        supports_check_mode=True,
    )
    root, name = module.params["root"], module.params["tty"]
    if not re.match(r"^(ttyS|ttyAMA|hvc)([0-9]|[1-9][0-9])$", name):
        module.fail_json(msg="tty %r is not a serial device name (ttyS<N>, ttyAMA<N> or hvc<N>)" % name)

    def r(path):
        return os.path.join(root, path.lstrip("/"))

    tools = {t: find_tool(root, t) for t in TOOLS}
    tools = {k: v for k, v in tools.items() if v}
    pid1 = os.path.realpath(r("/sbin/init"))
    if os.path.isdir(r("/run/systemd/system")) or os.path.basename(pid1) == "systemd":
        init = "systemd"
    elif os.path.isdir(r("/etc/init")) and tools.get("initctl"):
        init = "upstart"
    elif os.path.exists(r("/etc/inittab")):
        init = "sysvinit"
    else:
        init = "unknown"

    uart_raw = read(r("/sys/class/tty/%s/type" % name))
    uart_type = int(uart_raw.strip()) if uart_raw and uart_raw.strip().isdigit() else None
    dev = r("/dev/%s" % name)
    group = None
    try:
        st = os.stat(dev)
        exists = stat.S_ISCHR(st.st_mode) or root != "/"
        try:
            import grp

            group = grp.getgrgid(st.st_gid).gr_name
        except KeyError:
            group = str(st.st_gid)
    except OSError:
        exists = False
    if name.startswith("ttyS"):
        live = bool(uart_type)
    else:
        # ttyAMA and hvc have no sysfs 'type'; the device existing in sysfs means the port is there.
        live = os.path.isdir(r("/sys/class/tty/%s" % name))

    legacy = [p for p in ("/boot/grub/menu.lst", "/boot/grub/grub.conf") if os.path.exists(r(p))]
    grub2 = any(tools.get(t) for t in ("update-grub", "grub-mkconfig", "grub2-mkconfig"))
    if grub2:
        grub = "grub2"
    elif legacy:
        grub = "legacy"
    else:
        grub = "none"
    method = "grub" if grub != "none" else None
    if method is None:
        if os.path.exists(r("/run/ostree-booted")):
            method = "ostree"
        elif os.path.isdir(r("/boot/efi/loader")) or os.path.isdir(r("/efi/loader")):
            method = "systemd-boot"
        elif os.path.exists(r("/etc/zipl.conf")):
            method = "zipl"
        else:
            method = "unknown (direct kernel boot? then console= belongs in the domain's <cmdline>)"
    entries = r("/boot/loader/entries")
    bls = os.path.isdir(entries) and any(f.endswith(".conf") for f in os.listdir(entries))

    wants = [
        r("/etc/systemd/system/%s.wants/serial-getty@%s.service" % (target, name))
        for target in ("getty.target", "multi-user.target")
    ]
    getty = dict(
        enabled=any(os.path.lexists(w) for w in wants),
        running=getty_running(root, name),
        dropin=os.path.exists(r("/etc/systemd/system/serial-getty@%s.service.d/ttyfleet.conf" % name)),
    )

    in_chroot = False
    if root == "/":
        try:
            a, b = os.stat("/"), os.stat("/proc/1/root/")
            in_chroot = (a.st_dev, a.st_ino) != (b.st_dev, b.st_ino)
        except OSError:
            in_chroot = False

    module.exit_json(
        changed=False,
        pid1=(read(r("/proc/1/comm")) or "").strip(),
        in_chroot=in_chroot,
        os=os_release(root),
        init=init,
        systemd_booted=os.path.isdir(r("/run/systemd/system")),
        tty=dict(name=name, exists=exists, uart_type=uart_type, live=live, group=group),
        boot=dict(
            grub=grub,
            legacy_files=legacy,
            efi=os.path.isdir(r("/sys/firmware/efi")),
            bls=bls,
            method=method,
            tools=tools,
        ),
        pam_securetty=pam_securetty(root),
        getty=getty,
        proc_cmdline=(read(r("/proc/cmdline")) or "").strip(),
    )


if __name__ == "__main__":
    main()
