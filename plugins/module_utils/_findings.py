# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The audit's findings: one table of finding kinds, and the checks that find them. Pure: data in, data out.

A finding is a plain dict ``{side, kind, detail, fix}``: what is wrong with one guest's console chain, in words,
and what to run about it. ``TABLE`` lists every kind, in the order findings are reported; each entry carries its
side (``host``: the domain on its hypervisor; ``guest``: inside the guest), whether it counts as drift for the CI
gate, one line of meaning (docs/fleet.md and the reports quote it), its default fix and its check. Adding a kind is
one entry in ``TABLE`` (plus its check function above it). Over 400 lines on purpose: the table and one check
per kind are one concern, and splitting the checks from their table entries would give a kind two homes.

Inputs (all plain data, as the modules return them):

``settings``
    The fleet's console settings for this guest: ``port`` (0-3; the tty is ``ttyS<port>``), ``speed``, ``word``,
    ``parity``, ``stop``, ``vnc`` (whether the fleet manages VNC), ``vnc_listen`` and ``logging`` (whether the fleet
    keeps console logs: only then are ``console_not_logged`` and ``console_log_unbounded`` judged; opt-in).
``info``
    The guest's domain's entry of ``domain_console_info`` (its ``config`` key is the persistent config).
``serial`` / ``vnc``
    The domain's entries of ``domain_serial`` / ``domain_vnc`` run in check mode with the fleet settings (what a
    rollout would change), or None where not run.
``logging``
    How the domain's hypervisor bounds console logs: ``console_log``'s ``logging`` (``stdio_handler``, ``max_size``,
    ``max_backups``, ``bounded``), read once per hypervisor; None where not known.
``guest``
    What the guest side read (one dict; see ``guest_findings``).

Functions: ``domain_findings`` (host side), ``guest_findings`` (guest side), ``unreadable`` / ``unreachable``
(the findings for a hypervisor or guest that could not be read), ``is_drift``, and ``chain`` (the doctor's links,
made of the same findings).
"""

from __future__ import annotations

from collections import namedtuple

from ansible_collections.ttyfleet.serial_console.plugins.module_utils import _console_log, _exposure
from ansible_collections.ttyfleet.serial_console.plugins.module_utils import _console_settings as cs

HOST = "host"
GUEST = "guest"

Kind = namedtuple("Kind", "name side drift means fix check")


class Context:
    """What the checks of one guest read: the settings and the modules' answers, with the derived strings."""

    def __init__(self, settings, info=None, serial=None, vnc=None, guest=None, host_ports=None, logging=None):
        s = dict(settings or {})
        self.port = int(s.get("port", 0))
        self.tty = cs.tty_of_port(self.port)
        self.speed = int(s.get("speed", 115200))
        self.word = int(s.get("word", 8))
        self.parity = s.get("parity", "no")
        self.stop = int(s.get("stop", 1))
        self.vnc_managed = bool(s.get("vnc", True))
        self.vnc_listen = s.get("vnc_listen", "127.0.0.1")
        self.logging_kept = bool(s.get("logging", False))
        self.logging = logging
        self.console = cs.kernel_console(self.tty, self.speed, self.word, self.parity)
        self.serial_cmd = cs.serial_command(self.port, self.speed, self.word, self.parity, self.stop)
        self.info = info or {}
        self.serial = serial or {}
        self.vnc = vnc or {}
        self.guest = guest or {}
        self.host_ports = None if host_ports is None else [int(p) for p in host_ports]

    @property
    def active(self):
        return bool(self.info.get("active"))

    @property
    def config(self):
        """The persistent devices; for a domain that is not running, what it shows is its config."""
        config = self.info.get("config")
        return config if config is not None else ({} if self.active else self.info)

    def fmt(self, text):
        return text.format(port=self.port, tty=self.tty, console=self.console, vnc_listen=self.vnc_listen)


# --------------------------------------------------------------------------------------------- host side checks


def _serial_console(ctx):
    if ctx.serial.get("changed"):
        return ["the domain config lacks serial port %d with its console: %s"
                % (ctx.port, "; ".join(ctx.serial.get("changes") or []))]
    return []


def _restart_pending(ctx):
    if ctx.info.get("restart_pending"):
        return ["the running domain differs from its config: %s" % "; ".join(ctx.info.get("pending_changes") or [])]
    return []


def _copies(ctx):
    """(words, devices) for the live devices of a running domain and the persistent ones."""
    if ctx.active:
        return [("listens now on", ctx.info), ("is set to listen from the next start on", ctx.config)]
    return [("is set to listen on", ctx.config)]


def _exposures(ctx, describe):
    """One detail per exposed listener, a listener exposed in both copies once (in the words of the live one)."""
    seen, details = set(), []
    for words, devices in _copies(ctx):
        for key, text in describe(devices or {}, words):
            if key not in seen:
                seen.add(key)
                details.append(text)
    return details


def _serial_listeners(devices, words):
    for kind in ("serials", "consoles"):
        for dev in devices.get(kind) or []:
            if kind == "consoles" and dev.get("target_type") in (None, "serial"):
                continue  # libvirt's mirror of a serial port: reported with the serial
            if dev.get("type") not in ("tcp", "udp") or dev.get("source_mode") != "bind":
                continue  # a client connects out; only a bound socket listens
            host = dev.get("source_host")
            address = host if host else "0.0.0.0"  # QEMU binds every interface when no host is given
            if not _exposure.is_exposed(address):
                continue
            what = "%s %s" % ("serial port" if kind == "serials" else "%s console" % dev.get("target_type"),
                              dev.get("target_port"))
            yield ((kind, dev.get("target_port"), address, dev.get("source_port")),
                   "%s (%s %s) %s %s port %s%s: a root console for anyone who can reach it"
                   % (what, dev.get("type"), dev.get("protocol") or "raw", words, _exposure.describe(address),
                      dev.get("source_port"), "" if host else " (no host given)"))


def _serial_exposed(ctx):
    return _exposures(ctx, _serial_listeners)


def _graphics_listeners(gtype, accepted=None):
    def listeners(devices, words):
        g = devices.get(gtype)
        if not g or g.get("listen_type") not in ("address", "network"):
            return  # socket/none: nothing listens on the network; no listen: qemu.conf's (loopback by default)
        if g["listen_type"] == "network":
            address, shown = None, "the addresses of libvirt network %s (beyond loopback)" % g.get("listen_network")
        else:
            address = g.get("listen")
            if address is None or not _exposure.is_exposed(address):
                return
            shown = _exposure.describe(address)
        password = g.get("password_set")
        if accepted and accepted(address, password):
            return
        yield ((gtype, address), "%s %s %s %s" % (
            gtype.upper() if gtype == "vnc" else "SPICE", words, shown,
            "with a password" if password else ("WITHOUT a password" if password is False
                                                else "(password unknown: read-only connection)")))
    return listeners


def _vnc_accepted(ctx):
    # the fleet's own choice of listen address, with a password, is what a rollout would set: not an exposure
    return lambda address, password: bool(password) and address == ctx.vnc_listen


def _vnc_exposed(ctx):
    return _exposures(ctx, _graphics_listeners("vnc", _vnc_accepted(ctx)))


def _spice_exposed(ctx):
    return _exposures(ctx, _graphics_listeners("spice"))


def _vnc(ctx):
    if ctx.vnc.get("changed") and not _vnc_exposed(ctx):
        return ["VNC differs from the fleet settings: %s" % "; ".join(ctx.vnc.get("changes") or [])]
    return []


def _logged(ctx):
    """(path, why not) of the file that logs the fleet's serial port in the domain config; (None, None) when the
    config has no such port (serial_console reports that) or the fleet keeps no console logs."""
    if not ctx.logging_kept:
        return None, None
    if not any(d.get("target_port") == ctx.port for d in ctx.config.get("serials") or []):
        return None, None
    return _console_log.log_path(ctx.config, ctx.port)


def _console_not_logged(ctx):
    path, why_not = _logged(ctx)
    if path is None and why_not is not None:
        dev = next(d for d in ctx.config["serials"] if d.get("target_port") == ctx.port)
        return ["serial port %d (%s) has no <log file>: what it prints is lost unless someone is attached"
                % (ctx.port, dev.get("type"))]
    return []


def _console_log_unbounded(ctx):
    path, _why_not = _logged(ctx)
    logging = ctx.logging or {}
    if path is not None and logging.get("bounded") is False:
        return ["%s grows without limit: the hypervisor's qemu.conf has stdio_handler = \"%s\", so QEMU writes it "
                "itself and virtlogd never rotates it (max_size %s, max_backups %s apply only with logd)"
                % (path, logging.get("stdio_handler"), logging.get("max_size"), logging.get("max_backups"))]
    return []


def _domain_not_running(ctx):
    if ctx.info.get("state") is not None and not ctx.active:
        return ["the domain is %s: its guest cannot be audited" % ctx.info["state"]]
    return []


# -------------------------------------------------------------------------------------------- guest side checks
#
# ``guest`` holds: init, tty {live, uart_type}, boot {grub}, proc_cmdline, pam_securetty {active, file,
# securetty_exists, securetty} (guest_console_facts); grub_cfg (None, or {path, serial_command, terminal_output,
# terminal_input, entries, consoles_default_entry, entries_without_console}: the generated grub.cfg), default_grub
# (None, or the GRUB_* values as grub-mkconfig sources them) and getty {processes, systemd_active, enabled_by}


def _consoles(text):
    return [a.split("=", 1)[1] for a in (text or "").split() if a.startswith("console=")]


_tty_of = cs.console_tty


def _ttys(consoles):
    return [_tty_of(c) for c in consoles]


def _running(ctx):
    return _consoles(ctx.guest.get("proc_cmdline"))


def _configured(ctx):
    cfg = ctx.guest.get("grub_cfg")
    return list(cfg.get("consoles_default_entry") or []) if cfg else []


def _uart_missing(ctx):
    tty = ctx.guest.get("tty") or {}
    if not tty.get("live"):
        return ["the guest has no UART at %s (sysfs type %s): the domain gives it no serial port yet"
                % (ctx.tty, tty.get("uart_type"))]
    return []


def _grub_terminal(ctx):
    cfg = ctx.guest.get("grub_cfg")
    if cfg is None:
        if (ctx.guest.get("boot") or {}).get("grub") == "grub2":
            return [("GRUB 2 is installed but no grub.cfg was found", "run the guest role (it regenerates grub.cfg)")]
        return []
    term_ok = "serial" in (cfg.get("terminal_output") or []) and "serial" in (cfg.get("terminal_input") or [])
    serial_ok = cfg.get("serial_command") is not None
    if term_ok and serial_ok:
        return []
    src = ctx.guest.get("default_grub") or {}
    terminal = src.get("GRUB_TERMINAL") or src.get("GRUB_TERMINAL_OUTPUT") or ""
    stale = "serial" in terminal.split()
    return [("%s: terminal_output %s, %s; %s" % (
        cfg.get("path"), " ".join(cfg.get("terminal_output") or []) or "(none)",
        "serial command '%s'" % cfg["serial_command"] if serial_ok else "no serial command",
        "GRUB_TERMINAL in /etc/default/grub* has serial, so grub.cfg is stale" if stale
        else "GRUB_TERMINAL in /etc/default/grub* is '%s'" % (src.get("GRUB_TERMINAL") or "")),
        "run update-grub" if stale else None)]


def _kernel_console_config(ctx):
    cfg = ctx.guest.get("grub_cfg")
    if cfg is None:
        return []
    configured = _configured(ctx)
    if ctx.tty not in _ttys(configured) or cfg.get("entries_without_console"):
        return ["%s: the default entry's console= arguments are [%s]; %d of %d entries lack console=%s"
                % (cfg.get("path"), " ".join(configured), cfg.get("entries_without_console") or 0,
                   cfg.get("entries") or 0, ctx.tty)]
    return []


def _grub_unit(ctx):
    cmd = (ctx.guest.get("grub_cfg") or {}).get("serial_command")
    return cmd, cs.grub_unit_of(cmd)


def _port_mismatch(ctx):
    found = []
    cmd, unit = _grub_unit(ctx)
    path = (ctx.guest.get("grub_cfg") or {}).get("path")
    if unit is not None and unit != ctx.port:
        found.append("%s: GRUB uses serial unit %d, the fleet's port is %d ('%s')" % (path, unit, ctx.port, cmd))
    if ctx.host_ports is not None:
        ports = sorted({p for p in (cs.tty_port(t) for t in _ttys(_configured(ctx) + _running(ctx))) if p is not None})
        stray = [p for p in ports if p not in ctx.host_ports]
        if stray:
            found.append("the guest kernel uses console=%s but the domain has serial port(s) [%s]"
                         % (",".join("ttyS%d" % p for p in stray), ",".join(str(p) for p in ctx.host_ports)))
    return found


def _speed_mismatch(ctx):
    found = []
    cmd, unit = _grub_unit(ctx)
    # the line settings, not the text: the port is named per GRUB platform (--unit, --port=0x2f8, efi0)
    if cmd is not None and cs.serial_line_words(cmd) != cs.serial_line_words(ctx.serial_cmd) and (
            unit is None or unit == ctx.port):
        found.append("%s: '%s', wanted '%s'" % ((ctx.guest.get("grub_cfg") or {}).get("path"), cmd, ctx.serial_cmd))
    # the line settings must agree everywhere: kernel (configured and running), GRUB and the fleet variables
    for where, consoles in (("grub.cfg", _configured(ctx)), ("/proc/cmdline", _running(ctx))):
        for c in consoles:
            if _tty_of(c) == ctx.tty and c != ctx.console and "," in c:
                found.append("%s has console=%s, the fleet wants console=%s" % (where, c, ctx.console))
    return found


def _kernel_console_running(ctx):
    running = _running(ctx)
    if ctx.tty in _ttys(running):
        return []
    pending = ctx.tty in _ttys(_configured(ctx))
    return [("/proc/cmdline has console=[%s], no %s%s" % (
        " ".join(running), ctx.tty, " (configured for the next boot: a restart is pending)" if pending else ""),
        "power-cycle the domain (or reboot the guest) to boot with console=%s" % ctx.console if pending else None)]


def _getty(ctx):
    getty = ctx.guest.get("getty") or {}
    init = ctx.guest.get("init")
    active = getty.get("systemd_active")
    if not getty.get("processes") and active != "active":
        return [("no getty listens on %s (%s)" % (
            ctx.tty, "systemd: serial-getty@%s.service is %s" % (ctx.tty, active) if active
            else "no getty process on it"),
            ("systemctl enable --now serial-getty@%s.service" % ctx.tty if init == "systemd"
             else "add a respawn getty line for %s to /etc/inittab and run telinit q" % ctx.tty)
            + " (or run the guest role)")]
    # guest_console_info: enabled_by says how a getty starts at the next boot (unit, generator, inittab, upstart)
    if not getty.get("enabled_by", getty.get("enabled")) and init in ("systemd", "sysvinit", "upstart"):
        return ["a getty runs on %s now but nothing starts it at the next boot" % ctx.tty]
    return []


def _securetty(ctx):
    pam = ctx.guest.get("pam_securetty") or {}
    running = _running(ctx)
    if pam.get("active") and pam.get("securetty_exists") and ctx.tty not in (pam.get("securetty") or []):
        # pam_securetty also lets root in on the tty that is /dev/console (the last console=), unless noconsole
        if not (running and _tty_of(running[-1]) == ctx.tty):
            return ["pam_securetty is active (%s) and /etc/securetty lacks %s: root cannot log in there"
                    % (pam.get("file"), ctx.tty)]
    return []


# ------------------------------------------------------------------------------------------------------- table

TABLE = (
    Kind("host_unreadable", HOST, True,
         "the hypervisor or the domain could not be read (the gate cannot vouch for it)",
         "check the hypervisor, its libvirt URI and the domain name", None),
    Kind("serial_console", HOST, True,
         "the domain config lacks serial port N with its console (or has another kind of device there)",
         "run the rollout (domain_serial port={port}), then power-cycle the domain", _serial_console),
    Kind("restart_pending", HOST, True,
         "the running domain's serial/console/graphics differ from its config (a cold restart applies them)",
         "power-cycle the domain (ACPI shutdown, then start; a guest reboot is not enough)", _restart_pending),
    Kind("serial_exposed", HOST, True,
         "a serial port or console is a TCP/UDP socket bound beyond loopback (live or from the config), "
         "with the address", "bind it to 127.0.0.1 (domain_serial source_host=127.0.0.1), then power-cycle the domain",
         _serial_exposed),
    Kind("vnc_exposed", HOST, True,
         "VNC listens beyond loopback without a password, or on another address than the fleet's; live or from the "
         "config at the next start, with the address",
         "run the rollout (domain_vnc listen={vnc_listen}), then power-cycle the domain", _vnc_exposed),
    Kind("spice_exposed", HOST, True,
         "SPICE listens beyond loopback (live or from the config at the next start), with the address",
         "make SPICE listen on 127.0.0.1 or a socket (virsh edit), then power-cycle the domain", _spice_exposed),
    Kind("vnc", HOST, True, "the VNC device differs from the fleet's settings otherwise (missing, port, keymap...)",
         "run the rollout (domain_vnc)", _vnc),
    Kind("console_not_logged", HOST, True,
         "with serial_console_logging: the fleet's serial port has no `<log file>` and is no file chardev "
         "(its output is lost)",
         "give the port a log file (domain_serial port={port} "
         "log_file=/var/log/libvirt/qemu/<domain>-serial{port}.log, see the role console_logging), then power-cycle "
         "the domain", _console_not_logged),
    Kind("console_log_unbounded", HOST, True,
         "with serial_console_logging: the console is logged, but the hypervisor's virtlogd does not bound the log "
         "(qemu.conf stdio_handler is not logd)",
         "run the role console_logging on the hypervisor (stdio_handler logd, max_size, max_backups), then "
         "power-cycle the domain", _console_log_unbounded),
    Kind("domain_not_running", HOST, False, "note only, not drift: the guest side could not be audited",
         "start the domain (console_prompt power=start shows its console from the first byte)", _domain_not_running),
    Kind("guest_unreachable", GUEST, True,
         "the guest could not be read (counts as drift: the gate cannot vouch for it)",
         "check ssh to the guest", None),
    Kind("uart_missing", GUEST, True, "the guest has no UART at ttyS<N> (the domain gives it no serial port yet)",
         "add the serial device on the hypervisor (domain_serial) and power-cycle the domain "
         "(shutdown + start; a guest reboot is not enough)", _uart_missing),
    Kind("grub_terminal", GUEST, True,
         "the generated grub.cfg lacks the serial terminal/serial command "
         "(the fix says whether grub.cfg is just stale)",
         "run the guest role (grub: GRUB_TERMINAL='console serial')", _grub_terminal),
    Kind("kernel_console_config", GUEST, True, "grub.cfg's entries lack `console=ttyS<N>`",
         "run the guest role (grub: console={console})", _kernel_console_config),
    Kind("port_mismatch", GUEST, True,
         "the guest's kernel console or GRUB unit is on a port the domain does not have / the fleet does not use",
         "set one serial_console_port for host and guest and run the rollout", _port_mismatch),
    Kind("speed_mismatch", GUEST, True,
         "GRUB's or the kernel's line settings differ from `serial_console_speed/word/parity/stop`",
         "run the guest role with the fleet's serial_console_speed/word/parity/stop", _speed_mismatch),
    Kind("kernel_console_running", GUEST, True,
         "`/proc/cmdline` lacks it (configured but not booted yet: a restart is pending)",
         "run the guest role, then power-cycle the domain", _kernel_console_running),
    Kind("getty", GUEST, True, "no getty listens on ttyS<N>, or nothing starts one at the next boot",
         "run the guest role (getty)", _getty),
    Kind("securetty", GUEST, True, "`pam_securetty` is in force and root cannot log in on ttyS<N>",
         "run the guest role (securetty) or add {tty} to /etc/securetty", _securetty),
)

KINDS = {k.name: k for k in TABLE}


def _run(ctx, side):
    findings = []
    for kind in TABLE:
        if kind.side != side or kind.check is None:
            continue
        for found in kind.check(ctx):
            detail, fix = found if isinstance(found, tuple) else (found, None)
            findings.append(finding(kind.name, detail, ctx.fmt(kind.fix) if fix is None else fix))
    return findings


def finding(kind, detail, fix=None):
    """One finding of a kind of the table (unknown kinds are a programming error: KeyError)."""
    k = KINDS[kind]
    return {"side": k.side, "kind": kind, "detail": detail, "fix": k.fix if fix is None else fix}


def domain_findings(settings, info, serial=None, vnc=None, logging=None):
    """The host-side findings of one domain, in table order. ``logging``: its hypervisor's console_log
    ``logging`` (None: not known, so console_log_unbounded is not judged)."""
    return _run(Context(settings, info=info, serial=serial, vnc=vnc if (settings or {}).get("vnc", True) else None,
                        logging=logging), HOST)


def guest_findings(settings, guest, host_ports=None):
    """The guest-side findings of one guest, in table order. ``host_ports``: the serial target ports the running
    domain has (None: not known, so port_mismatch against the host is not judged)."""
    return _run(Context(settings, guest=guest, host_ports=host_ports), GUEST)


def live_ports(info):
    """The serial target ports a running domain's guest can see now (for ``guest_findings``)."""
    if not (info or {}).get("active"):
        return None
    return [s["target_port"] for s in info.get("serials") or [] if isinstance(s.get("target_port"), int)]


def unreadable(message):
    return [finding("host_unreadable", message)]


def unreachable(message, guest):
    return [finding("guest_unreachable", "the guest could not be read: %s" % str(message)[:300],
                    "check ssh to the guest (ansible -m ping %s)" % guest)]


def is_drift(findings):
    return any(KINDS[f["kind"]].drift for f in findings or [])


# ------------------------------------------------------------------------------------------ the doctor's chain

# Links 3-6 and the guest-side kinds that break each (findings come in table order: the first one's fix is offered).
_GUEST_LINKS = (
    ("the guest kernel has console={tty}", ("kernel_console_running", "kernel_console_config", "port_mismatch")),
    ("a getty listens on {tty}", ("getty",)),
    ("GRUB draws on the serial terminal", ("grub_terminal",)),
    ("securetty lets root log in on {tty}", ("securetty",)),
)


def _link(link, status, evidence, fix):
    return {"link": link, "status": status, "evidence": evidence, "fix": fix}


def chain(settings, info, serial, guest_findings, guest_read, guest, domain):
    """The chain a serial login prompt needs, in order, each link ok/broken/unknown with evidence and fix, and
    the first broken one. ``guest_read``: whether the guest side was read (else links 3-6 are unknown)."""
    ctx = Context(settings, info=info, serial=serial)
    gf = list(guest_findings or [])
    ports = live_ports(info) or []
    uart = [f for f in gf if f["kind"] == "uart_missing"]
    links = [_link(
        "domain %s has serial port %d and a console bound to it" % (domain, ctx.port),
        "broken" if ctx.serial.get("changed") else "ok",
        "; ".join(ctx.serial.get("changes") or []) or "present in the config",
        "add them: ansible-playbook ttyfleet.serial_console.rollout --limit %s (or ttyfleet.serial_console."
        "domain_serial name=%s port=%d), then power-cycle the domain" % (guest, domain, ctx.port))]
    if not ctx.active:
        evidence = "the domain is %s" % ctx.info.get("state", "unknown")
    elif ctx.port not in ports:
        evidence = "running without serial port %d (live ports: %s); pending: %s" % (
            ctx.port, ",".join(str(p) for p in ports) or "none",
            "; ".join(ctx.info.get("pending_changes") or []) or "nothing")
    else:
        evidence = uart[0]["detail"] if uart else "running with it; console pty %s" % (ctx.info.get("pty") or "?")
    links.append(_link(
        "the running domain has them and the guest sees a UART at %s" % ctx.tty,
        "broken" if (not ctx.active or ctx.port not in ports or uart) else "ok", evidence,
        "power-cycle the domain: shutdown, wait, start (an isa-serial port appears only after a cold start, not after "
        "a guest reboot); console_prompt power=cycle does exactly that" if ctx.active
        else "start it: console_prompt power=start (watches the console from the first byte)"))
    unread = "the guest could not be read: %s" % ("; ".join(f["detail"] for f in gf) or "domain not running")
    for text, kinds in _GUEST_LINKS:
        found = [f for f in gf if f["kind"] in kinds]
        if not guest_read:
            links.append(_link(ctx.fmt(text), "unknown", unread, ""))
        else:
            links.append(_link(ctx.fmt(text), "broken" if found else "ok",
                               "; ".join(f["detail"] for f in found) or "ok", found[0]["fix"] if found else ""))
    broken = [i for i, link in enumerate(links) if link["status"] == "broken"]
    first = links[broken[0]] if broken else None
    return {
        "links": links,
        "first_broken": first["link"] if first else None,
        "first_broken_index": broken[0] + 1 if broken else None,
        "fix": first["fix"] if first else None,
    }
