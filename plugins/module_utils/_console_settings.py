# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""One set of serial console settings, and every string derived from it: the one home of that formula.

Pure (stdlib only, no I/O): used by the guest-side modules (``grub_serial``, ``guest_console_info``) and, through
the ``ttyfleet.serial_console.console_settings`` filter, by the roles and the fleet playbooks. The settings are
port/unit N (``ttyS<N>``, GRUB ``--unit=N``, libvirt ``<target port='N'>``), the tty, and the line settings
speed/word/parity/stop; derived are the kernel ``console=`` value (``ttyS0,115200n8``), GRUB's ``serial`` command
and the list of ``console=`` values in order.
"""

from __future__ import annotations

import re

# The grammar of a serial device name: ttyS<N> (8250 UART), ttyAMA<N> (PL011, arm64), hvc<N> (virtio console).
# \Z, not $: $ would let a trailing newline (a second line in a unit name or file) through.
TTY_RE = re.compile(r"^(ttyS|ttyAMA|hvc)([0-9]|[1-9][0-9])\Z")
TTY_GRAMMAR = "ttyS<N>, ttyAMA<N> or hvc<N>"
SPEEDS = (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)
WORDS = (5, 6, 7, 8)
PARITIES = ("no", "odd", "even")
STOPS = (1, 2)
# libvirt serial target ports 0-3 (and GRUB units); ttyS<N> is port N.
UNITS = (0, 1, 2, 3)
# The speeds the stock serial-getty@ unit tries (agetty --keep-baud): a drop-in lists the wanted one first.
GETTY_FALLBACK_SPEEDS = (115200, 57600, 38400, 9600)

DEFAULTS = dict(unit=0, speed=115200, word=8, parity="no", stop=1, console_order=("tty0", "serial"))
KEYS = ("tty", "unit", "speed", "word", "parity", "stop", "console_order")
# What ``settings`` adds: a settings dict may be passed through ``settings`` again.
DERIVED_KEYS = ("port", "line", "console", "consoles", "serial_command", "getty_speeds")


def _choices(values):
    return ", ".join(str(v) for v in values)


def validate_settings(tty=None, speed=None, word=None, parity=None, stop=None, unit=None):
    """Return a list of human readable problems with one set of serial console settings (empty if fine)."""
    problems = []
    if tty is not None and not TTY_RE.match(str(tty)):
        problems.append("tty %r is not a serial device name (%s)" % (tty, TTY_GRAMMAR))
    if speed is not None and speed not in SPEEDS:
        problems.append("speed %r is not one of %s" % (speed, _choices(SPEEDS)))
    if word is not None and word not in WORDS:
        problems.append("word %r is not 5, 6, 7 or 8" % (word,))
    if parity is not None and parity not in PARITIES:
        problems.append("parity %r is not no, odd or even" % (parity,))
    if stop is not None and stop not in STOPS:
        problems.append("stop %r is not 1 or 2" % (stop,))
    if unit is not None and unit not in UNITS:
        problems.append("unit %r is not 0, 1, 2 or 3" % (unit,))
    return problems


def tty_of_port(port):
    """The 8250 UART device of libvirt serial target port N: ``ttyS<N>``."""
    return "ttyS%d" % port


def tty_port(tty):
    """N for ``ttyS<N>``; None for a device that is not an 8250 UART (ttyAMA, hvc have other numbering)."""
    m = re.match(r"^ttyS(\d+)\Z", tty or "")
    return int(m.group(1)) if m else None


def console_tty(value):
    """The device of a kernel ``console=`` value: ``ttyS0`` of ``ttyS0,115200n8``."""
    return (value or "").split(",", 1)[0]


def line_settings(speed, word, parity):
    """``115200n8``: speed, parity initial, data bits, as the kernel's console= and agetty spell them."""
    return "%d%s%d" % (speed, parity[0], word)


def kernel_console(tty, speed, word, parity):
    """The value of a kernel ``console=`` argument: ``ttyS0,115200n8``; ``hvc0`` has no line settings."""
    if tty.startswith("hvc"):
        return tty
    return "%s,%s" % (tty, line_settings(speed, word, parity))


# The 8250 UARTs of a PC by Linux's number (ttyS<N> is the port at that I/O address, whatever else exists). GRUB on
# a PC BIOS (i386-pc) numbers its units by the BIOS data area instead, where the firmware lists only the ports it
# found, in order: on a domain whose only port is 1 (0x2f8, ttyS1), that port is GRUB's unit 0 and `--unit=1` names
# no port at all, so GRUB stays silent on serial. The I/O address is the one name both agree on.
PC_UART_PORTS = (0x3F8, 0x2F8, 0x3E8, 0x2E8)


def grub_unit_of(serial_cmd):
    """The ttyS number a GRUB serial command speaks on (``--unit=N`` or ``--port=`` a PC UART address); None if
    neither names one."""
    m = re.search(r"--unit=(\d+)", serial_cmd or "")
    if m:
        return int(m.group(1))
    m = re.search(r"--port=(0x[0-9a-fA-F]+|\d+)", serial_cmd or "")
    if m:
        addr = int(m.group(1), 0)
        return PC_UART_PORTS.index(addr) if addr in PC_UART_PORTS else None
    return None


def serial_line_words(serial_cmd):
    """A GRUB serial command's line settings (speed, word, parity, stop), without how it names its port
    (``--unit=N``, ``--port=ADDR`` or ``efiN``: the platform's spelling, see _grub_serial.port_serial_command)."""
    return [w for w in (serial_cmd or "").split()[1:]
            if not w.startswith(("--unit=", "--port=")) and not re.match(r"efi\d+\Z", w)]


def serial_command(unit, speed, word, parity, stop):
    """GRUB's ``serial`` command line, as GRUB_SERIAL_COMMAND and grub.cfg carry it."""
    return "serial --unit=%d --speed=%d --word=%d --parity=%s --stop=%d" % (unit, speed, word, parity, stop)


def resolve_console_order(order, console):
    """console= values in order, ``serial`` standing for the serial console; the last becomes /dev/console."""
    return [console if item == "serial" else item for item in order]


def getty_speeds(speed):
    """agetty's speed list for a drop-in: the wanted speed first, then the stock unit's fallbacks."""
    out = []
    for s in (speed,) + GETTY_FALLBACK_SPEEDS:
        if s not in out:
            out.append(s)
    return out


def _as_int(name, value, problems):
    if isinstance(value, bool):
        problems.append("%s %r is not a number" % (name, value))
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        problems.append("%s %r is not a number" % (name, value))
        return None


def settings(values, prefix=""):
    """The one settings dict, every derived string included; raises ValueError naming each bad key.

    ``values`` may hold ``tty``, ``unit``, ``speed``, ``word``, ``parity``, ``stop``, ``console_order`` (others
    are refused, so a misspelt key is not silently ignored; the derived keys of an earlier result are recomputed).
    A missing ``tty`` is ``ttyS<unit>``; a missing ``unit`` is N of ``ttyS<N>`` (else 0). ``prefix`` names the
    caller's variables in messages: a prefix (``guest_`` -> ``guest_speed 1234 is not one of ...``) or a dict of
    key -> variable name (``{"unit": "serial_console_port"}``; keys it lacks are named as they are).

    Returns ``tty``, ``unit``, ``port`` (= unit), ``speed``, ``word``, ``parity``, ``stop``, ``line``
    (``115200n8``), ``console`` (``ttyS0,115200n8``), ``console_order``, ``consoles`` (the console= values in
    order), ``serial_command`` and ``getty_speeds``.
    """
    if not isinstance(values, dict):
        raise ValueError("console settings must be a dict, got %s" % type(values).__name__)
    unknown = sorted(set(values) - set(KEYS) - set(DERIVED_KEYS))
    if unknown:
        raise ValueError("console settings: unknown key(s) %s; known: %s" % (", ".join(unknown), ", ".join(KEYS)))
    problems = []
    name = (lambda k: prefix.get(k, k)) if isinstance(prefix, dict) else (lambda k: prefix + k)
    v = {k: values.get(k) for k in KEYS}
    tty = v["tty"] if v["tty"] not in (None, "") else None
    if tty is not None and not (isinstance(tty, str) and TTY_RE.match(tty)):
        problems.append("%s %r must be a serial device name (%s)" % (name("tty"), tty, TTY_GRAMMAR))
        tty = None
    unit = v["unit"]
    if unit in (None, ""):
        unit = tty_port(tty) if tty_port(tty) is not None else DEFAULTS["unit"]
    out = {}
    for key in ("unit", "speed", "word", "stop"):
        raw = unit if key == "unit" else v[key]
        out[key] = DEFAULTS[key] if raw in (None, "") else _as_int(name(key), raw, problems)
    parity = DEFAULTS["parity"] if v["parity"] in (None, "") else v["parity"]
    if parity is False:  # YAML 1.1 reads a bare `no` as false
        parity = "no"
    order = DEFAULTS["console_order"] if v["console_order"] is None else v["console_order"]
    if (
        isinstance(order, str)
        or not isinstance(order, (list, tuple))
        or not order
        or not all(isinstance(c, str) and (c == "serial" or _console_value_ok(c)) for c in order)
    ):
        problems.append(
            "%s %r must be a non-empty list of console= values (serial = the serial console, "
            "e.g. [tty0, serial])" % (name("console_order"), order)
        )
        order = DEFAULTS["console_order"]
    for key in ("unit", "speed", "word", "parity", "stop"):
        value = parity if key == "parity" else out[key]
        if value is not None:
            problems += [name(key) + p[len(key) :] for p in validate_settings(**{key: value})]
    if tty is not None and out["unit"] is not None and tty_port(tty) not in (None, out["unit"]):
        problems.append(
            "%s %s must agree with %s %r: ttyS<N> is unit N" % (name("tty"), tty, name("unit"), out["unit"])
        )
    if problems:
        raise ValueError("console settings: " + "; ".join(problems))
    if tty is None:
        tty = tty_of_port(out["unit"])
    console = kernel_console(tty, out["speed"], out["word"], parity)
    return dict(
        tty=tty,
        unit=out["unit"],
        port=out["unit"],
        speed=out["speed"],
        word=out["word"],
        parity=parity,
        stop=out["stop"],
        line=line_settings(out["speed"], out["word"], parity),
        console=console,
        console_order=list(order),
        consoles=resolve_console_order(order, console),
        serial_command=serial_command(out["unit"], out["speed"], out["word"], parity, out["stop"]),
        getty_speeds=getty_speeds(out["speed"]),
    )


def _console_value_ok(value):
    """A console= value other than ``serial`` (``tty0``, ``ttyS1,9600n8``), by _grub_serial's grammar of it."""
    # imported here: _grub_serial imports this module's formulas
    from ansible_collections.ttyfleet.serial_console.plugins.module_utils._grub_serial import grammar_problems

    return not grammar_problems("console_order", value, "console")
