# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""grub_serial in-process on a temporary tree, with a stand-in grub-mkconfig: check mode writes nothing, a run
converges and a re-run changes nothing, and a failing or "Syntax errors" generator leaves every file as it was."""

from __future__ import annotations

import errno
import json
import os
import stat

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.ttyfleet.serial_console.plugins.modules import grub_serial

SERIAL = "serial --unit=0 --speed=115200 --word=8 --parity=no --stop=1"

MKCONFIG = """#!/bin/sh
# -o OUT: write a grub.cfg from /etc/default/grub and grub.d the way grub-mkconfig does.
out=$2
. "{root}/etc/default/grub"
for f in "{root}"/etc/default/grub.d/*.cfg; do [ -e "$f" ] && . "$f"; done
case "$(cat "{root}/mode" 2>/dev/null)" in
  fail) echo half > "$out"; echo "grub-mkconfig: error: out of disk" >&2; exit 1 ;;
  syntax) echo "Syntax errors are detected in generated GRUB config file." >&2; exit 0 ;;
esac
{{ echo "$GRUB_SERIAL_COMMAND"; echo "terminal_input $GRUB_TERMINAL"; echo "terminal_output $GRUB_TERMINAL"
  echo "linux /vmlinuz root=/dev/vda ro $GRUB_CMDLINE_LINUX $GRUB_CMDLINE_LINUX_DEFAULT"; }} > "$out"
"""


@pytest.fixture
def tree(tmp_path):
    root = tmp_path
    (root / "etc/default/grub.d").mkdir(parents=True)
    (root / "boot/grub").mkdir(parents=True)
    (root / "etc/default/grub").write_text(
        'GRUB_TIMEOUT=5\nGRUB_CMDLINE_LINUX_DEFAULT="quiet"\nGRUB_CMDLINE_LINUX=""\n'
    )
    (root / "boot/grub/grub.cfg").write_text("terminal_output console\nlinux /vmlinuz root=/dev/vda ro quiet\n")
    (root / "cmdline").write_text("root=/dev/vda ro quiet\n")
    mk = root / "mkconfig"
    mk.write_text(MKCONFIG.format(root=root))
    mk.chmod(mk.stat().st_mode | stat.S_IEXEC)
    return root


def args(root, **kw):
    a = dict(
        mode="dropin",
        consoles=["tty0", "ttyS0,115200n8"],
        default_file=str(root / "etc/default/grub"),
        dropin_file=str(root / "etc/default/grub.d/90-ttyfleet-serial-console.cfg"),
        grub_cfg=str(root / "boot/grub/grub.cfg"),
        mkconfig_cmd=[str(root / "mkconfig"), "-o", "{grub_cfg}"],
        proc_cmdline=str(root / "cmdline"),
        efi_dir=str(root / "sys-firmware-efi"),
    )
    a.update(kw)
    return a


def run(capsys, a):
    with patch_module_args(a):
        with pytest.raises(SystemExit):
            grub_serial.main()
    return json.loads(capsys.readouterr().out)


def snapshot(root):
    return {str(p): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


def test_check_mode_predicts_and_writes_nothing(tree, capsys):
    before = snapshot(tree)
    res = run(capsys, args(tree, _ansible_check_mode=True, _ansible_diff=True))
    assert res["changed"] and res["regenerated"] and res["reboot_required"]
    assert res["changed_files"] == [str(tree / "etc/default/grub.d/90-ttyfleet-serial-console.cfg")]
    assert "console=tty0 console=ttyS0,115200n8" in res["diff"][0]["after"]
    assert res["configured_args"] == ["console=tty0", "console=ttyS0,115200n8", "quiet"]
    assert snapshot(tree) == before


def test_converge_then_nothing_to_do(tree, capsys):
    res = run(capsys, args(tree))
    assert res["changed"] and not res.get("failed")
    cfg = (tree / "boot/grub/grub.cfg").read_text()
    assert SERIAL in cfg and "ro console=tty0 console=ttyS0,115200n8 quiet" in cfg
    assert run(capsys, args(tree))["changed"] is False
    # The generated file is lost (power cut after update-grub): converge on it again.
    (tree / "boot/grub/grub.cfg").write_text("")
    res = run(capsys, args(tree))
    assert res["changed"] and res["changed_files"] == [] and res["regenerate_reasons"]


@pytest.mark.parametrize("mode, words", [("fail", "exited 1"), ("syntax", "Syntax errors are detected")])
def test_generator_failure_restores_everything(tree, capsys, mode, words):
    (tree / "mode").write_text(mode)
    before = snapshot(tree)
    res = run(capsys, args(tree))
    assert res["failed"] and words in res["msg"] and "previous files restored" in res["msg"]
    assert snapshot(tree) == before
    assert not os.path.exists(tree / "etc/default/grub.d/90-ttyfleet-serial-console.cfg")


def test_broken_default_grub_fails_before_writing(tree, capsys):
    (tree / "etc/default/grub").write_text('GRUB_CMDLINE_LINUX="unterminated\n')
    before = snapshot(tree)
    res = run(capsys, args(tree, mode="default_grub"))
    assert res["failed"] and "is shell code, not a plain quoted value" in res["msg"]
    assert snapshot(tree) == before


@pytest.mark.parametrize(
    "bad, words",
    [
        (dict(speed=1234), "speed 1234"),
        (dict(unit=5), "unit 5"),
        (dict(consoles=["console=ttyS0"]), "without 'console='"),
        (dict(terminal=["serial", "vga"]), "each must be one of"),
    ],
)
def test_bad_input(tree, capsys, bad, words):
    before = snapshot(tree)
    res = run(capsys, args(tree, **bad))
    assert res["failed"] and words in res["msg"]
    assert snapshot(tree) == before


def test_efi_stub_is_never_the_target(tree, capsys):
    (tree / "sys-firmware-efi").mkdir()
    stub = tree / "esp-grub.cfg"
    stub.write_text("search --fs-uuid --set=dev x\nconfigfile ($dev)/grub2/grub.cfg\n")
    res = run(capsys, args(tree, efi_grub_cfg=str(stub), _ansible_check_mode=True))
    assert res["grub_cfg"] == str(tree / "boot/grub/grub.cfg")
    stub.write_text("menuentry x {\n linux /vmlinuz\n}\n")
    assert run(capsys, args(tree, efi_grub_cfg=str(stub), _ansible_check_mode=True))["grub_cfg"] == str(stub)


# ------------------------------------------------------------------------------- issue 8: hostile input, faults
@pytest.mark.parametrize("check", [True, False])
@pytest.mark.parametrize(
    "bad, option",
    [
        (dict(remove_args=["x=$(touch {mark})"]), "remove_args"),
        (dict(remove_args=["quiet\nGRUB_X=$(touch {mark})"]), "remove_args"),
        (dict(consoles=["tty0", "ttyS0,115200n8$(touch${{IFS}}{mark})"]), "consoles"),
        (dict(consoles=["ttyS0;touch${{IFS}}{mark}"]), "consoles"),
        (dict(dropin_file="/tmp/x.cfg\n$(touch {mark})"), "dropin_file"),
        (dict(mkconfig_cmd=["sh", "-c", "touch {mark}"]), "mkconfig_cmd"),
        (dict(header="x\r$(touch {mark})"), "header"),
    ],
)
def test_hostile_values_are_refused_before_anything_runs(tree, capsys, bad, option, check):
    """remove_args: ['x=$(id>/tmp/p)'] ran as root, in --check too: now refused, naming the option, nothing run."""
    mark = tree / "ran"
    bad = {k: [x.format(mark=mark) for x in v] if isinstance(v, list) else v.format(mark=mark) for k, v in bad.items()}
    before = snapshot(tree)
    res = run(capsys, args(tree, _ansible_check_mode=check, **bad))
    assert res["failed"] and res["msg"].startswith(option)
    assert not mark.exists() and snapshot(tree) == before


def test_check_mode_fails_where_the_run_would_generator_missing(tree, capsys):
    a = args(tree, mkconfig_cmd=[str(tree / "no-such-update-grub")])
    before = snapshot(tree)
    res = run(capsys, dict(a, _ansible_check_mode=True))
    assert res["failed"] and "not found; nothing was changed" in res["msg"]
    assert run(capsys, a)["msg"] == res["msg"] and snapshot(tree) == before


def test_check_mode_never_runs_the_dropin_it_replaces(tree, capsys):
    mark = tree / "ran"
    dropin = tree / "etc/default/grub.d/90-ttyfleet-serial-console.cfg"
    dropin.write_text("touch %s\n" % mark)
    res = run(capsys, args(tree, _ansible_check_mode=True))
    assert res["changed"] and not res.get("failed") and not mark.exists()


def test_default_grub_that_prints_does_not_corrupt_the_arguments(tree, capsys):
    (tree / "etc/default/grub").write_text(
        "echo 'Hello from /etc/default/grub'\nprintf 'console=hvc9\\0evil\\0'\n"
        'GRUB_TIMEOUT=5\nGRUB_CMDLINE_LINUX_DEFAULT="quiet"\nGRUB_CMDLINE_LINUX="net.ifnames=0"\n'
    )
    res = run(capsys, args(tree, _ansible_check_mode=True))
    assert res["configured_args"] == ["net.ifnames=0", "console=tty0", "console=ttyS0,115200n8", "quiet"]
    assert not run(capsys, args(tree)).get("failed")
    assert "ro net.ifnames=0 console=tty0 console=ttyS0,115200n8 quiet" in (tree / "boot/grub/grub.cfg").read_text()
    assert run(capsys, args(tree))["changed"] is False


def test_memtest_entries_are_left_alone_and_the_run_converges(tree, capsys):
    """A Debian guest with memtest86+ failed on every run: its linux line was asked for console=."""
    mk = tree / "mkconfig"
    mk.write_text(
        mk.read_text()
        + 'printf \'menuentry "Memory test" {\\n\\tlinux /boot/memtest86+x64.bin\\n}\\n\' >> "$out"\n'
        + "printf 'menuentry \"Memory test, serial\" {\\n\\tlinux /boot/memtest86+x64.bin console=ttyS0,115200\\n}\\n'"
        + ' >> "$out"\n'
    )
    res = run(capsys, args(tree))
    assert res["changed"] and not res.get("failed"), res.get("msg")
    cfg = (tree / "boot/grub/grub.cfg").read_text()
    assert "\tlinux /boot/memtest86+x64.bin\n" in cfg and "memtest86+x64.bin console=ttyS0,115200\n" in cfg
    assert run(capsys, args(tree))["changed"] is False


def bls_tree(tree):
    (tree / "boot/loader/entries").mkdir(parents=True)
    for v in ("5.14.0-1", "5.14.0-2"):
        (tree / ("boot/loader/entries/m-%s.conf" % v)).write_text(
            "title RHEL %s\nlinux /vmlinuz-%s\noptions root=/dev/vda ro console=ttyS0\noptions rhgb console=tty1\n"
            % (v, v)
        )
    (tree / "etc/kernel").mkdir()
    (tree / "etc/kernel/cmdline").write_text("root=/dev/vda ro\n")
    return args(
        tree,
        mode="default_grub",
        bls=True,
        bls_dir=str(tree / "boot/loader/entries"),
        kernel_cmdline_file=str(tree / "etc/kernel/cmdline"),
    )


def test_bls_two_options_lines_converge(tree, capsys):
    a = bls_tree(tree)
    assert not run(capsys, a).get("failed")
    for e in (tree / "boot/loader/entries").glob("*.conf"):
        opts = [line for line in e.read_text().splitlines() if line.startswith("options")]
        assert opts == ["options root=/dev/vda ro", "options rhgb console=tty0 console=ttyS0,115200n8"], opts
    assert run(capsys, a)["changed"] is False


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EIO])
@pytest.mark.parametrize("nth", [1, 2, 3, 4])
def test_a_failing_write_restores_everything_and_fails_cleanly(tree, capsys, monkeypatch, code, nth):
    """ENOSPC/EIO at the n-th write (of 4 files: /etc/default/grub, 2 BLS entries, /etc/kernel/cmdline)."""
    a = bls_tree(tree)
    before = snapshot(tree)
    real_fsync, calls = os.fsync, []

    def fsync(fd):
        calls.append(fd)
        if len(calls) == nth:
            raise OSError(code, os.strerror(code))
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    res = run(capsys, a)
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert res["failed"] and "Traceback" not in json.dumps(res)
    assert "failed: %s; every file written before it was restored" % os.strerror(code) in res["msg"]
    assert res["changed"] is False and snapshot(tree) == before
    assert not list(tree.rglob(".ttyfleet*")), "temporary or kept files left behind"


def test_a_failing_backup_writes_nothing(tree, capsys, monkeypatch):
    a = bls_tree(tree)
    before = snapshot(tree)

    def copy2(src, dst):
        with open(dst, "w") as f:
            f.write("half")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(grub_serial.shutil, "copy2", copy2)
    res = run(capsys, a)
    assert res["failed"] and "No space left on device" in res["msg"]
    assert snapshot(tree) == before


CLOUD_DEFAULT = (
    'GRUB_CMDLINE_LINUX_DEFAULT=""\n'
    'GRUB_CMDLINE_LINUX="console=tty0 console=ttyS0,115200 earlyprintk=ttyS0,115200 consoleblank=0"\n'
    'GRUB_TERMINAL="console serial"\n'
)


def test_cloud_image_early_console_moves_with_the_console(tree, capsys):
    """grub-cloud-amd64's packaged /etc/default/grub writes early messages to ttyS0: with the console on hvc0 the
    drop-in strips that second console when sourced, the packaged file stays as shipped, and a re-run changes
    nothing; the running kernel, still with it, needs a reboot."""
    (tree / "etc/default/grub").write_text(CLOUD_DEFAULT)
    (tree / "cmdline").write_text("root=/dev/vda ro console=tty0 console=hvc0 earlyprintk=ttyS0,115200\n")
    a = args(tree, consoles=["tty0", "hvc0"])
    check = run(capsys, dict(a, _ansible_check_mode=True))
    assert "earlyprintk=ttyS0,115200" not in check["configured_args"], check["configured_args"]
    res = run(capsys, a)
    assert res["changed"] and not res.get("failed"), res.get("msg")
    assert (tree / "etc/default/grub").read_text() == CLOUD_DEFAULT
    cfg = (tree / "boot/grub/grub.cfg").read_text()
    assert "ro consoleblank=0 console=tty0 console=hvc0 \n" in cfg, cfg
    assert res["configured_args"] == check["configured_args"]
    assert res["reboot_required"] is True
    again = run(capsys, a)
    assert again["changed"] is False
    (tree / "cmdline").write_text("root=/dev/vda ro consoleblank=0 console=tty0 console=hvc0\n")
    assert run(capsys, a)["reboot_required"] is False
    # back on ttyS0, the early console is on the configured port again: the image's own argument is kept
    res = run(capsys, args(tree))
    assert res["changed"] and not res.get("failed"), res.get("msg")
    cfg = (tree / "boot/grub/grub.cfg").read_text()
    assert "ro earlyprintk=ttyS0,115200 consoleblank=0 console=tty0 console=ttyS0,115200n8 \n" in cfg, cfg


def test_bls_early_console_on_another_port_is_removed(tree, capsys):
    a = bls_tree(tree)
    (tree / "etc/kernel/cmdline").write_text("root=/dev/vda ro earlycon=uart8250,io,0x2f8,115200n8\n")
    for e in (tree / "boot/loader/entries").glob("*.conf"):
        e.write_text(e.read_text().replace("options rhgb", "options rhgb earlyprintk=serial,ttyS1,115200"))
    assert not run(capsys, a).get("failed")
    for e in (tree / "boot/loader/entries").glob("*.conf"):
        assert "earlyprintk" not in e.read_text(), e.read_text()
    assert (tree / "etc/kernel/cmdline").read_text() == "root=/dev/vda ro console=tty0 console=ttyS0,115200n8\n"
    assert run(capsys, a)["changed"] is False
