# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The pure GRUB/kernel-argument transforms of _grub_serial: validation, argument merging, shell edits, the
drop-in (sourced by a real sh), generated grub.cfg checks, BLS entries and GRUB 0.97 menus."""

from __future__ import annotations

import re
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
    assert "GRUB_TIMEOUT='5'\nGRUB_TIMEOUT_STYLE='menu'" in core.render_dropin(
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


# ------------------------------------------------------------------------------- issue 8: hostile input, GRUB
HOSTILE_ARGS = [
    "x=$(id>/tmp/p)",
    "x=`id`",
    "quiet\n",
    "quiet\nGRUB_X=1",
    "a b",
    "a'b",
    'a"b',
    "a\\b",
    "a;id",
    "a|id",
    "a&id",
    "*",
    "a=*",
    "a=[x]",
    "",
    "=x",
    "a\x00b",
]


@pytest.mark.parametrize("value", HOSTILE_ARGS)
def test_kernel_argument_grammar_refuses_shell_text(value):
    problems = core.grammar_problems("remove_args", [value], "karg")
    assert len(problems) == 1 and problems[0].startswith("remove_args: ") and "kernel argument" in problems[0]
    assert core.grammar_problems("consoles", [value], "console")


@pytest.mark.parametrize(
    "kind, value",
    [
        ("karg", "quiet"),
        ("karg", "rd.lvm.lv=rhel/root"),
        ("karg", "crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M"),
        ("karg", "root=UUID=0a1b-2c3d"),
        ("karg", "splash=silent"),
        ("console", "tty0"),
        ("console", "ttyS0,115200n8"),
        ("console", "hvc0"),
        ("console", "uart8250,io,0x3f8,115200n8"),
        ("path", "/etc/default/grub.d/90-ttyfleet-serial-console.cfg"),
        ("command", "update-grub"),
        ("cmd_arg", "{grub_cfg}"),
    ],
)
def test_grammar_accepts_real_values(kind, value):
    assert core.grammar_problems("x", [value], kind) == []


def test_grammar_refuses_relative_or_dotdot_paths_and_control_headers():
    assert core.grammar_problems("grub_cfg", "boot/grub/grub.cfg", "path")
    assert core.grammar_problems("grub_cfg", "/boot/../etc/shadow", "path")
    assert core.grammar_problems("grub_cfg", "/boot/grub/grub.cfg\n", "path")
    assert core.header_problems("header", "Ansible managed\nline two") == []
    assert core.header_problems("header", "x\rGRUB_X=1")


def test_dropin_code_is_fixed_and_caller_text_is_never_run(tmp_path):
    """Even values past every validation gap (remove_args, consoles) stay data: nothing runs, nothing expands."""
    mark = tmp_path / "ran"
    hostile = ["x=$(touch %s)" % mark, "`touch %s`" % mark, "a'$(touch %s)'" % mark, "*"]
    dropin = core.render_dropin(
        "h\n$(touch %s)" % mark, ["console", "serial"], SERIAL, ["ttyS0;touch%s" % mark], hostile
    )
    assert dropin.endswith(core.DROPIN_CODE)
    linux, default, _terminal = _source('GRUB_CMDLINE_LINUX="ro x=$y"', "cd %s" % tmp_path, dropin)
    assert not mark.exists()
    assert linux.endswith("console=ttyS0;touch%s" % mark) and "*" not in linux.split()
    # The data lines are single-quoted literals (one of them closes and reopens around a quote).
    data = dropin[: -len(core.DROPIN_CODE)].splitlines()
    assert all(line.startswith("#") or re.match(r"^[A-Za-z_]+='.*'$", line) for line in data)


@pytest.mark.parametrize(
    "linux, default, remove",
    [
        ("net.ifnames=0 console=ttyS0,115200n8", "quiet splash console=tty1", ["quiet"]),
        ("", "", []),
        ("ro a=* console=tty1 splash=silent", "splash quiet", ["splash"]),
        ("ro splash=silent splash=verbose", "", ["splash=silent", "rhgb"]),
    ],
)
def test_dropin_effect_is_what_the_shell_does(linux, default, remove):
    """check mode predicts with dropin_effect instead of sourcing the new drop-in: both must agree exactly."""
    dropin = core.render_dropin("", ["console", "serial"], SERIAL, CONSOLES, remove, 5)
    got = _source('GRUB_CMDLINE_LINUX="%s"\nGRUB_CMDLINE_LINUX_DEFAULT="%s"' % (linux, default), dropin)
    want = core.dropin_effect(
        dict(GRUB_CMDLINE_LINUX=linux, GRUB_CMDLINE_LINUX_DEFAULT=default),
        ["console", "serial"],
        SERIAL,
        CONSOLES,
        remove,
        5,
    )
    assert got == [want["GRUB_CMDLINE_LINUX"], want["GRUB_CMDLINE_LINUX_DEFAULT"], want["GRUB_TERMINAL"]]


def test_source_defaults_does_not_trust_stdout(tmp_path):
    """A /etc/default/grub that prints (to stdout, NULs, to fd 3, a fake marker) cannot corrupt the values."""
    f = tmp_path / "grub"
    f.write_text(
        "echo GRUB_CMDLINE_LINUX=evil\nprintf 'x\\0y\\0z\\0'\nprintf 'ttyfleet-0\\0a\\0b\\0c\\0d\\0' >&3\n"
        'GRUB_CMDLINE_LINUX="ro net.ifnames=0"\nGRUB_CMDLINE_LINUX_DEFAULT="quiet"\necho done >&2\n'
    )
    env = core.source_defaults([str(f)])
    assert env["GRUB_CMDLINE_LINUX"] == "ro net.ifnames=0" and env["GRUB_CMDLINE_LINUX_DEFAULT"] == "quiet"
    later = tmp_path / "99-later.cfg"
    later.write_text('GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX later"\n')
    env = core.source_defaults([str(f)], [str(later)], preset=dict(GRUB_CMDLINE_LINUX="preset"))
    assert env["GRUB_CMDLINE_LINUX"] == "preset later"
    (tmp_path / "bad").write_text("exit 3\n")
    with pytest.raises(RuntimeError, match="exit 3"):
        core.source_defaults([str(tmp_path / "bad")])


@pytest.mark.parametrize(
    "raw, value",
    [
        ('"rhgb quiet"', "rhgb quiet"),
        ("'a b'", "a b"),
        ("plain", "plain"),
        ('"a \\"b\\""', 'a "b"'),
        ('"x" # comment', "x"),
        ('"$(id)"', None),
        ("`id`", None),
        ('"$GRUB_CMDLINE_LINUX x"', None),
        ('"unterminated', None),
        ("a;id", None),
    ],
)
def test_shell_word_reads_literals_only(raw, value):
    assert core.shell_word(raw) == value


# Debian 12 grub.cfg excerpt with memtest86+ (BIOS and EFI spellings), another OS and a custom entry.
REAL_CFG = """serial --unit=0 --speed=115200 --word=8 --parity=no --stop=1
terminal_input console serial
terminal_output console serial
### BEGIN /etc/grub.d/10_linux ###
menuentry 'Debian GNU/Linux' {
\tlinux\t/boot/vmlinuz-6.1.0-28-amd64 root=UUID=x ro console=tty0 console=ttyS0,115200n8 quiet
}
menuentry 'Debian GNU/Linux (recovery mode)' {
\tlinux\t/boot/vmlinuz-6.1.0-28-amd64 root=UUID=x ro single console=tty0 console=ttyS0,115200n8
}
### END /etc/grub.d/10_linux ###
### BEGIN /etc/grub.d/20_memtest86+ ###
menuentry "Memory test (memtest86+x64.bin)" {
        linux   /boot/memtest86+x64.bin
}
menuentry 'Memory test (memtest86+x64.bin, serial console)' {
        linux\t/boot/memtest86+x64.bin console=ttyS0,115200
}
### END /etc/grub.d/20_memtest86+ ###
### BEGIN /etc/grub.d/30_os-prober ###
menuentry 'Fedora Linux (on /dev/vdb2)' {
\tlinux /boot/vmlinuz-6.5.6-300.fc39.x86_64 root=/dev/vdb2 rhgb quiet
}
### END /etc/grub.d/30_os-prober ###
### BEGIN /etc/grub.d/40_custom ###
menuentry 'iPXE' {
\tlinux16 /boot/ipxe.lkrn
}
### END /etc/grub.d/40_custom ###
"""


def test_only_linux_kernel_entries_are_judged():
    assert core.grub_cfg_problems(REAL_CFG, SERIAL, ["console", "serial"], CONSOLES) == []
    assert [k[1] for k in core.kernel_lines(REAL_CFG)] == ["/boot/vmlinuz-6.1.0-28-amd64"] * 2
    # Without grub-mkconfig's section markers: memtest (linux/linux16/linuxefi) and linux16 images without root=
    # are still left out, a kernel without root= is still judged.
    bare = "\n".join(line for line in REAL_CFG.splitlines() if not line.startswith("###"))
    bare += "\nlinuxefi /memtest86+x64.efi\nlinux16 /boot/isolinux/image.bin\nlinux /vmlinuz-nfs ip=dhcp\n"
    assert [k[1] for k in core.kernel_lines(bare)] == [
        "/boot/vmlinuz-6.1.0-28-amd64",
        "/boot/vmlinuz-6.1.0-28-amd64",
        "/boot/vmlinuz-6.5.6-300.fc39.x86_64",
        "/vmlinuz-nfs",
    ]
    stale = REAL_CFG.replace("ro single console=tty0 ", "ro single ")
    assert any(
        "recovery" not in p and "console arguments are" in p
        for p in core.grub_cfg_problems(stale, SERIAL, ["console", "serial"], CONSOLES)
    )


def test_legacy_menu_leaves_memtest_alone():
    menu = MENU + "title Memtest86+\n\tkernel --type=netbsd /memtest86+.bin\n\tkernel /memtest86+.bin\n"
    new = core.edit_legacy_menu(menu, SERIAL, ["console", "serial"], CONSOLES)
    assert "\tkernel /memtest86+.bin\n" in new
    assert core.legacy_problems(new, SERIAL, ["console", "serial"], CONSOLES) == []


def test_bls_entry_with_two_options_lines_keeps_no_stale_console():
    entry = ENTRY.replace("grub_class", "options console=ttyS1,9600 rd.debug quiet\ngrub_class")
    new = core.edit_bls_entry(entry, CONSOLES, ["rhgb"])
    assert core.bls_options(new) == "root=/dev/vda ro quiet rd.debug quiet console=tty0 console=ttyS0,115200n8"
    assert core.args_problems(core.split_args(core.bls_options(new)), CONSOLES, ["rhgb"]) == []
    assert core.edit_bls_entry(new, CONSOLES, ["rhgb"]) == new
    only_console = ENTRY.replace("grub_class", "options console=ttyS1\ngrub_class")
    assert core.bls_options(core.edit_bls_entry(only_console, CONSOLES)).count("console=") == 2


def test_real_bookworm_grub_cfg_with_memtest86():
    """grub.cfg as update-grub wrote it in the lab's bookworm image with memtest86+ 6.10 installed (Debian's own
    20_memtest86+): once the Linux entries have the consoles, nothing is left to fix; memtest's two entries stay."""
    import pathlib

    text = (pathlib.Path(__file__).parent / "fixtures/grub/bookworm-memtest86+.grub.cfg").read_text()
    converged = SERIAL + "\nterminal_input console serial\nterminal_output console serial\n"
    converged += re.sub(r"(?m)^(\s*linux\s+/boot/vmlinuz-\S+ .*)$", r"\1 console=tty0 console=ttyS0,115200n8", text)
    assert core.grub_cfg_problems(converged, SERIAL, ["console", "serial"], CONSOLES) == []
    assert [k[1] for k in core.kernel_lines(converged)] == ["/boot/vmlinuz-6.1.0-50-amd64"] * 3
    assert "memtest86+x64.bin console=ttyS0,115200\n" in text and "\tlinux\t/boot/memtest86+x64.bin" not in text


# ----------------------------------------------------------------------------------------------- early consoles
@pytest.mark.parametrize(
    "arg, tty",
    [
        ("earlyprintk=ttyS0,115200", "ttyS0"),
        ("earlyprintk=ttyS1,115200,keep", "ttyS1"),
        ("earlyprintk=ttyS2", "ttyS0"),  # x86 knows ttyS0 and ttyS1 by number only: any other is ttyS0
        ("earlyprintk=serial", "ttyS0"),
        ("earlyprintk=serial,ttyS1,115200", "ttyS1"),
        ("earlyprintk=serial,0x2f8,115200", "ttyS1"),
        ("earlyprintk=serial,0x3e8", "ttyS2"),
        ("earlyprintk=serial,0x1000", None),
        ("earlyprintk=vga", None),
        ("earlyprintk=efi,keep", None),
        ("earlyprintk=dbgp", None),
        ("earlyprintk=pciserial,00:18.1", None),
        ("earlycon=uart8250,io,0x3f8,115200n8", "ttyS0"),
        ("earlycon=uart,io,0x2f8", "ttyS1"),
        ("earlycon=pl011,0x9000000", None),
        ("earlycon=uart8250,mmio32,0xfe215040", None),
        ("earlycon", None),
        ("console=ttyS1", None),
    ],
)
def test_early_console_tty(arg, tty):
    assert core.early_console_tty(arg) == tty


@pytest.mark.parametrize(
    "consoles, stale",
    [
        # the cloud image's settings with the console moved to the virtio console: ttyS0 is another device
        (["tty0", "hvc0"], ["earlyprintk=ttyS0,115200"]),
        # the same device: kept
        (["tty0", "ttyS0,115200n8"], []),
        (["tty0", "ttyS1,115200n8"], ["earlyprintk=ttyS0,115200"]),
        # the console named by its I/O port is ttyS0 as well
        (["tty0", "uart8250,io,0x3f8,115200n8"], []),
    ],
)
def test_stale_early_consoles(consoles, stale):
    args = core.split_args("console=tty0 console=ttyS0,115200 earlyprintk=ttyS0,115200 consoleblank=0")
    assert core.stale_early_consoles(args + ["earlyprintk=vga"], consoles) == stale


def test_early_console_args_reads_active_lines_only():
    text = (
        '# GRUB_CMDLINE_LINUX="earlyprintk=ttyS1"\n'
        'GRUB_CMDLINE_LINUX="console=tty0 earlyprintk=ttyS0,115200 consoleblank=0"\n'
        "GRUB_CMDLINE_LINUX_DEFAULT='earlycon=uart8250,io,0x2f8 quiet'\n"
        "options root=/dev/vda earlyprintk=ttyS0,115200 earlyprintk=$(reboot)\n"
    )
    assert core.early_console_args(text) == ["earlyprintk=ttyS0,115200", "earlycon=uart8250,io,0x2f8"]
