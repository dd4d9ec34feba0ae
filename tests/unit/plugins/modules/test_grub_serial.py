# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""grub_serial in-process on a temporary tree, with a stand-in grub-mkconfig: check mode writes nothing, a run
converges and a re-run changes nothing, and a failing or "Syntax errors" generator leaves every file as it was."""

from __future__ import annotations

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
    assert res["failed"] and "sourcing" in res["msg"]
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
