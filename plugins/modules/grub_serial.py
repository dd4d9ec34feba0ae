#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

# Over 400 lines: about 270 are the module's documentation; the rest is the file I/O that belongs in the module
# (atomic writes with fsync, backups, restore on a failed generator, grub.cfg re-read and checked after it is
# regenerated, check-mode predictions). The GRUB logic itself is pure, in module_utils/_grub_serial.py.

DOCUMENTATION = r"""
---
module: grub_serial
short_description: Make GRUB and the kernel use a serial console, safely and idempotently
version_added: 0.1.0
description:
  - Sets the GRUB terminal and C(serial) command and the kernel C(console=) arguments on a guest, keeping every
    other kernel argument in place, then regenerates the GRUB configuration.
  - C(mode=dropin) (Debian, Ubuntu) writes one file in C(/etc/default/grub.d/) that strips stale C(console=)
    arguments at source time and appends the wanted ones, so Ubuntu's C(50-cloudimg-settings.cfg) cannot win.
    The drop-in is fixed code plus single-quoted data, so no value given to this module can become shell code in it.
  - Every option that ends in a file or a command line is checked against a strict grammar before anything on the
    target is read (kernel arguments, C(console=) values, absolute paths without C(..), the generator's argv, a
    header without control characters); the message names the option and what it allows.
  - C(mode=default_grub) (RHEL family, Fedora, SUSE) edits C(/etc/default/grub) key by key. With C(bls=true) it
    also edits the C(options) line of every Boot Loader Specification entry (or C(kernelopts) in grubenv for
    entries that use C($kernelopts), as on RHEL 8) and C(/etc/kernel/cmdline) when that file exists.
    C(grubby --args) collapses two C(console=) arguments into one, so entries are edited directly.
  - C(mode=legacy) edits a GRUB 0.97 C(menu.lst) or C(grub.conf) - C(serial) and C(terminal) lines, and the
    consoles on every C(kernel) line. Nothing is regenerated.
  - A guest whose running boot came through another boot loader (the UEFI variable C(LoaderInfo), which
    systemd-boot sets, names one that is not GRUB) is refused before anything is read or written, even when GRUB
    is installed too, since its files would not be read at boot.
  - Only the lines that boot this system's Linux kernel are judged in the generated configuration; memtest86+,
    other systems' entries (os-prober) and custom entries are left as they are.
  - Converges on the effective state, not only on source files. When the generated C(grub.cfg) lacks the serial
    terminal or the C(console=) arguments (for example after a power loss right after C(update-grub)), it is
    regenerated even if no source file changes.
  - Every new file is checked with C(sh -n) before anything is written. When regeneration fails (non-zero exit,
    or C(Syntax errors are detected) in its output with exit 0), or the regenerated file still lacks the
    settings, every file the module touched is restored to its previous content and the module fails with the
    tool's message. A failing write (C(ENOSPC), C(EIO)) puts back every file written before it and fails with
    the error, leaving no temporary file. The disks are flushed (C(sync)) after a successful write.
author:
  - ttyfleet maintainers (@ttyfleet)
options:
  mode:
    description: Which GRUB layout the guest has; see the description.
    type: str
    required: true
    choices: [dropin, default_grub, legacy]
  terminal:
    description:
      - GRUB terminals, in the order GRUB_TERMINAL lists them. Both C(console) and C(serial) keep VGA working.
      - V([auto]) chooses per firmware (RV(terminal_reason) says why) - C(console) alone where the EFI firmware
        already mirrors its console onto a UART (its C(ConOut) variable holds one, or it is OVMF/AAVMF; C(serial)
        as well would draw every line twice), or where the serial console is a virtio console C(hvcN) GRUB cannot
        draw on; otherwise (BIOS, EFI without console redirection) C(console serial).
    type: list
    elements: str
    default: [console, serial]
  unit:
    description: GRUB serial unit (the N of ttySN).
    type: int
    default: 0
  speed:
    description: Line speed in baud for GRUB.
    type: int
    default: 115200
  word:
    description: Data bits.
    type: int
    default: 8
  parity:
    description: Parity.
    type: str
    default: 'no'
    choices: ['no', odd, even]
  stop:
    description: Stop bits.
    type: int
    default: 1
  consoles:
    description:
      - Values of the kernel C(console=) arguments, in order; the last one becomes C(/dev/console).
      - Every other C(console=) argument is removed, all other arguments are kept.
      - An early console on another serial port than these (C(earlyprintk=ttyS0,115200) when the consoles are
        C(tty0) and C(hvc0), C(earlycon=uart8250,io,0x2f8) when they name C(ttyS0)) is removed as well, wherever
        the command line comes from; a packaged C(/etc/default/grub) is not edited, the drop-in strips it when
        sourced. One on a configured port is kept, and so are those naming no PC UART (C(earlyprintk=vga),
        C(efi), an MMIO C(earlycon), a bare C(earlycon)).
      - Each is a device name with up to 4 comma-separated options of letters, digits, C(_), C(.), C(:)
        (C(tty0), C(ttyS0,115200n8), C(hvc0)).
    type: list
    elements: str
    required: true
  remove_args:
    description:
      - Kernel arguments to remove, as bare keys (C(quiet), C(rhgb)) or exact C(key=value).
      - A key of letters, digits, C(_), C(.), C(-); a value of letters, digits and C(_.,:/+@%=-). No
        quotes, blanks or shell characters; C(console=) is managed by O(consoles).
    type: list
    elements: str
    default: []
  timeout_s:
    description: When set, GRUB_TIMEOUT in seconds and GRUB_TIMEOUT_STYLE=menu, so the menu shows on serial.
    type: int
  default_file:
    description: Path of C(/etc/default/grub).
    type: path
    default: /etc/default/grub
  dropin_file:
    description: The drop-in written in C(mode=dropin); it must sort after every drop-in it has to win over.
    type: path
    default: /etc/default/grub.d/90-ttyfleet-serial-console.cfg
  legacy_file:
    description: GRUB 0.97 menu file (C(mode=legacy)); a symlink such as C(/etc/grub.conf) is followed.
    type: path
    default: /boot/grub/menu.lst
  grub_cfg:
    description: The generated GRUB configuration that is checked and that C(mkconfig_cmd) writes.
    type: path
    default: /boot/grub/grub.cfg
  efi_grub_cfg:
    description:
      - On a guest booted by UEFI, the GRUB configuration on the ESP. It is used instead of O(grub_cfg) only when
        it exists and is a real configuration, not a C(configfile) stub (Fedora 34+, RHEL 9 and Debian keep a
        stub there; writing it would break boot).
    type: path
  efi_dir:
    description: Directory that exists when the guest was booted by UEFI.
    type: path
    default: /sys/firmware/efi
  firmware_vendor_file:
    description:
      - The firmware's SMBIOS vendor. With O(terminal=[auto]) on EFI, EDK II's VM firmware (OVMF, AAVMF) gets
        C(console) alone even while its C(ConOut) holds no UART yet (a domain before its serial port is added);
        it adds every serial port to C(ConOut) at boot.
    type: path
    default: /sys/class/dmi/id/bios_vendor
    version_added: 0.1.0
  mkconfig_cmd:
    description:
      - Command that regenerates the GRUB configuration, as a list; C({grub_cfg}) is replaced by the chosen path.
      - Ignored in C(mode=legacy).
    type: list
    elements: str
    default: [update-grub]
  bls:
    description: Also edit Boot Loader Specification entries (and C(/etc/kernel/cmdline) if present).
    type: bool
    default: false
  bls_dir:
    description: Directory of BLS entries.
    type: path
    default: /boot/loader/entries
  grubenv:
    description:
      - GRUB environment block. BLS entries whose C(options) are C($kernelopts) (RHEL 8) get their arguments from
        its C(kernelopts) variable, which is edited instead of the entries.
    type: path
    default: /boot/grub2/grubenv
  kernel_cmdline_file:
    description: The file kernel-install reads arguments of future kernels from, edited only if it exists.
    type: path
    default: /etc/kernel/cmdline
  proc_cmdline:
    description: Running kernel command line, compared with the configured consoles for RV(reboot_required).
    type: path
    default: /proc/cmdline
  backup:
    description: Keep a timestamped copy of every source file before changing it.
    type: bool
    default: true
  header:
    description: Comment written at the top of the drop-in (for example the ansible_managed string).
    type: str
    default: Managed by Ansible (ttyfleet.serial_console.grub)
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying target.
    support: full
    details:
      - Reports what would change, including a needed regeneration; writes nothing.
      - Runs nothing from a file it would change - the drop-in's effect is computed, C(/etc/default/grub) is read
        without being run in C(mode=default_grub) - and fails where the real run would (no generator, no
        directory for C(grub.cfg)).
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details: Diffs of every source file and BLS entry; a regenerated C(grub.cfg) is named in RV(regenerate_reasons).
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
notes:
  - The regeneration tool is run once per call at most, after all source files are written.
  - In C(mode=default_grub), C(GRUB_CMDLINE_LINUX) and C(GRUB_CMDLINE_LINUX_DEFAULT) must be plain (quoted)
    values; the module refuses to run C(/etc/default/grub) to find out what shell code there would compute.
  - In C(mode=dropin), C(/etc/default/grub) and the other drop-ins are sourced as C(grub-mkconfig) does, in a
    shell whose standard output is discarded; the values are read from a separate descriptor.
seealso:
  - name: GRUB manual, simple configuration
    description: GRUB_TERMINAL, GRUB_SERIAL_COMMAND, GRUB_CMDLINE_LINUX and drop-ins.
    link: https://www.gnu.org/software/grub/manual/grub/html_node/Simple-configuration.html
"""

EXAMPLES = r"""
- name: Debian/Ubuntu, ttyS0 at 115200 8N1, VGA keeps working
  ttyfleet.serial_console.grub_serial:
    mode: dropin
    consoles: [tty0, "ttyS0,115200n8"]

- name: RHEL 9 (BLS, UEFI with the ESP stub left alone), drop quiet and rhgb
  ttyfleet.serial_console.grub_serial:
    mode: default_grub
    bls: true
    consoles: [tty0, "ttyS0,115200n8"]
    remove_args: [quiet, rhgb]
    grub_cfg: /boot/grub2/grub.cfg
    efi_grub_cfg: /boot/efi/EFI/redhat/grub.cfg
    mkconfig_cmd: [grub2-mkconfig, -o, "{grub_cfg}"]

- name: CentOS 6, GRUB 0.97
  ttyfleet.serial_console.grub_serial:
    mode: legacy
    legacy_file: /etc/grub.conf
    consoles: [tty0, "ttyS0,115200n8"]
"""

RETURN = r"""
changed_files:
  description: Source files and BLS entries that were (or in check mode would be) rewritten.
  returned: always
  type: list
  elements: str
backup_files:
  description: Backup copies made before writing.
  returned: always
  type: list
  elements: str
grub_cfg:
  description: The generated configuration that was checked (and regenerated); empty in C(mode=legacy).
  returned: always
  type: str
regenerated:
  description: Whether the GRUB configuration was (or in check mode would be) regenerated.
  returned: always
  type: bool
regenerate_reasons:
  description: Why the generated configuration needed regenerating.
  returned: always
  type: list
  elements: str
configured_args:
  description: Kernel arguments the next boot gets (from the generated or edited boot entries, or predicted).
  returned: always
  type: list
  elements: str
terminal:
  description: The GRUB terminals used (the choice of O(terminal=[auto]), or O(terminal) as given).
  returned: always
  type: list
  elements: str
  sample: [console]
terminal_reason:
  description: Why those terminals (with O(terminal=[auto])), or C(as requested).
  returned: always
  type: str
  sample: the EFI firmware mirrors its console (ConOut) onto a UART
running_args:
  description: Arguments of the running kernel.
  returned: always
  type: list
  elements: str
reboot_required:
  description: The running kernel's consoles (or removed arguments) differ from what is configured.
  returned: always
  type: bool
"""

import errno  # noqa: E402 (validate-modules wants the docs first)
import glob  # noqa: E402 (validate-modules wants the docs first)
import os  # noqa: E402 (validate-modules wants the docs first)
import re  # noqa: E402 (validate-modules wants the docs first)
import shutil  # noqa: E402 (validate-modules wants the docs first)
import subprocess  # noqa: E402 (validate-modules wants the docs first)
import tempfile  # noqa: E402 (validate-modules wants the docs first)
import time  # noqa: E402 (validate-modules wants the docs first)

from ansible.module_utils.basic import AnsibleModule  # noqa: E402 (validate-modules wants the docs first)

from ansible_collections.ttyfleet.serial_console.plugins.module_utils import _grub_serial as core  # noqa: E402

SYNTAX_ERROR = "Syntax errors are detected"
PATH_OPTIONS = (
    "default_file",
    "dropin_file",
    "legacy_file",
    "grub_cfg",
    "efi_grub_cfg",
    "efi_dir",
    "bls_dir",
    "grubenv",
    "kernel_cmdline_file",
    "proc_cmdline",
)


def read(path):
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            return f.read()
    except FileNotFoundError:
        return None


class WriteError(Exception):
    """A write failed (ENOSPC, EIO, ...); ``path`` and the OSError say where and why."""

    def __init__(self, path, err):
        super().__init__("%s: %s" % (path, err.strerror or err))
        self.path, self.err, self.unrestored = path, err, []


class Run:
    """Collects planned writes, makes them through one choke point, and can put everything back."""

    def __init__(self, module):
        self.module = module
        self.plan = []  # (path, old or None, new)
        self.backups = []
        self.snapshots = {}  # path -> old text (None: did not exist)
        self.kept = {}  # path -> hard link to the replaced inode, so restoring needs no free space
        self.diffs = []

    def want(self, path, new):
        old = read(path)
        if old != new:
            self.plan.append((path, old, new))
            self.diffs.append({"before_header": path, "after_header": path, "before": old or "", "after": new})

    def sh_check(self):
        """Every shell config in the plan must parse (/etc/default/grub is sourced by a shell)."""
        for path, _old, new in self.plan:
            if path.endswith((".cfg", "/grub")) and "/etc/default" in path:
                err = sh_syntax_error(new)
                if err:
                    self.module.fail_json(msg="refusing to write %s: sh -n rejects it: %s" % (path, err))

    def snapshot(self, path):
        if path not in self.snapshots:
            self.snapshots[path] = read(path)

    def write_all(self, backup):
        """Write every planned file; on any OSError put back what was written and raise WriteError."""
        try:
            if backup:
                for path, old, _new in self.plan:
                    if old is not None:
                        self.backups.append(backup_copy(path))
            for path, _old, new in self.plan:
                self.snapshot(path)
                self.kept[path] = write_atomic(self.module, path, new)
        except WriteError as e:
            e.unrestored = self.restore()
            raise

    def restore(self):
        """Put every touched file back. Returns the files that could not be restored (each with the reason)."""
        failed = []
        for path, old in self.snapshots.items():
            try:
                link = self.kept.pop(path, None)
                if link:
                    os.replace(link, os.path.realpath(path))
                elif old is None:
                    if os.path.lexists(path):
                        os.unlink(path)
                elif read(path) != old:
                    link = write_atomic(self.module, path, old)
                    if link:
                        os.unlink(link)
            except (OSError, WriteError) as e:
                failed.append("%s (%s)" % (path, e))
        if failed:
            return failed  # the backups are the way back now: keep them
        # The files are as they were: copies made for this run would only mislead.
        for b in self.backups:
            if b and os.path.exists(b):
                os.unlink(b)
        self.backups = []
        os.sync()
        return []

    def done(self):
        for link in self.kept.values():
            if link and os.path.lexists(link):
                os.unlink(link)
        self.kept = {}


def backup_copy(path):
    """A timestamped copy next to the file, named like Ansible's backup_local; a partial copy never stays."""
    dest = "%s.%d.%s~" % (path, os.getpid(), time.strftime("%Y-%m-%d@%H:%M:%S"))
    try:
        shutil.copy2(path, dest)
    except OSError as e:
        if os.path.lexists(dest):
            os.unlink(dest)
        raise WriteError(dest, e) from None
    return dest


def write_atomic(module, path, text):
    """Write ``text`` to a temporary file beside ``path``, fsync, then rename it over ``path``.

    Returns a hard link to the replaced file (None if there was none or the file system has no links), so that a
    later failure can put it back by a rename. On OSError nothing is left behind and WriteError is raised.
    """
    real = os.path.realpath(path)
    d = os.path.dirname(real)
    tmp = keep = None
    try:
        if not os.path.isdir(d):
            os.makedirs(d, 0o755)
        fd, tmp = tempfile.mkstemp(prefix=".ttyfleet.", dir=d)
        with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        if os.path.exists(real):
            st = os.stat(real)
            os.chmod(tmp, st.st_mode & 0o7777)
            os.chown(tmp, st.st_uid, st.st_gid)
            keep = os.path.join(d, ".ttyfleet-keep.%s" % os.path.basename(tmp))
            try:
                os.link(real, keep)
            except OSError:
                keep = None
        else:
            os.chmod(tmp, 0o644)
        context = module.selinux_context(real) if os.path.exists(real) and module.selinux_enabled() else None
        os.replace(tmp, real)
        tmp = None
        if context:
            module.set_context_if_different(real, context, False)
        return keep
    except OSError as e:
        if keep and os.path.lexists(keep):
            os.unlink(keep)
        raise WriteError(path, e) from None
    finally:
        if tmp and os.path.lexists(tmp):
            os.unlink(tmp)


def sh_syntax_error(text):
    fd, tmp = tempfile.mkstemp(prefix="ttyfleet-sh-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape") as f:
            f.write(text)
        p = subprocess.run(["sh", "-n", tmp], capture_output=True, text=True, check=False)
        return (p.stderr.strip() or "exit %d" % p.returncode) if p.returncode else None
    finally:
        os.unlink(tmp)


def dropin_neighbours(dropin_file):
    """The drop-ins grub-mkconfig sources before and after ours (sorted like its ``*.cfg`` glob); never ours."""
    d = os.path.dirname(dropin_file)
    others = sorted(f for f in glob.glob(os.path.join(glob.escape(d), "*.cfg")) if f != dropin_file)
    name = os.path.basename(dropin_file)
    return [f for f in others if os.path.basename(f) < name], [f for f in others if os.path.basename(f) > name]


def stale_early_consoles(p, consoles):
    """The early consoles (earlyprintk=, earlycon=) on another serial port than the configured consoles, found in
    the files this module edits or that feed them (never our own drop-in): removed like remove_args, so that the
    kernel is not left with a second console on another device. Packaged files are not edited for it: the drop-in
    strips them at source time, as it does console=."""
    files = [p["default_file"]]
    if p["mode"] == "dropin":
        before, after = dropin_neighbours(p["dropin_file"])
        files += before + after
    if p["mode"] == "legacy":
        files.append(os.path.realpath(p["legacy_file"]))
    elif p["bls"]:
        files += sorted(glob.glob(os.path.join(glob.escape(p["bls_dir"]), "*.conf")))
        files += [p["grubenv"], p["kernel_cmdline_file"]]
    found = []
    for path in files:
        try:
            text = read(path)
        except OSError:
            continue
        found += [a for a in core.early_console_args(text) if a not in found]
    return core.stale_early_consoles(found, consoles)


def input_problems(p):
    """Every caller value checked against its grammar before anything on the target is read."""
    problems = core.validate_settings(
        speed=p["speed"], word=p["word"], parity=p["parity"], stop=p["stop"], unit=p["unit"]
    )
    bad_terms = [t for t in p["terminal"] if t not in core.TERMINALS]
    if (bad_terms or not p["terminal"]) and p["terminal"] != [core.AUTO_TERMINAL]:
        problems.append("terminal: each must be one of %s, or [auto] alone" % ", ".join(core.TERMINALS))
    if not p["consoles"]:
        problems.append("consoles: at least one console= value is needed, such as ttyS0,115200n8")
    problems += core.grammar_problems("consoles", p["consoles"], "console")
    problems += core.grammar_problems("remove_args", p["remove_args"], "karg")
    if any(core._arg_key(a) == "console" for a in p["remove_args"]):
        problems.append("remove_args: console= is managed by consoles, not removed by remove_args")
    for opt in PATH_OPTIONS:
        if p[opt] is not None:
            problems += core.grammar_problems(opt, p[opt], "path")
    if p["mode"] == "dropin" and not p["dropin_file"].endswith(".cfg"):
        problems.append("dropin_file: must end in .cfg (grub-mkconfig sources only /etc/default/grub.d/*.cfg)")
    if p["mkconfig_cmd"]:
        problems += core.grammar_problems("mkconfig_cmd[0]", p["mkconfig_cmd"][0], "command")
        problems += core.grammar_problems("mkconfig_cmd", p["mkconfig_cmd"][1:], "cmd_arg")
    elif p["mode"] != "legacy":
        problems.append("mkconfig_cmd: the command that regenerates grub.cfg is needed (not in mode=legacy)")
    problems += core.header_problems("header", p["header"])
    if p["timeout_s"] is not None and not 0 <= p["timeout_s"] <= 300:
        problems.append("timeout_s %s is not within 0..300" % p["timeout_s"])
    return problems


def main():
    module = AnsibleModule(
        argument_spec=dict(
            mode=dict(type="str", required=True, choices=["dropin", "default_grub", "legacy"]),
            terminal=dict(type="list", elements="str", default=["console", "serial"]),
            unit=dict(type="int", default=0),
            speed=dict(type="int", default=115200),
            word=dict(type="int", default=8),
            parity=dict(type="str", default="no", choices=["no", "odd", "even"]),
            stop=dict(type="int", default=1),
            consoles=dict(type="list", elements="str", required=True),
            remove_args=dict(type="list", elements="str", default=[]),
            timeout_s=dict(type="int"),
            default_file=dict(type="path", default="/etc/default/grub"),
            dropin_file=dict(type="path", default="/etc/default/grub.d/90-ttyfleet-serial-console.cfg"),
            legacy_file=dict(type="path", default="/boot/grub/menu.lst"),
            grub_cfg=dict(type="path", default="/boot/grub/grub.cfg"),
            efi_grub_cfg=dict(type="path"),
            efi_dir=dict(type="path", default="/sys/firmware/efi"),
            firmware_vendor_file=dict(type="path", default="/sys/class/dmi/id/bios_vendor"),
            mkconfig_cmd=dict(type="list", elements="str", default=["update-grub"]),
            bls=dict(type="bool", default=False),
            bls_dir=dict(type="path", default="/boot/loader/entries"),
            grubenv=dict(type="path", default="/boot/grub2/grubenv"),
            kernel_cmdline_file=dict(type="path", default="/etc/kernel/cmdline"),
            proc_cmdline=dict(type="path", default="/proc/cmdline"),
            backup=dict(type="bool", default=True),
            header=dict(type="str", default="Managed by Ansible (ttyfleet.serial_console.grub)"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    problems = input_problems(p)
    if problems:
        module.fail_json(msg="; ".join(problems))

    refusal = core.booted_without_grub(core.loader_info(read_efivar(p["efi_dir"], core.LOADER_INFO_VAR)))
    if refusal:
        module.fail_json(msg=refusal)
    consoles = p["consoles"]
    remove = p["remove_args"] + [a for a in stale_early_consoles(p, consoles) if a not in p["remove_args"]]
    efi_booted = os.path.isdir(p["efi_dir"])
    conout = read_efivar(p["efi_dir"], core.CONOUT_VAR)
    try:
        vendor = read(p["firmware_vendor_file"]) or ""
    except OSError:
        vendor = ""
    terminal, terminal_reason = core.choose_terminal(p["terminal"], consoles, efi_booted, conout, vendor)
    # The helpers below read the terminal from the parameters: they get the decided one.
    p["terminal"] = terminal
    grub_dir = os.path.dirname(p["grub_cfg"])
    serial_cmd = core.port_serial_command(
        core.serial_command(p["unit"], p["speed"], p["word"], p["parity"], p["stop"]),
        p["unit"],
        [d for d in core.EFI_ONLY_SERIAL_PLATFORMS + (core.PC_BIOS_PLATFORM,)
         if os.path.isdir(os.path.join(grub_dir, d))],
    )
    run = Run(module)
    result = dict(
        changed=False,
        changed_files=[],
        backup_files=[],
        grub_cfg="",
        regenerated=False,
        regenerate_reasons=[],
        configured_args=[],
        running_args=[],
        reboot_required=False,
        terminal=terminal,
        terminal_reason=terminal_reason,
    )

    if p["mode"] == "legacy":
        menu = os.path.realpath(p["legacy_file"])
        text = read(menu)
        if text is None:
            module.fail_json(msg="GRUB 0.97 menu %s does not exist" % p["legacy_file"])
        new = core.edit_legacy_menu(text, serial_cmd, terminal, consoles, remove, p["timeout_s"])
        run.want(menu, new)
        left = core.legacy_problems(new, serial_cmd, terminal, consoles, remove)
        if left:
            module.fail_json(msg="menu %s would still lack the serial console: %s" % (menu, "; ".join(left)))
        kernels = [line.split(None, 2) for line in new.splitlines() if line.split()[:1] == ["kernel"]]
        result["configured_args"] = core.split_args(kernels[0][2]) if kernels and len(kernels[0]) > 2 else []
    else:
        grub_cfg = choose_grub_cfg(p)
        result["grub_cfg"] = grub_cfg
        if p["mode"] == "dropin":
            dropin = core.render_dropin(p["header"], terminal, serial_cmd, consoles, remove, p["timeout_s"])
            run.want(p["dropin_file"], dropin)
            run.sh_check()
            env = predict_dropin(module, p, terminal, serial_cmd, consoles, remove)
            where = os.path.dirname(p["dropin_file"])
        else:
            if read(p["default_file"]) is None:
                module.fail_json(msg="%s does not exist; GRUB 2 is not set up as expected" % p["default_file"])
            new_text, env = edit_default_grub(module, p, serial_cmd, consoles, remove)
            run.want(p["default_file"], new_text)
            run.sh_check()
            where = p["default_file"]
        predicted = core.split_args(env["GRUB_CMDLINE_LINUX"]) + core.split_args(env["GRUB_CMDLINE_LINUX_DEFAULT"])
        left = core.args_problems(predicted, consoles, remove)
        if left and not p["bls"]:
            module.fail_json(
                msg="after this change GRUB would still not get the consoles (a later drop-in in %s "
                "overrides it?): %s" % (where, "; ".join(left))
            )
        if env["GRUB_TERMINAL"].split() != terminal:
            module.fail_json(
                msg="GRUB_TERMINAL would be %r, not %r: a later file overrides it"
                % (env["GRUB_TERMINAL"], " ".join(terminal))
            )
        result["configured_args"] = predicted
        if p["bls"]:
            entries = sorted(glob.glob(os.path.join(glob.escape(p["bls_dir"]), "*.conf")))
            kernelopts_users = []
            for entry in entries:
                text = read(entry)
                if "$kernelopts" in (core.bls_options(text) or ""):
                    # RHEL 8 style: the arguments live in grubenv; the entry itself stays as it is.
                    kernelopts_users.append(entry)
                    continue
                new = core.edit_bls_entry(text, consoles, remove)
                run.want(entry, new)
                result["configured_args"] = core.split_args(core.bls_options(new) or "")
            if kernelopts_users:
                result["configured_args"] = edit_grubenv(module, run, p, consoles, remove, kernelopts_users)
            kc = read(p["kernel_cmdline_file"])
            if kc is not None:
                run.want(p["kernel_cmdline_file"], core.edit_cmdline_file(kc, consoles, remove))
        cfg_text = read(grub_cfg)
        if cfg_text is None:
            result["regenerate_reasons"].append("%s does not exist" % grub_cfg)
        else:
            result["regenerate_reasons"] += core.grub_cfg_problems(
                cfg_text, serial_cmd, terminal, consoles, remove, bls=p["bls"]
            )
        if any(path in (p["default_file"], p["dropin_file"]) for path, _o, _n in run.plan):
            result["regenerate_reasons"].insert(0, "GRUB defaults changed")
        result["regenerated"] = bool(result["regenerate_reasons"])

    result["changed_files"] = [path for path, _o, _n in run.plan]
    result["changed"] = bool(run.plan) or result["regenerated"]
    running = read(p["proc_cmdline"])
    result["running_args"] = core.split_args(running or "")
    if running is not None:
        running_remove = remove + core.stale_early_consoles(result["running_args"], consoles)
        result["reboot_required"] = bool(core.args_problems(result["running_args"], consoles, running_remove))
    if module._diff:
        result["diff"] = run.diffs
    # What the real run needs is resolved before check mode returns, so check mode fails where the run would.
    exe = resolve_generator(module, p, result) if result["regenerated"] else None
    if module.check_mode or not result["changed"]:
        module.exit_json(**result)

    try:
        run.write_all(p["backup"])
    except WriteError as e:
        if e.unrestored:
            after = "could NOT restore %s (backups kept: %s)" % (", ".join(e.unrestored), ", ".join(run.backups))
        else:
            after = "every file written before it was restored, nothing was regenerated"
        module.fail_json(
            msg="writing %s failed: %s; %s" % (e.path, e.err.strerror or e.err, after),
            errno=errno.errorcode.get(e.err.errno, ""),
            changed=bool(e.unrestored),
        )
    result["backup_files"] = run.backups
    if exe:
        regenerate(module, run, p, exe, result["grub_cfg"], serial_cmd, consoles, remove)
    run.done()
    os.sync()
    module.exit_json(**result)


def resolve_generator(module, p, result):
    cmd0 = p["mkconfig_cmd"][0]
    exe = cmd0 if "/" in cmd0 else module.get_bin_path(cmd0)
    if not exe or not os.access(exe, os.X_OK):
        module.fail_json(msg="cannot regenerate %s: %r not found; nothing was changed" % (result["grub_cfg"], cmd0))
    if not os.path.isdir(os.path.dirname(result["grub_cfg"])):
        module.fail_json(
            msg="cannot regenerate %s: its directory does not exist; nothing was changed" % result["grub_cfg"]
        )
    return exe


def predict_dropin(module, p, terminal, serial_cmd, consoles, remove):
    """Source /etc/default/grub and the other drop-ins (never ours, old or new), apply our drop-in in Python."""
    before, after = dropin_neighbours(p["dropin_file"])
    try:
        env = core.source_defaults([p["default_file"]] + before)
        env = core.dropin_effect(env, terminal, serial_cmd, consoles, remove, p["timeout_s"])
        if any(os.path.isfile(f) for f in after):
            env = core.source_defaults([p["default_file"]] + before, after, preset=env)
    except RuntimeError as e:
        module.fail_json(msg=str(e))
    return env


def edit_grubenv(module, run, p, consoles, remove, users):
    env_path = p["grubenv"]
    real = os.path.realpath(env_path)
    if os.path.islink(env_path) and not os.path.isdir(p["efi_dir"]):
        # lfops documents this EL8 trap: booted by BIOS, grubenv links into the ESP that BIOS GRUB never reads.
        module.fail_json(
            msg="%s links to %s on a guest booted by BIOS: GRUB would not read kernelopts there. "
            "Replace the link by a real file first" % (env_path, real)
        )
    text = read(real)
    if text is None or core.grubenv_get(text, "kernelopts") is None:
        module.fail_json(msg="BLS entries %s use $kernelopts, but %s has no kernelopts" % (", ".join(users), env_path))
    old = core.split_args(core.grubenv_get(text, "kernelopts"))
    new = core.merge_args(old, consoles, remove)
    if new != old:
        block = core.grubenv_set(text, "kernelopts", " ".join(new))
        if block is None:
            module.fail_json(msg="kernelopts would not fit in the 1024-byte %s" % env_path)
        run.want(real, block)
    return new


def read_efivar(efi_dir, name):
    """A UEFI variable's value from efivarfs (bytes without the 4 attribute bytes), or None if unreadable."""
    try:
        with open(os.path.join(efi_dir, name), "rb") as f:
            data = f.read()
    except OSError:
        return None
    return data[4:] if len(data) > 4 else None


def choose_grub_cfg(p):
    efi = p["efi_grub_cfg"]
    if efi and os.path.isdir(p["efi_dir"]):
        text = read(efi)
        if text is not None and not re.search(r"^\s*configfile\b", text, re.M):
            return efi
    return p["grub_cfg"]


def edit_default_grub(module, p, serial_cmd, consoles, remove):
    """/etc/default/grub edited key by key. It is read, never run: the keys we edit must be plain values."""
    text = read(p["default_file"])
    env = {}
    for key in ("GRUB_CMDLINE_LINUX", "GRUB_CMDLINE_LINUX_DEFAULT"):
        value, _found = core.shell_assignment(text, key)
        if value is None:
            module.fail_json(
                msg="%s in %s is shell code, not a plain quoted value; it is not run to read it. "
                'Write it as %s="..."' % (key, p["default_file"], key)
            )
        env[key] = value
    values = [("GRUB_TERMINAL", " ".join(p["terminal"])), ("GRUB_SERIAL_COMMAND", serial_cmd)]
    linux = core.split_args(env["GRUB_CMDLINE_LINUX"])
    new_linux = core.merge_args(linux, consoles, remove)
    if new_linux != linux:
        values.append(("GRUB_CMDLINE_LINUX", " ".join(new_linux)))
    dflt = core.split_args(env["GRUB_CMDLINE_LINUX_DEFAULT"])
    new_dflt = core.merge_args(dflt, [], remove)
    if new_dflt != dflt:
        values.append(("GRUB_CMDLINE_LINUX_DEFAULT", " ".join(new_dflt)))
    if p["timeout_s"] is not None:
        values += [("GRUB_TIMEOUT", str(p["timeout_s"])), ("GRUB_TIMEOUT_STYLE", "menu")]
    predicted = dict(
        GRUB_CMDLINE_LINUX=" ".join(new_linux),
        GRUB_CMDLINE_LINUX_DEFAULT=" ".join(new_dflt),
        GRUB_TERMINAL=" ".join(p["terminal"]),
        GRUB_SERIAL_COMMAND=serial_cmd,
    )
    return core.set_shell_vars(text, values), predicted


def regenerate(module, run, p, exe, grub_cfg, serial_cmd, consoles, remove):
    """Run the generator; on any sign of failure put every touched file back and fail with the tool's words."""
    run.snapshot(grub_cfg)
    cmd = [c.replace("{grub_cfg}", grub_cfg) for c in p["mkconfig_cmd"]]
    rc, out, err = module.run_command([exe] + cmd[1:])
    problem = None
    if rc != 0:
        problem = "%s exited %d" % (" ".join(cmd), rc)
    elif SYNTAX_ERROR in out or SYNTAX_ERROR in err:
        problem = "%s reported '%s' (exit 0)" % (" ".join(cmd), SYNTAX_ERROR)
    else:
        left = core.grub_cfg_problems(read(grub_cfg) or "", serial_cmd, p["terminal"], consoles, remove, bls=p["bls"])
        if left:
            problem = "%s still lacks the serial console after %s: %s" % (grub_cfg, " ".join(cmd), "; ".join(left))
    if problem:
        failed = run.restore()
        if failed:
            problem += "; could NOT restore %s (backups kept: %s)" % (
                ", ".join(failed),
                ", ".join(run.backups) or "none",
            )
        else:
            problem += "; previous files restored"
        module.fail_json(msg=problem, rc=rc, stdout=out, stderr=err, changed=bool(failed))


if __name__ == "__main__":
    main()
