# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one home of the console settings: the derived strings, the checks, and that every YAML copy of a choice list
(argument specs, which cannot import Python) says exactly what _console_settings says."""

from __future__ import annotations

import os

import pytest
import yaml

from ansible_collections.ttyfleet.serial_console.plugins.filter.console_settings import FilterModule
from ansible_collections.ttyfleet.serial_console.plugins.module_utils import _console_settings as cs
from ansible_collections.ttyfleet.serial_console.plugins.module_utils import _grub_serial

COLLECTION = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))


def test_defaults_and_derived_strings():
    s = cs.settings({})
    assert (s["tty"], s["unit"], s["port"], s["speed"], s["word"], s["parity"], s["stop"]) == (
        "ttyS0",
        0,
        0,
        115200,
        8,
        "no",
        1,
    )
    assert s["console"] == "ttyS0,115200n8" and s["line"] == "115200n8"
    assert s["consoles"] == ["tty0", "ttyS0,115200n8"]
    assert s["serial_command"] == "serial --unit=0 --speed=115200 --word=8 --parity=no --stop=1"
    assert s["getty_speeds"] == [115200, 57600, 38400, 9600]


def test_unit_and_tty_follow_each_other():
    assert cs.settings({"unit": 2})["tty"] == "ttyS2"
    assert cs.settings({"tty": "ttyS3"})["unit"] == 3
    s = cs.settings({"unit": "1", "speed": "9600", "parity": "even", "word": 7, "stop": 2})
    assert s["console"] == "ttyS1,9600e7" and s["serial_command"] == (
        "serial --unit=1 --speed=9600 --word=7 --parity=even --stop=2"
    )
    assert s["getty_speeds"] == [9600, 115200, 57600, 38400]
    # hvc has no line settings; ttyAMA keeps GRUB's unit 0 (GRUB numbers its ports itself)
    assert cs.settings({"tty": "hvc0"})["console"] == "hvc0"
    assert cs.settings({"tty": "ttyAMA0"})["console"] == "ttyAMA0,115200n8"
    # YAML 1.1 reads an unquoted `no` as false
    assert cs.settings({"parity": False})["parity"] == "no"
    # a result passes through again unchanged
    assert cs.settings(s) == s


def test_console_order():
    assert cs.settings({"console_order": ["serial", "tty0"]})["consoles"] == ["ttyS0,115200n8", "tty0"]
    assert cs.settings({"unit": 1, "console_order": ["tty0", "ttyS0,9600n8", "serial"]})["consoles"] == [
        "tty0",
        "ttyS0,9600n8",
        "ttyS1,115200n8",
    ]


@pytest.mark.parametrize(
    "values, words",
    [
        ({"speed": 1234}, "guest_speed 1234 is not one of 1200, 2400"),
        ({"word": 9}, "guest_word 9 is not 5, 6, 7 or 8"),
        ({"parity": "mark"}, "guest_parity 'mark' is not no, odd or even"),
        ({"stop": 3}, "guest_stop 3 is not 1 or 2"),
        ({"unit": 4}, "guest_unit 4 is not 0, 1, 2 or 3"),
        ({"unit": True}, "guest_unit True is not a number"),
        ({"tty": "tty0"}, "guest_tty 'tty0' must be a serial device name"),
        ({"tty": "ttyS0\n"}, "guest_tty 'ttyS0\\n' must be a serial device name"),
        ({"tty": "ttyS0; reboot"}, "must be a serial device name"),
        ({"tty": "ttyS1", "unit": 0}, "guest_tty ttyS1 must agree with guest_unit 0"),
        ({"console_order": []}, "guest_console_order [] must be a non-empty list"),
        ({"console_order": "serial"}, "must be a non-empty list"),
        ({"console_order": ["tty0 quiet"]}, "must be a non-empty list"),
        ({"console_order": ["console=tty0"]}, "must be a non-empty list"),
        ({"sped": 9600}, "unknown key(s) sped"),
    ],
)
def test_bad_settings_name_the_variable(values, words):
    with pytest.raises(ValueError) as e:
        cs.settings(values, prefix="guest_")
    assert words in str(e.value)


def test_filter_raises_a_filter_error():
    from ansible.errors import AnsibleFilterError

    f = FilterModule().filters()["console_settings"]
    assert f({"unit": 1})["console"] == "ttyS1,115200n8"
    with pytest.raises(AnsibleFilterError, match="grub_speed 7 is not one of"):
        f({"speed": 7}, "grub_")


def test_grub_serial_uses_the_same_formulas():
    # _grub_serial re-exports them from the one home: not a copy
    assert _grub_serial.kernel_console is cs.kernel_console
    assert _grub_serial.serial_command is cs.serial_command
    assert _grub_serial.SPEEDS is cs.SPEEDS and _grub_serial.TTY_RE is cs.TTY_RE


def _spec_choices():
    found = {}
    for role in ("guest", "grub", "getty"):
        with open(os.path.join(COLLECTION, "roles", role, "meta", "argument_specs.yml")) as f:
            opts = yaml.safe_load(f)["argument_specs"]["main"]["options"]
        for name, opt in opts.items():
            for key in ("unit", "speed", "word", "parity", "stop"):
                if name == "%s_%s" % (role, key):
                    found[name] = (key, opt.get("choices"), opt.get("default"))
    return found


def test_argument_spec_choices_are_the_one_list():
    """Argument specs are YAML and cannot import the lists: this pins every copy to _console_settings."""
    lists = dict(unit=cs.UNITS, speed=cs.SPEEDS, word=cs.WORDS, parity=cs.PARITIES, stop=cs.STOPS)
    found = _spec_choices()
    assert {"guest_speed", "grub_speed", "getty_speed", "guest_unit", "grub_unit"} <= set(found), found
    for name, (key, choices, default) in found.items():
        assert choices is not None and list(choices) == list(lists[key]), (name, choices)
        assert default == cs.DEFAULTS[key], (name, default)
