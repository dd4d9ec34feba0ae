# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What domain_serial and domain_vnc were asked for: option grammars, checked before anything is read.

Pure (no AnsibleModule, no libvirt). ``validate_serial_spec`` / ``validate_vnc_spec`` turn module parameters into a
frozen ``SerialSpec`` / ``VncSpec`` or raise ``SpecError`` naming the option; ``None`` in a spec means "not given"
(the device keeps what it has). What depends on one domain (its platform, its existing device) is decided by the
planners, ``_serial_plan`` and ``_vnc_plan``. The exposure policy itself lives in ``_exposure``.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field, replace

from ansible_collections.ttyfleet.serial_console.plugins.module_utils import _exposure as exposure
from ansible_collections.ttyfleet.serial_console.plugins.module_utils._domain_doc import PlanError

SERIAL_PORTS = (0, 1, 2, 3)
SERIAL_TARGET_TYPES = ("isa-serial", "pci-serial", "system-serial", "virtio")
SERIAL_MODELS = ("isa-serial", "pci-serial", "pl011")
SOURCE_TYPES = ("pty", "file", "tcp", "unix")
SOURCE_MODES = ("bind", "connect")
PROTOCOLS = ("raw", "telnet")
VNC_PASSWORD_MAX = 8  # libvirt 9.0 rejects longer ones; older QEMU silently used only 8 bytes
VNC_PORT_MIN = 5900
TCP_PORT_MAX = 65535
LISTEN_SOCKET = "socket"  # domain_vnc listen values besides an IP address
LISTEN_NONE = "none"
VALID_TO_FORMAT = "%Y-%m-%dT%H:%M:%S"  # libvirt's passwdValidTo, UTC
# Per-domain placeholders in log_file and source_path; nothing else in braces is allowed in those paths.
PATH_PLACEHOLDERS = ("{name}", "{uuid}")
_PLACEHOLDER_RE = re.compile(r"\{(?:name|uuid)\}")
_BRACED_RE = re.compile(r"\{[^{}/]*\}")

# The model each serial target type has; a model is only accepted with its own type.
DEFAULT_MODEL = {"isa-serial": "isa-serial", "pci-serial": "pci-serial", "system-serial": "pl011"}


class SpecError(ValueError):
    """The requested settings are invalid; raised before anything is read or written."""


def _int(value, what):
    if isinstance(value, bool):
        raise SpecError("%s must be an integer, got %r" % (what, value))
    try:
        return int(value)
    except (TypeError, ValueError):
        raise SpecError("%s must be an integer, got %r" % (what, value)) from None


@dataclass(frozen=True)
class SerialSpec:
    """domain_serial options. None means "not given": an existing device keeps what it has there, a new one
    gets the default (pty, bind, raw, no log, the platform's serial type). log_file "" removes the log."""

    state: str = "present"
    port: int = 0
    target_type: str | None = None
    model: str | None = None
    source_type: str | None = None
    source_path: str | None = None
    source_host: str | None = None
    source_port: int | None = None
    source_mode: str | None = None
    protocol: str | None = None
    source_tls: bool | None = None
    allow_remote_source: bool = False
    log_file: str | None = None
    log_append: bool | None = None

    @property
    def virtio(self):
        return self.target_type == "virtio"

    @property
    def label(self):
        if self.virtio:
            return "virtio console port %d (hvc%d)" % (self.port, self.port)
        return "serial port %d" % self.port

    @property
    def per_domain(self):
        """Whether a path has a placeholder, so that the spec must be resolved for each domain."""
        return any(v and "{" in v for v in (self.log_file, self.source_path))

    @property
    def needs_uuid(self):
        return any(v and "{uuid}" in v for v in (self.log_file, self.source_path))

    def for_domain(self, name, uuid=None):
        """This spec with {name} and {uuid} filled in for one domain: string replacement only, so resolving
        it for a thousand domains costs nothing next to reading their XML. PlanError for a name that cannot
        be one path component."""
        if not self.per_domain:
            return self
        if "/" in name or name in (".", "..") or "\0" in name:
            raise PlanError("the domain name %r cannot be put into a path ({name})" % name)
        resolved = {}
        for attr in ("log_file", "source_path"):
            value = getattr(self, attr)
            if value and "{" in value:
                resolved[attr] = value.replace("{name}", name).replace("{uuid}", uuid or "")
        return replace(self, **resolved)


def _check_path_template(value, what):
    """A path option may hold {name} and {uuid}; any other brace is a mistake, reported before any read."""
    if "{" not in value and "}" not in value:
        return
    rest = _PLACEHOLDER_RE.sub("", value)
    if "{" not in rest and "}" not in rest:
        return
    unknown = _BRACED_RE.search(rest)
    if unknown:
        raise SpecError("%s %r has an unknown placeholder %s; only {name} (the domain name) and {uuid} are "
                        "replaced" % (what, value, unknown.group(0)))
    raise SpecError("%s %r has a stray brace; braces may only enclose the placeholders {name} and {uuid}"
                    % (what, value))


def _has_placeholder(value):
    return bool(value) and any(p in value for p in PATH_PLACEHOLDERS)


def _some(names, limit=5):
    shown = ", ".join(names[:limit])
    return shown + (" and %d more" % (len(names) - limit) if len(names) > limit else "")


def shared_source_problem(spec, names):
    """Why one serial spec cannot serve all the selected domains at once, or None.

    A log file or a file source written by several QEMUs, a UNIX socket or a TCP port that several of them
    listen on: only the first domain to start would work (or they would overwrite each other's output).
    Connecting to one server (source_mode connect) is fine for any number of domains."""
    if spec.state != "present" or len(names) < 2:
        return None
    count, who = len(names), _some(names)
    problems = []
    if spec.log_file and not _has_placeholder(spec.log_file):
        problems.append("log_file %s would be shared by %d domains (%s); put {name} in it, for example "
                        "/var/log/libvirt/qemu/{name}-serial%d.log" % (spec.log_file, count, who, spec.port))
    bind = spec.source_mode in (None, "bind")  # None: bind for a new device; counted as bind to be safe
    if spec.source_type == "file" or (spec.source_type == "unix" and bind):
        if not _has_placeholder(spec.source_path):
            problems.append("source_path %s would be shared by %d domains (%s); put {name} in it"
                            % (spec.source_path, count, who))
    if spec.source_type == "tcp" and bind:
        problems.append("a tcp source with source_mode bind listens on %s:%s, which can serve one domain, not "
                        "%d (%s); give each domain its own source_port in its own task, or use source_mode "
                        "connect" % (spec.source_host, spec.source_port, count, who))
    return "; ".join(problems) or None


def _choice(p, key, choices):
    value = p.get(key)
    if value is not None and value not in choices:
        raise SpecError("%s must be one of %s, got %r" % (key, ", ".join(choices), str(value)[:40]))
    return value


def validate_serial_spec(params):
    """Check and normalise domain_serial options. Raise SpecError with a precise message. What depends on the
    domain (its platform, the existing device) is checked in plan_serial."""
    p = dict(params)
    state = p.get("state") or "present"
    if state not in ("present", "absent"):
        raise SpecError("state must be present or absent, got %r" % state)
    port = _int(p.get("port", 0) if p.get("port") is not None else 0, "port")
    if port not in SERIAL_PORTS:
        raise SpecError("port must be between 0 and 3 (ttyS0-ttyS3), got %d" % port)
    target_type = _choice(p, "target_type", SERIAL_TARGET_TYPES)
    if state == "absent":
        return SerialSpec(state=state, port=port, target_type="virtio" if target_type == "virtio" else None)
    model = _choice(p, "model", SERIAL_MODELS)
    source_type = _choice(p, "source_type", SOURCE_TYPES)
    source_mode = _choice(p, "source_mode", SOURCE_MODES)
    protocol = _choice(p, "protocol", PROTOCOLS)
    path, host, sport = p.get("source_path"), p.get("source_host"), p.get("source_port")
    log_file, log_append = p.get("log_file"), p.get("log_append")
    tls = p.get("source_tls")
    opt_in = bool(p.get("allow_remote_source"))
    if model is not None:
        if target_type is None:
            raise SpecError("model needs target_type as well (%s)" % ", ".join(
                "%s for %s" % (m, t) for t, m in DEFAULT_MODEL.items()))
        if DEFAULT_MODEL.get(target_type) != model:
            raise SpecError("model %s does not fit target_type %s (use %s)" % (
                model, target_type, DEFAULT_MODEL.get(target_type, "no model")))
    given = [k for k in ("source_path", "source_host", "source_port", "source_mode", "protocol", "source_tls")
             if p.get(k) is not None]
    if given and source_type is None:
        raise SpecError("%s %s only used together with source_type" % (
            ", ".join(given), "is" if len(given) == 1 else "are"))
    if source_type in ("file", "unix"):
        if not path:
            raise SpecError("source_type %s needs source_path" % source_type)
        _check_path(path, "source_path")
    elif path:
        raise SpecError("source_path is only used with source_type file or unix, not %s" % source_type)
    if source_type == "tcp":
        if not host or sport is None:
            raise SpecError("source_type tcp needs source_host and source_port")
        sport = _int(sport, "source_port")
        if not 1 <= sport <= TCP_PORT_MAX:
            raise SpecError("source_port must be between 1 and 65535, got %d" % sport)
        addr = exposure.classify(host)
        if addr.kind == exposure.INVALID:
            raise SpecError("source_host %r is not a host name or address (%s)" % (str(host)[:80], addr.note))
        problem = exposure.exposure_problem(host, "source_host", opt_in, "allow_remote_source",
                                            tls is not False, "source_tls", "the serial console")
        if problem:
            raise SpecError(problem)
        host = addr.address or host
    elif host or sport is not None:
        raise SpecError("source_host and source_port are only used with source_type tcp, not %s" % source_type)
    if protocol and source_type != "tcp":
        raise SpecError("protocol is only used with source_type tcp")
    if tls is not None and source_type != "tcp":
        raise SpecError("source_tls is only used with source_type tcp")
    if source_mode and source_type not in ("tcp", "unix"):
        raise SpecError("source_mode is only used with source_type tcp or unix")
    if log_file is not None and log_file != "":
        _check_path(str(log_file), "log_file")
    if log_file == "" and log_append is not None:
        raise SpecError("log_append cannot be used with log_file \"\" (which removes the log)")
    return SerialSpec(state=state, port=port, target_type=target_type, model=model, source_type=source_type,
                      source_path=path, source_host=host if source_type == "tcp" else None,
                      source_port=sport if source_type == "tcp" else None, source_mode=source_mode,
                      protocol=protocol, source_tls=None if tls is None else bool(tls), allow_remote_source=opt_in,
                      log_file=None if log_file is None else str(log_file),
                      log_append=None if log_append is None else bool(log_append))


_PATH_MAX = 4096


def _check_path(value, what):
    """An absolute path without control characters, '..' components or unknown placeholders."""
    if not value.startswith("/"):
        raise SpecError("%s must be an absolute path, got %r" % (what, value[:80]))
    if len(value) > _PATH_MAX or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise SpecError("%s must be a path of at most %d characters without control characters"
                        % (what, _PATH_MAX))
    if ".." in value.split("/"):
        raise SpecError("%s must not contain '..' components, got %r" % (what, value[:80]))
    _check_path_template(value, what)


@dataclass(frozen=True)
class VncSpec:
    """domain_vnc options. None means "not given": the device keeps what it has (a new device gets 127.0.0.1,
    autoport). An empty keymap / password_valid_to or websocket 0 removes that setting."""

    state: str = "present"
    listen: str | None = None  # an IP (normalised), LISTEN_SOCKET, LISTEN_NONE, or None
    allow_remote_listen: bool = False
    replace_private_listen: bool = False
    port: int | None = None
    websocket: int | None = None
    keymap: str | None = None
    password: str | None = field(default=None, repr=False)
    password_valid_to: str | None = None
    now: str = ""  # UTC, libvirt's format; a passwdValidTo before it has expired

    @property
    def tcp_listen(self):
        return self.listen not in (LISTEN_SOCKET, LISTEN_NONE)


def _vnc_port(value, what):
    value = _int(value, what)
    if value != -1 and not VNC_PORT_MIN <= value <= TCP_PORT_MAX:
        raise SpecError("%s must be -1 (automatic) or between 5900 and 65535, got %d" % (what, value))
    return value


def _utc_now():
    return datetime.datetime.now(datetime.timezone.utc).strftime(VALID_TO_FORMAT)


def _valid_to(value):
    """passwdValidTo in libvirt's form (UTC, YYYY-MM-DDTHH:MM:SS); accepts a Z or +HH:MM suffix."""
    text = str(value).strip()
    m = re.match(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(Z|[+-]\d{2}:\d{2})?\Z", text)
    if not m:
        raise SpecError("password_valid_to must be an ISO 8601 time like 2026-12-31T23:59:59 (UTC) or with Z or "
                        "+01:00, got %r" % text[:40])
    try:
        when = datetime.datetime.strptime(m.group(1), VALID_TO_FORMAT)
    except ValueError:
        raise SpecError("password_valid_to %r is not a valid date and time" % text[:40]) from None
    if m.group(2) and m.group(2) != "Z":
        sign = 1 if m.group(2)[0] == "+" else -1
        hours, minutes = int(m.group(2)[1:3]), int(m.group(2)[4:6])
        when -= sign * datetime.timedelta(hours=hours, minutes=minutes)
    return when.strftime(VALID_TO_FORMAT)


def validate_vnc_spec(params):
    """Check and normalise domain_vnc options. Never put the password into a message.

    What depends on the domain (its current password, a socket/none listen) is decided in plan_vnc."""
    p = dict(params)
    state = p.get("state") or "present"
    if state not in ("present", "absent"):
        raise SpecError("state must be present or absent, got %r" % state)
    if state == "absent":
        return VncSpec(state=state)
    now = p.get("_now") or _utc_now()
    opt_in = bool(p.get("allow_remote_listen") or p.get("allow_wildcard_listen"))
    password = p.get("password")
    if password is not None:
        if not isinstance(password, str):
            raise SpecError("password must be a string")
        if not password:
            raise SpecError("password must not be empty (an empty VNC password locks everybody out); "
                            "omit it to keep the current one")
        if len(password) > VNC_PASSWORD_MAX:
            raise SpecError("password is %d characters long; VNC allows at most %d"
                            % (len(password), VNC_PASSWORD_MAX))
        if any(ord(c) < 32 or ord(c) == 127 for c in password):
            raise SpecError("password must not contain control characters")
    listen = p.get("listen")
    if listen is not None:
        listen = str(listen).strip()
        if listen not in (LISTEN_SOCKET, LISTEN_NONE):
            addr = exposure.classify(listen)
            if addr.kind in (exposure.HOSTNAME, exposure.INVALID):
                raise SpecError("listen must be an IP address (for example 127.0.0.1 or ::1), socket or none; "
                                "got %r, %s%s" % (listen[:80], addr.note, ", and libvirt would only fail at start"
                                                  if addr.kind == exposure.HOSTNAME else ""))
            problem = exposure.exposure_problem(listen, "listen", opt_in, "allow_remote_listen", True, "password",
                                                "VNC")
            if problem:
                raise SpecError(problem)
            listen = addr.address
    port = p.get("port")
    websocket = p.get("websocket")
    if port is not None:
        port = _vnc_port(port, "port")
    if websocket is not None:
        websocket = _int(websocket, "websocket")
        if websocket != -1 and websocket != 0 and not VNC_PORT_MIN <= websocket <= TCP_PORT_MAX:
            raise SpecError("websocket must be -1 (automatic), between 5900 and 65535, or 0 to remove it, got %d"
                            % websocket)
    if listen in (LISTEN_SOCKET, LISTEN_NONE) and (port is not None or websocket not in (None, 0)):
        raise SpecError("port and websocket are only used with a TCP listen, not listen %s" % listen)
    keymap = p.get("keymap")
    if keymap is not None:
        keymap = str(keymap)
        if keymap and not re.match(r"^[A-Za-z]{2,3}(-[A-Za-z]{2,3})?\Z", keymap):
            raise SpecError("keymap must look like en-us or de (or \"\" to remove it), got %r" % keymap[:40])
    valid_to = p.get("password_valid_to")
    if valid_to is not None:
        valid_to = _valid_to(valid_to) if str(valid_to) != "" else ""
        if valid_to and valid_to <= now:
            raise SpecError("password_valid_to %s is not in the future (now %s UTC): the password would be dead on "
                            "arrival" % (valid_to, now))
    return VncSpec(state=state, listen=listen, allow_remote_listen=opt_in,
                   replace_private_listen=bool(p.get("replace_private_listen")), port=port, websocket=websocket,
                   keymap=keymap, password=password, password_valid_to=valid_to, now=now)
