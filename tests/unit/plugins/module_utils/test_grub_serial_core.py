# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The pure GRUB/kernel-argument transforms of _grub_serial: validation, argument merging, shell edits, the
drop-in (sourced by a real sh), generated grub.cfg checks, BLS entries and GRUB 0.97 menus."""

from __future__ import annotations

import subprocess

import pytest

from ansible_collections.ttyfleet.serial_console.plugins.module_utils import _grub_serial as core

CONSOLES = ["tty0", "ttyS0,115200n8"]
SERIAL = "serial --unit=0 --speed=115200 --word=8 --parity=no --stop=1"


# ------------------------------------------------------------------------------------------------- validation
def test_good_settings_pass():
    assert core.validate_settings("ttyS0", 115200, 8, "no", 1, 0) == []
    assert core.validate_settings("ttyAMA0", 9600, 7, "even", 2, 3) == []
    assert core.validate_settings("hvc0") == []


@pytest.mark.parametrize(
    "kwargs, words",
    [
        (dict(speed=1234), "speed 1234 is not one of"),
        (dict(word=9), "word 9 is not 5, 6, 7 or 8"),
        (dict(parity="mark"), "parity 'mark'"),
        (dict(stop=3), "stop 3 is not 1 or 2"),
        (dict(unit=4), "unit 4 is not 0, 1, 2 or 3"),
        (dict(tty="tty0"), "not a serial device name"),
        (dict(tty="ttyS0; rm -rf /"), "not a serial device name"),
        (dict(tty="ttyUSB0"), "not a serial device name"),
    ],
)
def test_bad_settings_are_named(kwargs, words):
    problems = core.validate_settings(**kwargs)
    assert len(problems) == 1 and words in problems[0]


def test_console_value_and_serial_command():
    assert core.kernel_console("ttyS0", 115200, 8, "no") == "ttyS0,115200n8"
    assert core.kernel_console("ttyS1", 9600, 7, "even") == "ttyS1,9600e7"
    assert core.kernel_console("hvc0", 115200, 8, "no") == "hvc0"
    assert core.serial_command(0, 115200, 8, "no", 1) == SERIAL


# ------------------------------------------------------------------------------------------- kernel arguments
def test_split_keeps_quoted_spaces():
    assert core.split_args('ro  dyndbg="file a.c +p" quiet\n') == ["ro", 'dyndbg="file a.c +p"', "quiet"]
    assert core.split_args("") == []


def test_merge_keeps_every_other_argument_in_place():
    old = core.split_args("root=/dev/vda1 ro console=ttyS0 quiet console=tty1 splash")
    assert core.merge_args(old, CONSOLES) == [
        "root=/dev/vda1",
        "ro",
        "quiet",
        "splash",
        "console=tty0",
        "console=ttyS0,115200n8",
    ]


def test_merge_is_idempotent_and_keeps_duplicate_console_keys():
    once = core.merge_args(core.split_args("ro quiet"), CONSOLES)
    assert core.merge_args(once, CONSOLES) == once
    assert [a for a in once if a.startswith("console=")] == ["console=tty0", "console=ttyS0,115200n8"]


def test_merge_removes_bare_keys_and_exact_pairs():
    old = core.split_args("ro quiet rhgb splash=silent splash=verbose")
    assert core.merge_args(old, ["ttyS0"], ["quiet", "rhgb", "splash=silent"]) == [
        "ro",
        "splash=verbose",
        "console=ttyS0",
    ]
    assert core.merge_args(old, ["ttyS0"], ["splash"]) == ["ro", "quiet", "rhgb", "console=ttyS0"]


def test_order_matters_last_console_is_dev_console():
    args = core.split_args("ro console=ttyS0,115200n8 console=tty0")
    assert core.args_problems(args, CONSOLES)
    assert core.args_problems(core.merge_args(args, CONSOLES), CONSOLES) == []


# -------------------------------------------------------------------------------------- shell config editing
DEFAULT_GRUB = """# comment GRUB_TERMINAL=x
GRUB_TIMEOUT=5
GRUB_TERMINAL_OUTPUT="console"
GRUB_CMDLINE_LINUX="rhgb quiet"
GRUB_ENABLE_BLSCFG=true"""


def test_set_shell_vars_rewrites_in_place_and_appends_new_keys():
    out = core.set_shell_vars(
        DEFAULT_GRUB, [("GRUB_CMDLINE_LINUX", "rhgb quiet console=ttyS0"), ("GRUB_TERMINAL", "console serial")]
    )
    lines = out.splitlines()
    assert lines[0] == "# comment GRUB_TERMINAL=x"
    assert lines[3] == 'GRUB_CMDLINE_LINUX="rhgb quiet console=ttyS0"'
    assert lines[-1] == 'GRUB_TERMINAL="console serial"'
    assert core.set_shell_vars(out, [("GRUB_TERMINAL", "console serial")]) == out


def test_set_shell_vars_leaves_equal_values_alone_and_deletes_none():
    text = "GRUB_TIMEOUT=5\nGRUB_TERMINAL='console serial'\n"
    assert core.set_shell_vars(text, [("GRUB_TIMEOUT", "5"), ("GRUB_TERMINAL", "console serial")]) == text
    assert core.set_shell_vars(text, [("GRUB_TIMEOUT", None)]) == "GRUB_TERMINAL='console serial'\n"


def test_shell_quote_escapes_what_double_quotes_do_not_protect():
    assert core.shell_quote('a "b" $c `d` \\e') == '"a \\"b\\" \\$c \\`d\\` \\\\e"'


def _source(*texts):
    script = (
        "\n".join(texts) + '\nprintf "%s|%s|%s" "$GRUB_CMDLINE_LINUX" "$GRUB_CMDLINE_LINUX_DEFAULT" "$GRUB_TERMINAL"'
    )
    return subprocess.run(["sh", "-ec", script], capture_output=True, text=True, check=True).stdout.split("|")


def test_dropin_wins_over_cloudimg_and_never_doubles_arguments():
    dropin = core.render_dropin("Ansible managed", ["console", "serial"], SERIAL, CONSOLES, ["quiet"])
    subprocess.run(["sh", "-n"], input=dropin, text=True, check=True)
    base = 'GRUB_CMDLINE_LINUX="net.ifnames=0 console=ttyS0,115200n8"\nGRUB_CMDLINE_LINUX_DEFAULT="quiet splash"'
    cloud = 'GRUB_CMDLINE_LINUX_DEFAULT="quiet splash console=tty1 console=ttyS0"\nGRUB_TERMINAL=console'
    linux, default, terminal = _source(base, cloud, dropin)
    assert linux == "net.ifnames=0 console=tty0 console=ttyS0,115200n8"
    assert default == "splash"
    assert terminal == "console serial"
    # Sourced twice (a later copy of the same file, or update-grub run on its own result): same answer.
    assert _source(base, cloud, dropin, dropin)[0] == linux


def test_dropin_does_not_expand_globs_or_leak_helpers():
    dropin = core.render_dropin("", ["serial"], SERIAL, ["ttyS0,115200n8"])
    out = subprocess.run(
        [
            "sh",
            "-ec",
            'cd /; GRUB_CMDLINE_LINUX="a=* ro"\n'
            + dropin
            + '\necho "$GRUB_CMDLINE_LINUX"; command -v __ttyfleet_strip || echo gone;'
            + " case $- in *f*) echo noglob;; esac",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\n")
    assert out[0] == "a=* ro console=ttyS0,115200n8"
    assert out[1] == "gone" and "noglob" not in out


def test_dropin_with_timeout():
    assert 'GRUB_TIMEOUT=5\nGRUB_TIMEOUT_STYLE="menu"' in core.render_dropin(
        "", ["serial"], SERIAL, ["ttyS0"], timeout_s=5
    )


# ---------------------------------------------------------------------------------------------- grub.cfg check
GOOD_CFG = """serial --unit=0 --speed=115200 --word=8 --parity=no --stop=1
terminal_input console serial
terminal_output console serial
menuentry 'Debian' {
\tlinux\t/boot/vmlinuz-6.1 root=UUID=x ro net.ifnames=0 console=tty0 console=ttyS0,115200n8 quiet
}
"""


def test_good_grub_cfg_has_no_problems():
    assert core.grub_cfg_problems(GOOD_CFG, SERIAL, ["console", "serial"], CONSOLES) == []


def test_lost_or_stale_grub_cfg_is_noticed():
    problems = core.grub_cfg_problems("terminal_output console\n", SERIAL, ["console", "serial"], CONSOLES)
    assert any("lacks" in p for p in problems) and any("no linux lines" in p for p in problems)
    stale = GOOD_CFG.replace("console=tty0 console=ttyS0,115200n8", "console=ttyS0")
    assert any(
        "console arguments are console=ttyS0" in p
        for p in core.grub_cfg_problems(stale, SERIAL, ["console", "serial"], CONSOLES)
    )
    assert core.grub_cfg_problems(GOOD_CFG, SERIAL, ["console", "serial"], CONSOLES, ["quiet"])


def test_bls_grub_cfg_needs_only_terminal_and_blscfg():
    cfg = SERIAL + "\nterminal_input console serial\nterminal_output console serial\ninsmod blscfg\nblscfg\n"
    assert core.grub_cfg_problems(cfg, SERIAL, ["console", "serial"], CONSOLES, bls=True) == []
    assert core.grub_cfg_problems(cfg.replace("blscfg", ""), SERIAL, ["console", "serial"], CONSOLES, bls=True)


# ---------------------------------------------------------------------------------------- BLS, kernel/cmdline
ENTRY = (
    "title RHEL\nversion 5.14\nlinux /vmlinuz-5.14\n"
    "options root=/dev/vda ro rhgb quiet console=ttyS0\ngrub_class rhel\n"
)


def test_bls_entry_options_merged_and_idempotent():
    new = core.edit_bls_entry(ENTRY, CONSOLES, ["rhgb"])
    assert core.bls_options(new) == "root=/dev/vda ro quiet console=tty0 console=ttyS0,115200n8"
    assert new.splitlines()[0] == "title RHEL" and new.splitlines()[-1] == "grub_class rhel"
    assert core.edit_bls_entry(new, CONSOLES, ["rhgb"]) == new


def test_bls_entry_without_options_gets_one():
    assert core.bls_options(core.edit_bls_entry("title x\nlinux /v", ["ttyS0"])) == "console=ttyS0"


def test_kernel_cmdline_file():
    assert core.edit_cmdline_file("root=/dev/vda ro\n", ["ttyS0"]) == "root=/dev/vda ro console=ttyS0\n"
    same = "root=/dev/vda ro console=ttyS0\n"
    assert core.edit_cmdline_file(same, ["ttyS0"]) is same


# ------------------------------------------------------------------------------------------------ GRUB 0.97
MENU = """default=0
timeout=5
splashimage=(hd0,0)/grub/splash.xpm.gz
hiddenmenu
title CentOS (2.6.32)
\troot (hd0,0)
\tkernel /vmlinuz-2.6.32 ro root=/dev/vg/root rhgb quiet console=ttyS0
\tinitrd /initramfs-2.6.32.img
title Other
\tkernel /vmlinuz-old ro
"""


def test_legacy_menu_gets_serial_terminal_and_consoles_on_every_kernel():
    new = core.edit_legacy_menu(MENU, SERIAL, ["console", "serial"], CONSOLES)
    lines = new.splitlines()
    assert "#splashimage=(hd0,0)/grub/splash.xpm.gz" in lines
    assert (
        lines.index(SERIAL) < lines.index("terminal --timeout=5 console serial") < lines.index("title CentOS (2.6.32)")
    )
    assert "\tkernel /vmlinuz-2.6.32 ro root=/dev/vg/root rhgb quiet console=tty0 console=ttyS0,115200n8" in lines
    assert "\tkernel /vmlinuz-old ro console=tty0 console=ttyS0,115200n8" in lines
    assert core.legacy_problems(new, SERIAL, ["console", "serial"], CONSOLES) == []
    assert core.edit_legacy_menu(new, SERIAL, ["console", "serial"], CONSOLES) == new


def test_legacy_menu_settings_change_replaces_lines():
    new = core.edit_legacy_menu(MENU, SERIAL, ["console", "serial"], CONSOLES)
    slower = core.serial_command(0, 9600, 8, "no", 1)
    again = core.edit_legacy_menu(new, slower, ["serial", "console"], ["ttyS0,9600n8"])
    assert SERIAL not in again and again.count("serial --unit") == 1
    assert "terminal --timeout=5 serial console" in again
    assert core.legacy_problems(MENU, SERIAL, ["serial"], CONSOLES)


# -------------------------------------------------------------------------------------------------- grubenv
ENV = "# GRUB Environment Block\nsaved_entry=abc\nkernelopts=root=/dev/vda ro rhgb quiet\n"


def test_grubenv_block_keeps_size_and_other_variables():
    block = core.grubenv_set(ENV + "#" * (1024 - len(ENV)), "kernelopts", "root=/dev/vda ro console=ttyS0")
    assert len(block.encode()) == 1024 and block.startswith("# GRUB Environment Block\nsaved_entry=abc\n")
    assert core.grubenv_get(block, "kernelopts") == "root=/dev/vda ro console=ttyS0"
    assert core.grubenv_get(block, "saved_entry") == "abc"
    assert core.grubenv_set(ENV, "kernelopts", "x" * 1100) is None
