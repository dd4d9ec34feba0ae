# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""GRUB knowledge for the guest serial console: settings grammar, kernel arguments, /etc/default/grub and its
drop-ins, generated grub.cfg, BLS entries, GRUB 0.97 menus, grubenv.

Pure text transforms (text in, text out, plus lists of problems), except ``source_defaults``, the one place that
runs a shell to read /etc/default/grub and its drop-ins the way grub-mkconfig does. No AnsibleModule. The
``grub_serial`` module does the file I/O around these functions; other guest-side code imports them from here.

Over 400 lines on purpose: this is the one home of GRUB's file formats (/etc/default/grub and its drop-ins,
grub.cfg, BLS entries, GRUB 0.97 menus, grubenv, the EFI variables that choose the terminal), and they share one
shell-word grammar and one kernel-argument merge; a split by format (BLS, legacy) is the next step if it grows.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess

# The console settings and their derived strings (console=, GRUB's serial command) have one home.
# Re-exported for grub_serial and the tests: pylint: disable=unused-import
from ansible_collections.ttyfleet.serial_console.plugins.module_utils._console_settings import (  # noqa: F401
    PARITIES,
    PC_UART_PORTS,
    SPEEDS,
    TTY_RE,
    kernel_console,
    serial_command,
    validate_settings,
)

# pylint: enable=unused-import

TERMINALS = ("console", "serial", "gfxterm", "vga_text", "ofconsole")

DROPIN_FUNC = "__ttyfleet_strip"

# Grammar of every caller value that ends in a GRUB source file, a kernel command line or a generator's argv.
# None of them admits a quote, a backslash, '$', '`', whitespace, a glob or a control character.
GRAMMAR = {
    # one kernel argument: key or key=value (rd.lvm.lv=vg/root, crashkernel=1G-4G:192M, root=UUID=x)
    "karg": (
        re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}(=[A-Za-z0-9_.,:/+@%=-]{0,191})?$"),
        "a kernel argument: key or key=value, key of letters, digits, '_', '.', '-'; value of letters, digits and "
        "_ . , : / + @ % = -",
    ),
    # the value of one console= argument: tty0, ttyS0,115200n8, hvc0, uart8250,io,0x3f8,115200n8
    "console": (
        re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,31}(,[A-Za-z0-9_.:]{1,32}){0,4}$"),
        "a console= value such as tty0, ttyS0,115200n8 or hvc0 (device name, then up to 4 ','-separated options "
        "of letters, digits, '_', '.', ':'), without 'console='",
    ),
    "path": (
        re.compile(r"^/[A-Za-z0-9_.,:+@%=/-]{0,4095}$"),
        "an absolute path of letters, digits and _ . , : + @ % = / - (no '..')",
    ),
    "command": (
        re.compile(r"^[A-Za-z0-9_./+-]{1,4096}$"),
        "a command name or absolute path of letters, digits and _ . / + -",
    ),
    "cmd_arg": (re.compile(r"^[A-Za-z0-9_.,:/+@%={}-]{0,4096}$"), "letters, digits and _ . , : / + @ % = { } -"),
}


def _shown(value):
    """A value as an error message may show it: repr, cut short (hostile values can be long)."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def grammar_problems(option, values, kind):
    """Problems of ``values`` (one value or a list) under the grammar ``kind``; each names the option and the rule."""
    rx, rule = GRAMMAR[kind]
    problems = []
    for v in values if isinstance(values, (list, tuple)) else [values]:
        if not isinstance(v, str) or not rx.fullmatch(v) or (kind == "path" and "/../" in v + "/"):
            problems.append("%s: %s is not %s" % (option, _shown(v), rule))
    return problems


def header_problems(option, text):
    """A comment header may hold any printable text; each of its lines becomes a '# ' comment line."""
    if text and re.search(r"[\x00-\x08\x0b-\x1f\x7f]", text):
        return ["%s: control characters other than newline and tab are not allowed" % option]
    return []


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


# ---------------------------------------------------------------------------------------------------------------
# early consoles: earlyprintk= and earlycon= write the kernel's first messages before console= is read


def _pc_uart(addr):
    """ttyS<N> for a PC UART's I/O address (text: 0x3f8), None for any other address."""
    try:
        value = int(addr, 16)
    except ValueError:
        return None
    return "ttyS%d" % PC_UART_PORTS.index(value) if value in PC_UART_PORTS else None


def early_console_tty(arg):
    """The serial device (ttyS<N>) an early console argument writes to; None when it names no PC UART.

    earlyprintk= as x86 reads it (arch/x86/kernel/early_printk.c): ``serial``, then optionally ``,ttyS<N>`` or
    ``,0x<address>``, or ``ttyS<N>`` alone; by number only ttyS0 and ttyS1 exist there, any other number (and none)
    is ttyS0. earlycon= with an I/O port (``uart8250,io,0x3f8,...``, ``uart,io,...``). Left as None, so never
    judged: vga, efi, dbgp, xen, pciserial, a bare earlycon (the firmware's choice), MMIO addresses.
    """
    key, _sep, value = arg.partition("=")
    words = value.split(",")
    if key == "earlycon":
        if len(words) >= 3 and words[0] in ("uart8250", "uart") and words[1] == "io":
            return _pc_uart(words[2])
        return None
    if key != "earlyprintk":
        return None
    if words[0] == "serial":
        words = words[1:]
    elif not words[0].startswith("ttyS"):
        return None
    first = words[0] if words else ""
    if first.startswith("0x"):
        return _pc_uart(first)
    number = first[4:] if first.startswith("ttyS") else first
    return "ttyS1" if number == "1" else "ttyS0"


_EARLY_RE = re.compile(r"""(?:^|(?<=[\s"']))((?:earlyprintk|earlycon)=[^\s"'#]+)""")


def early_console_args(text):
    """The earlyprintk=/earlycon= arguments on the active (not commented) lines of a file, in order, once each;
    only those of the kernel argument grammar (what is removed goes into the drop-in as data)."""
    found = []
    for line in (text or "").splitlines():
        if line.lstrip().startswith("#"):
            continue
        found += [a for a in _EARLY_RE.findall(line) if a not in found and GRAMMAR["karg"][0].match(a)]
    return found


def stale_early_consoles(args, consoles):
    """The early console arguments that write to another serial port than every one of ``consoles``.

    Such an argument is a second console on another device: the kernel's first messages (and, with ``keep``, all
    of them) would go to a port the configured console is not on. One on the configured port is kept as it is.
    """
    # a console named by its port (console=uart8250,io,0x3f8,115200n8) is that ttyS<N> too
    devices = set(c.split(",", 1)[0] for c in consoles) | set(early_console_tty("earlycon=" + c) for c in consoles)
    stale = []
    for arg in args:
        tty = early_console_tty(arg)
        if tty is not None and tty not in devices and arg not in stale:
            stale.append(arg)
    return stale


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
    """Double-quote a value for a shell assignment, escaping what double quotes do not protect.

    Used for /etc/default/grub, where distribution tools (grubby, YaST) expect KEY="value".
    """
    return '"%s"' % re.sub(r'(["\\$`])', r"\\\1", value)


def sh_single_quote(value):
    """Single-quote a value: nothing inside is expanded by any shell; a ' is closed, escaped and reopened."""
    return "'%s'" % value.replace("'", "'\"'\"'")


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
            if lines[idx[-1]] != new and shell_word(m.group(4)) != value:
                lines[idx[-1]] = new
        else:
            lines.append(new)
    return "".join(lines)


def _match_key(line, key):
    m = _ASSIGN_RE.match(line.rstrip("\n"))
    return bool(m) and m.group(3) == key


def shell_word(raw):
    """The value of one literal shell word (``"a b"``, ``'a b'``, ``a\\ b``, ``a"b"'c'``), an optional comment after.

    None when evaluating it would need a shell: an expansion ($, `), a glob, or an operator (; & | < > ( )).
    """
    out, i, raw = [], 0, raw.strip()
    while i < len(raw):
        ch = raw[i]
        if ch == "'":
            j = raw.find("'", i + 1)
            if j < 0:
                return None
            out.append(raw[i + 1 : j])
            i = j + 1
        elif ch == '"':
            i += 1
            while i < len(raw) and raw[i] != '"':
                if raw[i] in "$`":
                    return None
                if raw[i] == "\\" and i + 1 < len(raw) and raw[i + 1] in '"\\$`\n':
                    i += 1
                out.append(raw[i])
                i += 1
            if i >= len(raw):
                return None
            i += 1
        elif ch == "\\":
            if i + 1 >= len(raw):
                return None
            out.append(raw[i + 1])
            i += 2
        elif ch.isspace():
            rest = raw[i:].strip()
            return "".join(out) if not rest or rest.startswith("#") else None
        elif ch in "$`;&|<>()*?[]{}~#" and not (ch == "#" and out):
            return None
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def shell_assignment(text, key):
    """The literal value of the last active ``key=`` assignment in a shell config text.

    Returns (value, found): ("", False) when the key is not assigned; (None, True) when its value is shell code
    (reading it would mean running the file). The file is never executed to answer.
    """
    value, found = "", False
    for line in text.splitlines():
        m = _ASSIGN_RE.match(line)
        if m and m.group(3) == key:
            value, found = shell_word(m.group(4)), True
    return value, found


# The drop-in's code is this fixed text: it never contains caller data. The data (the consoles, the arguments to
# remove, the GRUB settings) comes before it as single-quoted literals, which no shell expands.
DROPIN_CODE = """\
%(f)s() {
  __ttyfleet_out=
  for __ttyfleet_a in $1; do
    __ttyfleet_keep=1
    case "$__ttyfleet_a" in console=*) __ttyfleet_keep= ;; esac
    for __ttyfleet_r in $__ttyfleet_remove; do
      if [ "x$__ttyfleet_a" = "x$__ttyfleet_r" ] || [ "x${__ttyfleet_a%%%%=*}" = "x$__ttyfleet_r" ]; then
        __ttyfleet_keep=
      fi
    done
    if [ -n "$__ttyfleet_keep" ]; then __ttyfleet_out="${__ttyfleet_out:+$__ttyfleet_out }$__ttyfleet_a"; fi
  done
  printf '%%s' "$__ttyfleet_out"
}
case $- in *f*) __ttyfleet_f= ;; *) __ttyfleet_f=1; set -f ;; esac
GRUB_CMDLINE_LINUX="$(%(f)s "$GRUB_CMDLINE_LINUX")"
GRUB_CMDLINE_LINUX="${GRUB_CMDLINE_LINUX:+$GRUB_CMDLINE_LINUX }$__ttyfleet_consoles"
GRUB_CMDLINE_LINUX_DEFAULT="$(%(f)s "$GRUB_CMDLINE_LINUX_DEFAULT")"
if [ -n "$__ttyfleet_f" ]; then set +f; fi
unset -f %(f)s
unset __ttyfleet_a __ttyfleet_r __ttyfleet_keep __ttyfleet_out __ttyfleet_f __ttyfleet_remove __ttyfleet_consoles
""" % {"f": DROPIN_FUNC}


def render_dropin(header, terminal, serial_cmd, consoles, remove=(), timeout_s=None):
    """A /etc/default/grub.d drop-in that wins over every file sorted before it (Ubuntu's 50-cloudimg too).

    At source time it strips console= (and ``remove``) from GRUB_CMDLINE_LINUX and GRUB_CMDLINE_LINUX_DEFAULT,
    whatever earlier files put there, and appends the wanted consoles to GRUB_CMDLINE_LINUX (recovery entries
    get them too). Every value is a single-quoted literal and the code is ``DROPIN_CODE``, the same for every
    caller, so no caller text can become shell code. The text is fixed for fixed settings, so rewriting it is
    idempotent and an argument already present in /etc/default/grub is never doubled. ``dropin_effect`` is the
    same transformation in Python (check mode predicts with it instead of running the drop-in).
    """
    q = sh_single_quote
    lines = ["# %s" % h for h in header.splitlines()] if header else []
    lines += [
        "# ttyfleet.serial_console: GRUB and the kernel speak on the serial console. Sourced after",
        "# /etc/default/grub and every drop-in that sorts before this one.",
        "GRUB_TERMINAL=%s" % q(" ".join(terminal)),
        "GRUB_SERIAL_COMMAND=%s" % q(serial_cmd),
    ]
    if timeout_s is not None:
        lines += ["GRUB_TIMEOUT=%s" % q(str(int(timeout_s))), "GRUB_TIMEOUT_STYLE='menu'"]
    lines += [
        "__ttyfleet_remove=%s" % q(" ".join(remove)),
        "__ttyfleet_consoles=%s" % q(" ".join("console=%s" % c for c in consoles)),
    ]
    return "\n".join(lines) + "\n" + DROPIN_CODE


def dropin_effect(env, terminal, serial_cmd, consoles, remove=(), timeout_s=None):
    """What sourcing ``render_dropin``'s text does to the variables in ``env`` (a dict), without a shell."""

    def strip(value):
        return [
            a
            for a in (value or "").split()
            if _arg_key(a) != "console" and a not in remove and _arg_key(a) not in remove
        ]

    out = dict(env)
    linux = strip(env.get("GRUB_CMDLINE_LINUX")) + ["console=%s" % c for c in consoles]
    out["GRUB_CMDLINE_LINUX"] = " ".join(linux)
    out["GRUB_CMDLINE_LINUX_DEFAULT"] = " ".join(strip(env.get("GRUB_CMDLINE_LINUX_DEFAULT")))
    out["GRUB_TERMINAL"] = " ".join(terminal)
    out["GRUB_SERIAL_COMMAND"] = serial_cmd
    if timeout_s is not None:
        out["GRUB_TIMEOUT"], out["GRUB_TIMEOUT_STYLE"] = str(int(timeout_s)), "menu"
    return out


SOURCED_VARS = ("GRUB_CMDLINE_LINUX", "GRUB_CMDLINE_LINUX_DEFAULT", "GRUB_TERMINAL", "GRUB_SERIAL_COMMAND")


def source_script(n_before, n_after, names=SOURCED_VARS):
    """The fixed sh script ``source_defaults`` runs: file paths and preset values come from the environment.

    The sourced files' stdout goes to /dev/null; the values go to fd 3, NUL-separated, after a random marker.
    """
    lines = ["set -e", "exec 3>&1 >/dev/null </dev/null"]
    lines += ['. "$__TTYFLEET_F%d"' % i for i in range(n_before)]
    if n_after:
        lines += ["%s=$__TTYFLEET_V%d" % (n, i) for i, n in enumerate(names)]
        lines += ['. "$__TTYFLEET_F%d"' % i for i in range(n_before, n_before + n_after)]
    lines.append("printf '%%s\\0' \"$__TTYFLEET_MARK\" %s >&3" % " ".join('"${%s-}"' % n for n in names))
    return "\n".join(lines) + "\n"


def parse_sourced(stdout, marker, names=SOURCED_VARS):
    """The values after the last marker; None when the script did not get to print them."""
    fields = stdout.split("\0")
    if marker not in fields:
        return None
    at = len(fields) - 1 - fields[::-1].index(marker)
    values = fields[at + 1 : at + 1 + len(names)]
    return dict(zip(names, values)) if len(values) == len(names) else None


def source_defaults(before, after=(), preset=None, names=SOURCED_VARS):
    """Source the files ``before``, then (when ``after`` is given) set ``names`` from ``preset`` and source
    ``after``, as grub-mkconfig does; return the values of ``names``. What the files print is never read as a value.

    Raises RuntimeError with sh's message when a file fails. Missing files are skipped, like grub-mkconfig's loop.
    """
    before = [f for f in before if os.path.isfile(f)]
    after = [f for f in after if os.path.isfile(f)]
    marker = "ttyfleet-%s" % secrets.token_hex(16)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GRUB_", "__TTYFLEET_"))}
    env.update(LC_ALL="C", __TTYFLEET_MARK=marker)
    for i, f in enumerate(list(before) + list(after)):
        env["__TTYFLEET_F%d" % i] = f
    if after:
        for i, n in enumerate(names):
            env["__TTYFLEET_V%d" % i] = (preset or {}).get(n, "")
    script = source_script(len(before), len(after), names)
    p = subprocess.run(["sh", "-c", script], capture_output=True, env=env, cwd="/", check=False)
    out = p.stdout.decode("utf-8", "surrogateescape")
    values = parse_sourced(out, marker, names)
    if p.returncode or values is None:
        err = p.stderr.decode("utf-8", "replace").strip()
        raise RuntimeError(
            "sourcing %s failed (exit %d): %s" % (", ".join(before + after), p.returncode, err[-500:] or "no message")
        )
    return values


# ---------------------------------------------------------------------------------------------------------------
# generated grub.cfg, BLS entries, legacy GRUB 0.97 menu.lst

_LINUX_RE = re.compile(r"^\s*(linux|linux16|linuxefi)\s+(\S+)(.*)$")
_SECTION_RE = re.compile(r"^### BEGIN (\S+) ###\s*$")
_KERNEL_NAMES = ("vmlinuz", "vmlinux", "bzimage", "kernel", "image", "uki")


def kernel_lines(text):
    """The ``linux`` lines of a grub.cfg that boot this system's Linux kernel: (command, image, args) tuples.

    These are the lines GRUB_CMDLINE_LINUX reaches, so only they are judged. Left out: memtest86+ (it is loaded
    with ``linux``/``linux16``/``linuxefi`` too, and has its own console= syntax), entries of other systems
    (os-prober), custom entries, and images without ``root=`` that are not named like a kernel. When grub.cfg has
    grub-mkconfig's ``### BEGIN /etc/grub.d/NN_name ###`` sections, only sections whose script name contains
    ``linux`` (10_linux, 20_linux_xen, 10_linux_zfs) count.
    """
    found, section, sectioned = [], None, False
    for line in text.splitlines():
        sm = _SECTION_RE.match(line)
        if sm:
            section, sectioned = os.path.basename(sm.group(1)), True
            continue
        if line.startswith("### END "):
            section = None
            continue
        m = _LINUX_RE.match(line)
        if not m:
            continue
        cmd, image, args = m.group(1), m.group(2), split_args(m.group(3))
        base = image.rsplit("/", 1)[-1].lower()
        if _is_memtest(image):
            continue
        if sectioned and (section is None or "linux" not in section):
            continue
        has_root = any(_arg_key(a) == "root" for a in args)
        if has_root or (cmd != "linux16" and base.startswith(_KERNEL_NAMES)):
            found.append((cmd, image, args))
    return found


def grub_cfg_terminal(text):
    """GRUB's terminal setup in a grub.cfg, in file order: every ``serial ...`` command line (stripped), the
    words after every ``terminal_input`` / ``terminal_output``, and whether it loads BLS entries (``blscfg``)."""
    lines = [line.strip() for line in text.splitlines()]
    words = [line.split() for line in lines]
    return dict(
        serial=[line for line, w in zip(lines, words) if w[:1] == ["serial"]],
        terminal_input=[w[1:] for w in words if w[:1] == ["terminal_input"]],
        terminal_output=[w[1:] for w in words if w[:1] == ["terminal_output"]],
        blscfg=any(line.startswith("blscfg") for line in lines),
    )


def grub_cfg_problems(text, serial_cmd, terminal, consoles, remove=(), bls=False):
    """Why a generated grub.cfg does not give a serial console (empty list if it does).

    ``bls``: the kernel lines live in BLS entries (``blscfg``), so only the terminal part is checked here.
    """
    problems = []
    terms = grub_cfg_terminal(text)
    # grub-mkconfig writes the serial command only when GRUB_TERMINAL names serial.
    if "serial" in terminal and serial_cmd not in terms["serial"]:
        problems.append("grub.cfg lacks %r" % serial_cmd)
    for cmd in ("terminal_input", "terminal_output"):
        # Exactly these terminals: an extra `serial` where the firmware mirrors its console is the doubled menu.
        if not any(set(terminal) == set(words) for words in terms[cmd]):
            problems.append("grub.cfg has no '%s %s'" % (cmd, " ".join(terminal)))
    kernels = kernel_lines(text)
    if bls:
        if not terms["blscfg"] and not kernels:
            problems.append("grub.cfg neither loads BLS entries (blscfg) nor has linux lines")
    elif not kernels:
        problems.append("grub.cfg has no linux lines")
    for _cmd, image, args in kernels:
        for p in args_problems(args, consoles, remove):
            problems.append("grub.cfg linux %s: %s" % (image, p))
    return problems


def _bls_key(line):
    parts = line.strip().split(None, 1)
    return parts[0] if parts else ""


def bls_options(text):
    """The ``options`` of a BLS entry, every options line joined (the spec allows several); None when none."""
    opts = [(line.strip().split(None, 1) + [""])[1] for line in text.splitlines() if _bls_key(line) == "options"]
    return " ".join(o for o in opts if o) if opts else None


def edit_bls_entry(text, consoles, remove=()):
    """A BLS entry with console= and ``remove`` dropped from every ``options`` line and ``consoles`` appended to
    the last one; an options line left empty is dropped, an entry without options gets one."""
    lines = text.splitlines(True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    idx = [i for i, line in enumerate(lines) if _bls_key(line) == "options"]
    out = list(lines)
    for n, i in enumerate(idx):
        args = split_args((lines[i].strip().split(None, 1) + [""])[1])
        kept = merge_args(args, consoles if n == len(idx) - 1 else [], remove)
        out[i] = ("options %s\n" % " ".join(kept)) if kept != args else lines[i]
        if not kept:
            out[i] = ""
    if not idx:
        out.append("options %s\n" % " ".join("console=%s" % c for c in consoles))
    new = "".join(out)
    return text if new in (text, text + "\n") else new


def edit_cmdline_file(text, consoles, remove=()):
    """/etc/kernel/cmdline (kernel-install copies it into entries of future kernels): one line of arguments."""
    old = split_args(text.strip())
    new = merge_args(old, consoles, remove)
    return text if new == old else " ".join(new) + "\n"


def _is_memtest(image):
    """memtest86+ boots like a kernel but is none: it is left as it is (GRUB 0.97 menus and grub.cfg alike)."""
    image = image[0] if isinstance(image, list) and image else image or ""
    return "memtest" in image.rsplit("/", 1)[-1].lower()


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
        if globals_done and head == "kernel" and len(words) >= 2 and not _is_memtest(words[1]):
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
    kernels = [line for line in lines if line.split()[:1] == ["kernel"] and not _is_memtest(line.split()[1:2])]
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


# ---------------------------------------------------------------------------------------------------------------
# platforms: the terminal per firmware, the serial port's name per GRUB platform

AUTO_TERMINAL = "auto"
# efivarfs: the UEFI global variable ConOut (EFI_GLOBAL_VARIABLE GUID), 4 attribute bytes, then a device path.
CONOUT_VAR = "efivars/ConOut-8be4df61-93ca-11d2-aa0d-00e098032b8c"
# Set by the boot loader that started this boot (the Boot Loader Interface): UTF-16LE, e.g. "systemd-boot 252.39".
LOADER_INFO_VAR = "efivars/LoaderInfo-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f"
# SMBIOS BIOS vendor of EDK II's virtual-machine firmware (OVMF, AAVMF: "EFI Development Kit II / OVMF", newer
# builds "EDK II"). Its boot manager puts every serial port the machine has into ConOut at each boot, so a stock
# domain with no UART yet has none in ConOut, and gets one - and the mirror - once the host adds the port.
EDK2_VENDOR_RE = re.compile(r"(EDK II|EFI Development Kit II)\b")
# GRUB platforms whose serial driver knows only EFI serial ports (efi0, efi1, ...): no 8250 "com" units.
EFI_ONLY_SERIAL_PLATFORMS = ("arm64-efi", "arm-efi", "riscv64-efi", "loongarch64-efi")
# GRUB for a PC BIOS: its serial units are the BIOS data area's list of present ports (see port_serial_command).
PC_BIOS_PLATFORM = "i386-pc"


def device_path_has_uart(data):
    """Whether a UEFI device path list (the value of ConOut, without the attribute bytes) holds a UART node.

    Nodes are type, subtype, 16-bit little-endian length; a UART is messaging (3) / UART (14). A truncated or
    malformed list answers False (the caller then does not assume a mirror)."""
    i = 0
    while i + 4 <= len(data):
        kind, sub, length = data[i], data[i + 1], data[i + 2] | data[i + 3] << 8
        if length < 4 or i + length > len(data):
            return False
        if kind == 0x03 and sub == 0x0E:
            return True
        if kind == 0x7F and sub == 0xFF:
            return False
        i += length
    return False


def choose_terminal(requested, consoles, efi_booted, conout, firmware_vendor=""):
    """GRUB_TERMINAL to use and why. ``requested`` is the caller's list; only ``[auto]`` is decided here.

    ``consoles``: the console= values the kernel gets; ``efi_booted``: /sys/firmware/efi exists; ``conout``: the
    firmware's ConOut device path (bytes, attributes stripped) or None when it cannot be read; ``firmware_vendor``:
    the SMBIOS BIOS vendor (/sys/class/dmi/id/bios_vendor).
    - no serial device among the consoles but hvc<N>: GRUB has no virtio console driver, so only `console`;
    - EFI firmware whose ConOut holds a UART (OVMF, AAVMF, servers with console redirection): the firmware already
      mirrors GRUB's `console` onto the serial line; `serial` as well would draw every line twice;
    - EDK II's VM firmware (OVMF, AAVMF) also when ConOut has no UART yet: it adds every serial port at each boot,
      so the answer must not change once the host has added the port (the role runs first on the stock domain);
    - otherwise (BIOS, or EFI without redirection): `console serial` - VGA and the serial line, once each.
    """
    if list(requested) != [AUTO_TERMINAL]:
        return list(requested), "as requested"
    devices = [c.split(",", 1)[0] for c in consoles]
    serial = [d for d in devices if TTY_RE.match(d)]
    if serial and all(d.startswith("hvc") for d in serial):
        return ["console"], "the serial console is a virtio console (%s), which GRUB cannot draw on" % serial[-1]
    if efi_booted and conout is not None and device_path_has_uart(conout):
        return ["console"], "the EFI firmware mirrors its console (ConOut) onto a UART"
    if efi_booted and EDK2_VENDOR_RE.match((firmware_vendor or "").strip()):
        return ["console"], "the EFI firmware is EDK II's (%s), which mirrors its console onto every serial port" % (
            firmware_vendor.strip()
        )
    if efi_booted:
        return ["console", "serial"], "EFI firmware without a UART in its console (ConOut)"
    return ["console", "serial"], "BIOS firmware"


def port_serial_command(serial_cmd, unit, grub_platforms):
    """GRUB's serial command for the installed GRUB platforms: on arm64-efi (and other EFI-only ports) GRUB names
    serial ports efi0, efi1 ..., and ``--unit=0`` fails with "serial port `com0' isn't found". Where GRUB for a PC
    BIOS is installed, a port other than 0 is named by its I/O address (``--port=0x2f8`` for ttyS1): that GRUB
    counts units in the BIOS data area, which lists only the ports present (see _console_settings.PC_UART_PORTS).
    Port 0 keeps ``--unit=0``: it is the first port whenever it exists."""
    if any(pl in EFI_ONLY_SERIAL_PLATFORMS for pl in grub_platforms):
        words = [w for w in serial_cmd.split() if not w.startswith("--unit=")]
        return " ".join(words + ["efi%d" % unit])
    if PC_BIOS_PLATFORM in grub_platforms and 0 < unit < len(PC_UART_PORTS):
        words = serial_cmd.split()
        return " ".join("--port=0x%x" % PC_UART_PORTS[unit] if w.startswith("--unit=") else w for w in words)
    return serial_cmd


def loader_info(data):
    """The boot loader that started this boot, from the LoaderInfo variable's value (attributes stripped)."""
    try:
        return data.decode("utf-16-le").split("\x00", 1)[0].strip()
    except (UnicodeDecodeError, AttributeError):
        return ""


def booted_without_grub(loader):
    """A refusal message when the running boot did not come through GRUB (systemd-boot sets LoaderInfo; GRUB
    does not), so that GRUB's files - even if GRUB is installed too - would not be read at the next boot."""
    if loader and not loader.lower().startswith("grub"):
        return (
            "this guest was booted by %s, not GRUB: GRUB's files would not be read at boot, so nothing was changed. "
            "Its kernel command line comes from /etc/kernel/cmdline and the loader entries; skip the GRUB part "
            "(role grub: grub_missing_ok) and set console= there" % loader
        )
    return None
