#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

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
  - C(mode=default_grub) (RHEL family, Fedora, SUSE) edits C(/etc/default/grub) key by key. With C(bls=true) it
    also edits the C(options) line of every Boot Loader Specification entry (or C(kernelopts) in grubenv for
    entries that use C($kernelopts), as on RHEL 8) and C(/etc/kernel/cmdline) when that file exists.
    C(grubby --args) collapses two C(console=) arguments into one, so entries are edited directly.
  - C(mode=legacy) edits a GRUB 0.97 C(menu.lst) or C(grub.conf) - C(serial) and C(terminal) lines, and the
    consoles on every C(kernel) line. Nothing is regenerated.
  - Converges on the effective state, not only on source files. When the generated C(grub.cfg) lacks the serial
    terminal or the C(console=) arguments (for example after a power loss right after C(update-grub)), it is
    regenerated even if no source file changes.
  - Every new file is checked with C(sh -n) before anything is written. When regeneration fails (non-zero exit,
    or C(Syntax errors are detected) in its output with exit 0), or the regenerated file still lacks the
    settings, every file the module touched is restored to its previous content and the module fails with the
    tool's message. The disks are flushed (C(sync)) after a successful write.
author:
  - ttyfleet maintainers (@ttyfleet)
options:
  mode:
    description: Which GRUB layout the guest has; see the description.
    type: str
    required: true
    choices: [dropin, default_grub, legacy]
  terminal:
    description: GRUB terminals, in the order GRUB_TERMINAL lists them. Both C(console) and C(serial) keep VGA working.
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
    type: list
    elements: str
    required: true
  remove_args:
    description: Kernel arguments to remove, as bare keys (C(quiet), C(rhgb)) or exact C(key=value).
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
    details: Reports what would change, including a needed regeneration; writes and runs nothing.
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

import glob  # noqa: E402 (validate-modules wants the docs first)
import os  # noqa: E402 (validate-modules wants the docs first)
import re  # noqa: E402 (validate-modules wants the docs first)
import shutil  # noqa: E402 (validate-modules wants the docs first)
import subprocess  # noqa: E402 (validate-modules wants the docs first)
import tempfile  # noqa: E402 (validate-modules wants the docs first)

from ansible.module_utils.basic import AnsibleModule  # noqa: E402 (validate-modules wants the docs first)

from ansible_collections.ttyfleet.serial_console.plugins.module_utils import _grub_serial as core  # noqa: E402

SYNTAX_ERROR = "Syntax errors are detected"


def read(path):
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            return f.read()
    except FileNotFoundError:
        return None


class Run:
    """Collects planned writes, makes them through one choke point, and can put everything back."""

    def __init__(self, module):
        self.module = module
        self.plan = []  # (path, old or None, new)
        self.backups = []
        self.snapshots = {}
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
        for path, old, new in self.plan:
            self.snapshot(path)
            if backup and old is not None:
                self.backups.append(self.module.backup_local(path))
            write_atomic(self.module, path, new)

    def restore(self):
        for path, old in self.snapshots.items():
            if old is None:
                if os.path.exists(path):
                    os.unlink(path)
            elif read(path) != old:
                write_atomic(self.module, path, old)
        # The files are as they were: copies made for this run would only mislead.
        for b in self.backups:
            if b and os.path.exists(b):
                os.unlink(b)
        self.backups = []
        os.sync()


def write_atomic(module, path, text):
    real = os.path.realpath(path)
    d = os.path.dirname(real)
    if not os.path.isdir(d):
        os.makedirs(d, 0o755)
    fd, tmp = tempfile.mkstemp(prefix=".ttyfleet.", dir=d)
    with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    if not os.path.exists(real):
        os.chmod(tmp, 0o644)
    module.atomic_move(tmp, real)


def sh_syntax_error(text):
    fd, tmp = tempfile.mkstemp(prefix="ttyfleet-sh-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape") as f:
            f.write(text)
        p = subprocess.run(["sh", "-n", tmp], capture_output=True, text=True, check=False)
        return (p.stderr.strip() or "exit %d" % p.returncode) if p.returncode else None
    finally:
        os.unlink(tmp)


def source_grub(default_file, dropin_dir, overrides):
    """Source /etc/default/grub and its drop-ins the way grub-mkconfig does; return the variables we care about.

    ``overrides`` maps a path to the text that should be sourced instead (check mode, before writing).
    """
    files = [default_file]
    if dropin_dir:
        files += sorted(
            set(
                glob.glob(os.path.join(dropin_dir, "*.cfg"))
                + [p for p in overrides if p.startswith(dropin_dir.rstrip("/") + "/") and p.endswith(".cfg")]
            )
        )
    tmpdir = tempfile.mkdtemp(prefix="ttyfleet-src-")
    try:
        script = []
        for i, path in enumerate(files):
            text = overrides.get(path, read(path))
            if text is None:
                continue
            tmp = os.path.join(tmpdir, "%03d" % i)
            with open(tmp, "w", encoding="utf-8", errors="surrogateescape") as f:
                f.write(text)
            script.append('. "%s"' % tmp)
        names = ("GRUB_CMDLINE_LINUX", "GRUB_CMDLINE_LINUX_DEFAULT", "GRUB_TERMINAL")
        script.append("printf '%s\\0' " + " ".join('"${%s}"' % n for n in names))
        p = subprocess.run(["sh", "-c", "\n".join(script)], capture_output=True, text=True, check=False)
        if p.returncode:
            raise RuntimeError("sourcing %s failed: %s" % (", ".join(files), p.stderr.strip()))
        return dict(zip(names, p.stdout.split("\0")))
    finally:
        shutil.rmtree(tmpdir)


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
    problems = core.validate_settings(
        speed=p["speed"], word=p["word"], parity=p["parity"], stop=p["stop"], unit=p["unit"]
    )
    bad_terms = [t for t in p["terminal"] if t not in core.TERMINALS]
    if bad_terms or not p["terminal"]:
        problems.append("terminal %s: each must be one of %s" % (p["terminal"], ", ".join(core.TERMINALS)))
    if not p["consoles"] or any(not c or re.search(r"\s", c) or c.startswith("console=") for c in p["consoles"]):
        problems.append("consoles must be non-empty values such as ttyS0,115200n8 (without 'console=')")
    if p["timeout_s"] is not None and not 0 <= p["timeout_s"] <= 300:
        problems.append("timeout_s %s is not within 0..300" % p["timeout_s"])
    if problems:
        module.fail_json(msg="; ".join(problems))

    serial_cmd = core.serial_command(p["unit"], p["speed"], p["word"], p["parity"], p["stop"])
    consoles, remove, terminal = p["consoles"], p["remove_args"], p["terminal"]
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
        overrides = {}
        if p["mode"] == "dropin":
            dropin = core.render_dropin(p["header"], terminal, serial_cmd, consoles, remove, p["timeout_s"])
            run.want(p["dropin_file"], dropin)
            overrides[p["dropin_file"]] = dropin
            dropin_dir = os.path.dirname(p["dropin_file"])
        else:
            if read(p["default_file"]) is None:
                module.fail_json(msg="%s does not exist; GRUB 2 is not set up as expected" % p["default_file"])
            dropin_dir = None
            overrides[p["default_file"]] = edit_default_grub(module, p, serial_cmd, consoles, remove)
            run.want(p["default_file"], overrides[p["default_file"]])
        run.sh_check()
        try:
            env = source_grub(p["default_file"], dropin_dir, overrides)
        except RuntimeError as e:
            module.fail_json(msg=str(e))
        predicted = core.split_args(env["GRUB_CMDLINE_LINUX"]) + core.split_args(env["GRUB_CMDLINE_LINUX_DEFAULT"])
        left = core.args_problems(predicted, consoles, remove)
        if left and not p["bls"]:
            module.fail_json(
                msg="after this change GRUB would still not get the consoles (a later drop-in in %s "
                "overrides it?): %s" % (dropin_dir or p["default_file"], "; ".join(left))
            )
        if env["GRUB_TERMINAL"].split() != terminal:
            module.fail_json(
                msg="GRUB_TERMINAL would be %r, not %r: a later file overrides it"
                % (env["GRUB_TERMINAL"], " ".join(terminal))
            )
        result["configured_args"] = predicted
        if p["bls"]:
            entries = sorted(glob.glob(os.path.join(p["bls_dir"], "*.conf")))
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
        result["reboot_required"] = bool(core.args_problems(result["running_args"], consoles, remove))
    if module._diff:
        result["diff"] = run.diffs
    if module.check_mode or not result["changed"]:
        module.exit_json(**result)

    exe = None
    if result["regenerated"]:
        cmd0 = p["mkconfig_cmd"][0] if p["mkconfig_cmd"] else ""
        exe = cmd0 if "/" in cmd0 else module.get_bin_path(cmd0) if cmd0 else None
        if not exe or not os.access(exe, os.X_OK):
            module.fail_json(msg="cannot regenerate %s: %r not found; nothing was changed" % (result["grub_cfg"], cmd0))
    run.write_all(p["backup"])
    result["backup_files"] = run.backups
    if exe:
        regenerate(module, run, p, exe, result["grub_cfg"], serial_cmd, consoles, remove)
    os.sync()
    module.exit_json(**result)


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


def choose_grub_cfg(p):
    efi = p["efi_grub_cfg"]
    if efi and os.path.isdir(p["efi_dir"]):
        text = read(efi)
        if text is not None and not re.search(r"^\s*configfile\b", text, re.M):
            return efi
    return p["grub_cfg"]


def edit_default_grub(module, p, serial_cmd, consoles, remove):
    text = read(p["default_file"])
    try:
        env = source_grub(p["default_file"], None, {})
    except RuntimeError as e:
        module.fail_json(msg=str(e))
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
    return core.set_shell_vars(text, values)


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
        run.restore()
        module.fail_json(msg="%s; previous files restored" % problem, rc=rc, stdout=out, stderr=err, changed=False)


if __name__ == "__main__":
    main()
