# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""GRUB per platform: the terminal per firmware (no doubled menu where the EFI firmware mirrors its console onto
the UART, nothing GRUB cannot draw on for hvc0), the serial port's name on arm64-efi, and grub.cfg checked for
exactly the wanted terminals."""

from __future__ import annotations

import struct

from ansible_collections.ttyfleet.serial_console.plugins.module_utils import _console_settings as cs
from ansible_collections.ttyfleet.serial_console.plugins.module_utils import _grub_serial as core


def node(kind, sub, payload=b""):
    return bytes([kind, sub]) + struct.pack("<H", 4 + len(payload)) + payload


END_INSTANCE = node(0x7F, 0x01)
END = node(0x7F, 0xFF)
PCI_ROOT = node(0x02, 0x01, struct.pack("<II", 0x0A0341D0, 0))
LPC = node(0x01, 0x01, bytes([0, 1]))
COM1 = node(0x02, 0x01, struct.pack("<II", 0x050141D0, 0))
UART = node(0x03, 0x0E, struct.pack("<IQBBB", 0, 115200, 8, 1, 1))
VT_UTF8 = node(0x03, 0x0A, bytes.fromhex("e0c28c6a72cf4e4f9e9ad4c3e0b7d7b3")[:16])
VGA = node(0x01, 0x01, bytes([0, 2]))
# OVMF on `pc`: PciRoot(0x0)/Pci(0x1,0x0)/Acpi(PNP0501,0x0)/Uart(115200,8,N,1)/VenMsg(VT-UTF8), then the VGA.
OVMF_CONOUT = PCI_ROOT + LPC + COM1 + UART + VT_UTF8 + END_INSTANCE + PCI_ROOT + VGA + END
VGA_ONLY = PCI_ROOT + VGA + END


def test_uart_found_in_a_multi_instance_conout():
    assert core.device_path_has_uart(OVMF_CONOUT)


def test_no_uart_in_a_graphics_only_conout():
    assert not core.device_path_has_uart(VGA_ONLY)


def test_malformed_device_paths_do_not_claim_a_mirror():
    assert not core.device_path_has_uart(b"")
    assert not core.device_path_has_uart(b"\x03\x0e\x02\x00")  # length below the header
    assert not core.device_path_has_uart(OVMF_CONOUT[:30] + b"\x03\x0e\xff\x7f")  # runs past the end


def test_auto_on_efi_with_mirrored_console_is_console_only():
    term, why = core.choose_terminal(["auto"], ["tty0", "ttyS0,115200n8"], True, OVMF_CONOUT)
    assert term == ["console"]
    assert "mirrors" in why


def test_auto_on_efi_without_redirection_and_on_bios_is_console_serial():
    assert core.choose_terminal(["auto"], ["tty0", "ttyS0,115200n8"], True, VGA_ONLY)[0] == ["console", "serial"]
    assert core.choose_terminal(["auto"], ["tty0", "ttyS0,115200n8"], True, None)[0] == ["console", "serial"]
    assert core.choose_terminal(["auto"], ["tty0", "ttyS1,115200n8"], False, None) == (
        ["console", "serial"],
        "BIOS firmware",
    )


def test_auto_on_ovmf_before_the_domain_has_a_uart_is_console_only():
    # Seen on a stock bookworm-uefi domain: OVMF's ConOut held only the VGA until the host added the serial port;
    # after the cold restart it holds the UART too. The choice must be the same both times (idempotence, one menu).
    for vendor in ("EFI Development Kit II / OVMF\n", "EDK II"):
        term, why = core.choose_terminal(["auto"], ["tty0", "ttyS0,115200n8"], True, VGA_ONLY, vendor)
        assert term == ["console"]
        assert "EDK II" in why
    assert core.choose_terminal(["auto"], ["tty0", "ttyS0,115200n8"], True, OVMF_CONOUT, "EDK II")[0] == ["console"]


def test_other_efi_firmware_without_a_uart_in_conout_keeps_serial():
    for vendor in ("American Megatrends Inc.", "Dell Inc.", "", "not EDK II"):
        term = core.choose_terminal(["auto"], ["tty0", "ttyS0,115200n8"], True, VGA_ONLY, vendor)[0]
        assert term == ["console", "serial"], vendor
    # BIOS (SeaBIOS) is never EFI, whatever its vendor string
    assert core.choose_terminal(["auto"], ["tty0", "ttyS0,115200n8"], False, None, "EDK II")[0] == ["console", "serial"]


def test_auto_for_a_virtio_console_is_console_only():
    term, why = core.choose_terminal(["auto"], ["tty0", "hvc0"], False, None)
    assert term == ["console"]
    assert "hvc0" in why


def test_an_explicit_terminal_is_kept():
    assert core.choose_terminal(["console", "serial"], ["hvc0"], True, OVMF_CONOUT) == (
        ["console", "serial"],
        "as requested",
    )


def test_pc_bios_grub_names_a_port_other_than_0_by_its_address():
    # GRUB for a PC BIOS counts units in the BIOS data area, which lists only the ports present: on a domain whose
    # only port is ttyS1 (0x2f8) --unit=1 names nothing and GRUB stays silent on serial (seen booted: trixie, port 1)
    cmd = core.serial_command(1, 115200, 8, "no", 1)
    assert core.port_serial_command(cmd, 1, ["i386-pc"]) == (
        "serial --port=0x2f8 --speed=115200 --word=8 --parity=no --stop=1")
    assert core.port_serial_command(core.serial_command(3, 9600, 8, "no", 1), 3, ["i386-pc"]).startswith(
        "serial --port=0x2e8 ")
    cmd0 = core.serial_command(0, 115200, 8, "no", 1)
    assert core.port_serial_command(cmd0, 0, ["i386-pc"]) == cmd0  # port 0 is the first port whenever it exists
    assert core.port_serial_command(cmd, 1, []) == cmd  # an EFI GRUB on x86 numbers the PC addresses itself


def test_grub_unit_of_reads_unit_and_pc_port_address():
    assert cs.grub_unit_of("serial --unit=2 --speed=9600") == 2
    assert cs.grub_unit_of("serial --port=0x2f8 --speed=115200") == 1
    assert cs.grub_unit_of("serial --port=0x3F8") == 0
    assert cs.grub_unit_of("serial --port=0x1234") is None
    assert cs.grub_unit_of(None) is None


def test_serial_line_words_leave_out_how_the_port_is_named():
    want = ["--speed=115200", "--word=8", "--parity=no", "--stop=1"]
    for cmd in ("serial --unit=1 --speed=115200 --word=8 --parity=no --stop=1",
                "serial --port=0x2f8 --speed=115200 --word=8 --parity=no --stop=1",
                "serial --speed=115200 --word=8 --parity=no --stop=1 efi1"):
        assert cs.serial_line_words(cmd) == want, cmd
    assert cs.serial_line_words("serial --unit=0 --speed=9600") == ["--speed=9600"]


def test_arm64_efi_names_its_serial_port_efi_n():
    cmd = core.serial_command(0, 115200, 8, "no", 1)
    assert core.port_serial_command(cmd, 0, ["arm64-efi"]) == "serial --speed=115200 --word=8 --parity=no --stop=1 efi0"
    assert core.port_serial_command(cmd, 0, []) == cmd


CFG = (
    "%s\nterminal_input console serial\nterminal_output console serial\n"
    "linux /vmlinuz ro console=tty0 console=ttyS0,115200n8\n"
)


def test_grub_cfg_with_an_extra_serial_terminal_is_the_doubled_menu():
    cfg = CFG % core.serial_command(0, 115200, 8, "no", 1)
    problems = core.grub_cfg_problems(
        cfg, core.serial_command(0, 115200, 8, "no", 1), ["console"], ["tty0", "ttyS0,115200n8"]
    )
    assert problems == ["grub.cfg has no 'terminal_input console'", "grub.cfg has no 'terminal_output console'"]


def test_grub_cfg_without_serial_terminal_needs_no_serial_command():
    cfg = "terminal_input console\nterminal_output console\nlinux /vmlinuz ro console=tty0 console=ttyS0,115200n8\n"
    assert (
        core.grub_cfg_problems(cfg, core.serial_command(0, 115200, 8, "no", 1), ["console"], ["tty0", "ttyS0,115200n8"])
        == []
    )
