# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Pure text transforms for the guest serial console: GRUB settings and kernel arguments.

No AnsibleModule, no subprocess, no file access: text in, text out, plus lists of problems. The ``grub_serial``
module does the I/O around these functions; the unit tests exercise them directly.
"""

from __future__ import annotations

import re

SPEEDS = (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)
PARITIES = ("no", "odd", "even")
TERMINALS = ("console", "serial", "gfxterm", "vga_text", "ofconsole")
TTY_RE = re.compile(r"^(ttyS|ttyAMA|hvc)([0-9]|[1-9][0-9])$")

DROPIN_FUNC = "__ttyfleet_strip"


def validate_settings(tty=None, speed=None, word=None, parity=None, stop=None, unit=None):
    """Return a list of human readable problems with one set of serial console settings (empty if fine)."""
    problems = []
    if tty is not None and not TTY_RE.match(str(tty)):
        problems.append("tty %r is not a serial device name (ttyS<N>, ttyAMA<N> or hvc<N>)" % (tty,))
    if speed is not None and speed not in SPEEDS:
        problems.append("speed %r is not one of %s" % (speed, ", ".join(str(s) for s in SPEEDS)))
    if word is not None and word not in (5, 6, 7, 8):
        problems.append("word %r is not 5, 6, 7 or 8" % (word,))
    if parity is not None and parity not in PARITIES:
        problems.append("parity %r is not no, odd or even" % (parity,))
    if stop is not None and stop not in (1, 2):
        problems.append("stop %r is not 1 or 2" % (stop,))
    if unit is not None and unit not in (0, 1, 2, 3):
        problems.append("unit %r is not 0, 1, 2 or 3" % (unit,))
    return problems


def kernel_console(tty, speed, word, parity):
    """The value of a kernel ``console=`` argument: ``ttyS0,115200n8``; ``hvc0`` has no line settings."""
    if tty.startswith("hvc"):
        return tty
    return "%s,%d%s%d" % (tty, speed, parity[0], word)


def serial_command(unit, speed, word, parity, stop):
    """GRUB's ``serial`` command line, as GRUB_SERIAL_COMMAND and grub.cfg carry it."""
    return "serial --unit=%d --speed=%d --word=%d --parity=%s --stop=%d" % (unit, speed, word, parity, stop)


# ---------------------------------------------------------------------------------------------------------------
# kernel arguments


def split_args(text):
    """Split a kernel command line into arguments; double quotes keep spaces inside one argument."""
    args, cur, quoted, started = [], [], False, False
    for ch in text or "":
        if ch == '"':
            quoted = not quoted
            cur.append(ch)
            started = True
        elif ch.isspace() and not quoted:
            if started:
                args.append("".join(cur))
                cur, started = [], False
        else:
            cur.append(ch)
            started = True
    if started:
        args.append("".join(cur))
    return args


def _arg_key(arg):
    return arg.split("=", 1)[0]


def _removed(arg, remove):
    """``remove`` holds bare keys (``quiet``, ``rhgb``, ``splash``) or exact ``key=value`` arguments."""
    for r in remove:
        if "=" in r:
            if arg == r:
                return True
        elif arg == r or _arg_key(arg) == r:
            return True
    return False


def merge_args(existing, consoles, remove=()):
    """Keep every existing argument in place, except console= ones and ``remove``; append ``consoles`` last.

    The kernel's last console= becomes /dev/console, so the wanted consoles always end the line, in order.
    A console= the user did not ask for is dropped: two console= for the same device type are ill-defined.
    """
    kept = [a for a in existing if _arg_key(a) != "console" and not _removed(a, remove)]
    return kept + ["console=%s" % c for c in consoles]


def console_args(args):
    return [a for a in args if _arg_key(a) == "console"]


def args_problems(args, consoles, remove=()):
    """Why a list of kernel arguments does not match the wanted consoles and removals (empty if it does)."""
    problems = []
    want = ["console=%s" % c for c in consoles]
    have = console_args(args)
    if have != want:
        problems.append("console arguments are %s, want %s" % (" ".join(have) or "(none)", " ".join(want)))
    stale = [a for a in args if _arg_key(a) != "console" and _removed(a, remove)]
    if stale:
        problems.append("arguments to remove are present: %s" % " ".join(stale))
    return problems


# ---------------------------------------------------------------------------------------------------------------
# /etc/default/grub and its drop-ins (POSIX shell assignments)


def shell_quote(value):
    """Double-quote a value for a shell assignment, escaping what double quotes do not protect."""
    return '"%s"' % re.sub(r'(["\\$`])', r"\\\1", value)


_ASSIGN_RE = re.compile(r"^(\s*)(export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$")


def set_shell_vars(text, values):
    """Set ``KEY="value"`` for each item of ``values`` (ordered pairs) in a shell config text.

    The last active assignment of a key is rewritten in place, earlier ones are left alone (the last one wins
    when the file is sourced); a key that is not assigned yet is appended. A value of None deletes every active
    assignment of that key. Comments and every other line are kept byte for byte.
    """
    lines = text.splitlines(True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    for key, value in values:
        idx = [i for i, line in enumerate(lines) if _match_key(line, key)]
        if value is None:
            for i in reversed(idx):
                del lines[i]
            continue
        new = "%s=%s\n" % (key, shell_quote(value))
        if idx:
            m = _ASSIGN_RE.match(lines[idx[-1]].rstrip("\n"))
            if lines[idx[-1]] != new and _unquote(m.group(4)) != value:
                lines[idx[-1]] = new
        else:
            lines.append(new)
    return "".join(lines)


def _match_key(line, key):
    m = _ASSIGN_RE.match(line.rstrip("\n"))
    return bool(m) and m.group(3) == key


def _unquote(raw):
    """The value of a simple shell word (``"a b"``, ``'a b'``, ``a``); None if it needs a shell to evaluate."""
    raw = raw.strip()
    if len(raw) >= 2 and raw[0] == raw[-1] == "'" and "'" not in raw[1:-1]:
        return raw[1:-1]
    if len(raw) >= 2 and raw[0] == raw[-1] == '"':
        inner = raw[1:-1]
        if re.search(r'(?<!\\)[$`"]', inner):
            return None
        return re.sub(r'\\(["\\$`])', r"\1", inner)
    if re.match(r"^[A-Za-z0-9_,.:/=+-]*$", raw):
        return raw
    return None


def render_dropin(header, terminal, serial_cmd, consoles, remove=(), timeout_s=None):
    """A /etc/default/grub.d drop-in that wins over every file sorted before it (Ubuntu's 50-cloudimg too).

    At source time it strips console= (and ``remove``) from GRUB_CMDLINE_LINUX and GRUB_CMDLINE_LINUX_DEFAULT,
    whatever earlier files put there, and appends the wanted consoles to GRUB_CMDLINE_LINUX (recovery entries
    get them too). The text is fixed for fixed settings, so rewriting it is idempotent and an argument already
    present in /etc/default/grub is never doubled.
    """
    pattern = "|".join(["console=*"] + [r if "=" in r else "%s|%s=*" % (r, r) for r in remove])
    lines = ["# %s" % h for h in header.splitlines()] if header else []
    lines += [
        "# ttyfleet.serial_console: GRUB and the kernel speak on the serial console. Sourced after",
        "# /etc/default/grub and every drop-in that sorts before this one.",
        "GRUB_TERMINAL=%s" % shell_quote(" ".join(terminal)),
        "GRUB_SERIAL_COMMAND=%s" % shell_quote(serial_cmd),
    ]
    if timeout_s is not None:
        lines += ["GRUB_TIMEOUT=%d" % timeout_s, 'GRUB_TIMEOUT_STYLE="menu"']
    lines += [
        "%s() {" % DROPIN_FUNC,
        "  __ttyfleet_out=",
        "  for __ttyfleet_a in $1; do",
        '    case "$__ttyfleet_a" in',
        "      %s) ;;" % pattern,
        '      *) __ttyfleet_out="${__ttyfleet_out:+$__ttyfleet_out }$__ttyfleet_a" ;;',
        "    esac",
        "  done",
        "  printf '%s' \"$__ttyfleet_out\"",
        "}",
        "case $- in *f*) __ttyfleet_f= ;; *) __ttyfleet_f=1; set -f ;; esac",
        'GRUB_CMDLINE_LINUX="$(%s "$GRUB_CMDLINE_LINUX")"' % DROPIN_FUNC,
        'GRUB_CMDLINE_LINUX="${GRUB_CMDLINE_LINUX:+$GRUB_CMDLINE_LINUX }%s"'
        % " ".join("console=%s" % c for c in consoles),
        'GRUB_CMDLINE_LINUX_DEFAULT="$(%s "$GRUB_CMDLINE_LINUX_DEFAULT")"' % DROPIN_FUNC,
        '[ -n "$__ttyfleet_f" ] && set +f',
        "unset -f %s" % DROPIN_FUNC,
        "unset __ttyfleet_a __ttyfleet_out __ttyfleet_f",
    ]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------------------------
# generated grub.cfg, BLS entries, legacy GRUB 0.97 menu.lst

_LINUX_RE = re.compile(r"^\s*(linux|linux16|linuxefi)\s+(\S+)(.*)$")


def grub_cfg_problems(text, serial_cmd, terminal, consoles, remove=(), bls=False):
    """Why a generated grub.cfg does not give a serial console (empty list if it does).

    ``bls``: the kernel lines live in BLS entries (``blscfg``), so only the terminal part is checked here.
    """
    problems = []
    lines = text.splitlines()
    if not any(line.strip() == serial_cmd for line in lines):
        problems.append("grub.cfg lacks %r" % serial_cmd)
    for cmd in ("terminal_input", "terminal_output"):
        found = [line.split()[1:] for line in lines if line.strip().split()[:1] == [cmd]]
        if not any(set(terminal) <= set(words) for words in found):
            problems.append("grub.cfg has no '%s %s'" % (cmd, " ".join(terminal)))
    kernels = [m for m in (_LINUX_RE.match(line) for line in lines) if m]
    if bls:
        if not any(line.strip().startswith("blscfg") for line in lines) and not kernels:
            problems.append("grub.cfg neither loads BLS entries (blscfg) nor has linux lines")
    elif not kernels:
        problems.append("grub.cfg has no linux lines")
    for m in kernels:
        for p in args_problems(split_args(m.group(3)), consoles, remove):
            problems.append("grub.cfg linux %s: %s" % (m.group(2), p))
    return problems


def bls_options(text):
    """The ``options`` value of a BLS entry, or None when the entry has none."""
    for line in text.splitlines():
        parts = line.strip().split(None, 1)
        if parts and parts[0] == "options":
            return parts[1] if len(parts) > 1 else ""
    return None


def edit_bls_entry(text, consoles, remove=()):
    """A BLS entry with its ``options`` merged; an entry without options gets one."""
    old = bls_options(text)
    new_opts = " ".join(merge_args(split_args(old or ""), consoles, remove))
    if old is not None and split_args(old) == split_args(new_opts):
        return text
    out, done = [], False
    for line in text.splitlines(True):
        parts = line.strip().split(None, 1)
        if parts and parts[0] == "options" and not done:
            out.append("options %s\n" % new_opts)
            done = True
        else:
            out.append(line)
    if not done:
        if out and not out[-1].endswith("\n"):
            out[-1] += "\n"
        out.append("options %s\n" % new_opts)
    return "".join(out)


def edit_cmdline_file(text, consoles, remove=()):
    """/etc/kernel/cmdline (kernel-install copies it into entries of future kernels): one line of arguments."""
    old = split_args(text.strip())
    new = merge_args(old, consoles, remove)
    return text if new == old else " ".join(new) + "\n"


def legacy_terminal_line(terminal, timeout_s=None):
    """GRUB 0.97 ``terminal`` command; the first listed terminal is where the menu shows if nobody presses a key."""
    words = [t for t in terminal if t in ("console", "serial")]
    return "terminal --timeout=%d %s" % (5 if timeout_s is None else timeout_s, " ".join(words))


def edit_legacy_menu(text, serial_cmd, terminal, consoles, remove=(), timeout_s=None):
    """GRUB 0.97 menu.lst / grub.conf: serial and terminal lines before the first entry, consoles on every kernel.

    ``splashimage`` is commented out when the serial terminal is wanted: GRUB 0.97 cannot draw it on serial and
    falls back to a blank screen there.
    """
    lines = text.splitlines(True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    want_serial = "serial" in terminal
    term_line = legacy_terminal_line(terminal, timeout_s)
    out, globals_done = [], False
    for line in lines:
        words = line.split()
        head = words[0] if words else ""
        if not globals_done and head == "title":
            if want_serial:
                out.append(serial_cmd + "\n")
            out.append(term_line + "\n")
            globals_done = True
        if not globals_done and head in ("serial", "terminal"):
            continue
        if not globals_done and want_serial and re.match(r"^\s*splashimage", line):
            out.append("#" + line)
            continue
        if globals_done and head == "kernel" and len(words) >= 2:
            m = re.match(r"^(\s*kernel\s+\S+)(.*)$", line.rstrip("\n"))
            merged = merge_args(split_args(m.group(2)), consoles, remove)
            line = "%s %s\n" % (m.group(1), " ".join(merged)) if merged else m.group(1) + "\n"
        out.append(line)
    if not globals_done:
        if want_serial:
            out.append(serial_cmd + "\n")
        out.append(term_line + "\n")
    new = "".join(out)
    return text if new == text or new == text + "\n" else new


def legacy_problems(text, serial_cmd, terminal, consoles, remove=()):
    problems = []
    lines = [line.strip() for line in text.splitlines()]
    if "serial" in terminal and serial_cmd not in lines:
        problems.append("menu.lst lacks %r" % serial_cmd)
    kernels = [line for line in lines if line.split()[:1] == ["kernel"]]
    if not kernels:
        problems.append("menu.lst has no kernel lines")
    for k in kernels:
        parts = k.split(None, 2)
        for p in args_problems(split_args(parts[2] if len(parts) > 2 else ""), consoles, remove):
            problems.append("menu.lst kernel %s: %s" % (parts[1], p))
    return problems


# ---------------------------------------------------------------------------------------------------------------
# grubenv (RHEL 8 BLS entries read their arguments from $kernelopts in it)

GRUBENV_SIZE = 1024
GRUBENV_HEADER = "# GRUB Environment Block\n"


def grubenv_get(text, key):
    for line in text.splitlines():
        if line.startswith(key + "="):
            return line[len(key) + 1 :]
    return None


def grubenv_set(text, key, value):
    """A grubenv block with ``key`` set, padded with '#' to 1024 bytes as grub2-editenv writes it.

    Returns None when the variables do not fit in the block.
    """
    body = [line for line in text.splitlines() if line and not line.startswith("#") and "=" in line]
    out, done = [], False
    for line in body:
        if line.startswith(key + "="):
            out.append("%s=%s" % (key, value))
            done = True
        else:
            out.append(line)
    if not done:
        out.append("%s=%s" % (key, value))
    block = GRUBENV_HEADER + "".join(line + "\n" for line in out)
    if len(block.encode("utf-8")) > GRUBENV_SIZE:
        return None
    return block + "#" * (GRUBENV_SIZE - len(block.encode("utf-8")))
