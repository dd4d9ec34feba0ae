# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""grub_serial per platform, in-process on a temporary tree: terminal [auto] reads the firmware's ConOut from
efivarfs (console alone where the firmware mirrors onto a UART: no doubled menu), the arm64-efi serial port name,
and a guest booted by systemd-boot is refused with nothing written."""

from __future__ import annotations

import json
import stat
import struct

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.ttyfleet.serial_console.plugins.module_utils import _grub_serial as core
from ansible_collections.ttyfleet.serial_console.plugins.modules import grub_serial

MKCONFIG = """#!/bin/sh
out=$2
. "{root}/etc/default/grub"
for f in "{root}"/etc/default/grub.d/*.cfg; do [ -e "$f" ] && . "$f"; done
{{ case " $GRUB_TERMINAL " in *" serial "*) echo "$GRUB_SERIAL_COMMAND" ;; esac
  echo "terminal_input $GRUB_TERMINAL"; echo "terminal_output $GRUB_TERMINAL"
  echo "linux /vmlinuz root=/dev/vda ro $GRUB_CMDLINE_LINUX $GRUB_CMDLINE_LINUX_DEFAULT"; }} > "$out"
"""
ATTRS = struct.pack("<I", 7)  # efivarfs: NV + BS + RT attribute bytes before the value


def node(kind, sub, payload=b""):
    return bytes([kind, sub]) + struct.pack("<H", 4 + len(payload)) + payload


UART_CONOUT = (
    node(0x02, 0x01, struct.pack("<II", 0x0A0341D0, 0))
    + node(0x03, 0x0E, struct.pack("<IQBBB", 0, 115200, 8, 1, 1))
    + node(0x7F, 0xFF)
)


@pytest.fixture
def tree(tmp_path):
    root = tmp_path
    (root / "etc/default/grub.d").mkdir(parents=True)
    (root / "boot/grub").mkdir(parents=True)
    (root / "etc/default/grub").write_text('GRUB_CMDLINE_LINUX_DEFAULT="quiet"\nGRUB_CMDLINE_LINUX=""\n')
    (root / "boot/grub/grub.cfg").write_text("terminal_output gfxterm\nlinux /vmlinuz root=/dev/vda ro quiet\n")
    (root / "cmdline").write_text("root=/dev/vda ro quiet\n")
    mk = root / "mkconfig"
    mk.write_text(MKCONFIG.format(root=root))
    mk.chmod(mk.stat().st_mode | stat.S_IEXEC)
    return root


def efi(root, **variables):
    d = root / "sys/firmware/efi/efivars"
    d.mkdir(parents=True, exist_ok=True)
    for name, value in variables.items():
        (root / "sys/firmware/efi" / getattr(core, name)).write_bytes(ATTRS + value)


def run(capsys, root, **kw):
    a = dict(
        mode="dropin",
        terminal=["auto"],
        consoles=["tty0", "ttyS0,115200n8"],
        default_file=str(root / "etc/default/grub"),
        dropin_file=str(root / "etc/default/grub.d/90-ttyfleet-serial-console.cfg"),
        grub_cfg=str(root / "boot/grub/grub.cfg"),
        mkconfig_cmd=[str(root / "mkconfig"), "-o", "{grub_cfg}"],
        proc_cmdline=str(root / "cmdline"),
        efi_dir=str(root / "sys/firmware/efi"),
    )
    a.update(kw)
    with patch_module_args(a):
        with pytest.raises(SystemExit):
            grub_serial.main()
    return json.loads(capsys.readouterr().out)


def terminal_lines(root):
    return [line for line in (root / "boot/grub/grub.cfg").read_text().splitlines() if line.startswith("terminal")]


def test_efi_firmware_mirroring_onto_a_uart_gets_console_alone(tree, capsys):
    efi(tree, CONOUT_VAR=UART_CONOUT)
    res = run(capsys, tree)
    assert res["terminal"] == ["console"] and "mirrors" in res["terminal_reason"], res
    assert terminal_lines(tree) == ["terminal_input console", "terminal_output console"]
    assert "GRUB_TERMINAL='console'" in (tree / "etc/default/grub.d/90-ttyfleet-serial-console.cfg").read_text()
    again = run(capsys, tree)
    assert not again["changed"], again


def test_bios_gets_console_serial(tree, capsys):
    res = run(capsys, tree)
    assert res["terminal"] == ["console", "serial"] and res["terminal_reason"] == "BIOS firmware"
    assert terminal_lines(tree) == ["terminal_input console serial", "terminal_output console serial"]


def test_a_doubled_grub_cfg_is_regenerated(tree, capsys):
    """grub.cfg written for `console serial` on a mirroring firmware is the doubled menu: not converged."""
    efi(tree, CONOUT_VAR=UART_CONOUT)
    run(capsys, tree)
    cfg = tree / "boot/grub/grub.cfg"
    cfg.write_text(cfg.read_text().replace("terminal_output console", "terminal_output console serial"))
    res = run(capsys, tree)
    assert res["regenerated"] and res["changed"], res
    assert terminal_lines(tree) == ["terminal_input console", "terminal_output console"]


def test_arm64_efi_serial_command_names_efi_port(tree, capsys):
    (tree / "boot/grub/arm64-efi").mkdir()
    efi(tree)  # EFI, but ConOut unreadable: GRUB must draw on the serial port itself
    run(capsys, tree, terminal=["console", "serial"])
    cfg = (tree / "boot/grub/grub.cfg").read_text()
    assert "serial --speed=115200 --word=8 --parity=no --stop=1 efi0\n" in cfg
    assert "--unit=" not in cfg


def test_booted_by_systemd_boot_is_refused_and_nothing_written(tree, capsys):
    efi(tree, LOADER_INFO_VAR="systemd-boot 252.39-1~deb12u1\0".encode("utf-16-le"))
    before = {str(p): p.read_bytes() for p in tree.rglob("*") if p.is_file()}
    res = run(capsys, tree)
    assert res["failed"] and "booted by systemd-boot 252.39-1~deb12u1, not GRUB" in res["msg"], res
    assert "/etc/kernel/cmdline" in res["msg"]
    assert {str(p): p.read_bytes() for p in tree.rglob("*") if p.is_file()} == before


def test_grub_that_sets_loader_info_is_not_refused(tree, capsys):
    efi(tree, LOADER_INFO_VAR="GRUB 2.12\0".encode("utf-16-le"))
    assert not run(capsys, tree).get("failed"), "GRUB 2.12's bli module sets LoaderInfo too"
