# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Pure domain-XML transforms: domain XML text in, domain XML text plus a list of changes out.

No AnsibleModule and no libvirt here (stdlib ``xml.etree`` only), so every rule can be proven with golden files.

What "the same" means: devices are compared by what libvirt keeps in its canonical inactive XML, not by text.
Attributes libvirt adds by itself (``<model name='isa-serial'/>``, ``<listen>`` children, aliases, addresses,
a pty's runtime ``<source path>``) never count as a difference. Only the managed devices are touched; the rest
of the document (foreign-namespace metadata, ``qemu:commandline``, other devices, comments) is carried over.

libvirt mirrors the first ``<serial>`` (document order) as ``<console><target type='serial'/></console>``,
always as the first console, and re-creates either one from the other when one is missing. ``_sync_twin``
models exactly that rule so that a plan predicts libvirt's canonical XML and a second run changes nothing.
"""

from __future__ import annotations

import copy
import datetime
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field, replace

from ansible_collections.ttyfleet.serial_console.plugins.module_utils import _exposure as exposure
from ansible_collections.ttyfleet.serial_console.plugins.module_utils._redact import REDACTED

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

# Where a new device goes when the domain has none of its kind: before the first of these (libvirt sorts
# devices by kind when it formats, so this only keeps our own output readable).
_SERIAL_BEFORE = ("parallel", "console", "channel", "input", "tpm", "graphics", "sound", "audio", "video",
                  "hostdev", "redirdev", "smartcard", "watchdog", "memballoon", "rng", "panic")
_GRAPHICS_BEFORE = ("sound", "audio", "video", "hostdev", "redirdev", "smartcard", "watchdog", "memballoon",
                    "rng", "panic")
_XMLNS_RE = re.compile(r"""xmlns:([A-Za-z_][\w.-]*)\s*=\s*(?:"([^"]*)"|'([^']*)')""")


class DomainXMLError(ValueError):
    """The domain XML itself cannot be parsed or does not look like a domain."""


class SpecError(ValueError):
    """The requested settings are invalid; raised before anything is read or written."""


class PlanError(ValueError):
    """The request cannot be applied to this particular domain (for example duplicate ports already there)."""


class Plan:
    """Result of planning one domain: what changes, the managed devices before and after (for a diff, password
    redacted) and the new document. Text is produced only when asked for: a drift check of many domains in check
    mode never serialises a document."""

    def __init__(self, changes=(), before=None, after=None, root=None, text=None, elems=None, full=None):
        # before/after: lists of device elements (rendered on demand) or text; elems: unchanged devices;
        # full: a callable planning on the whole document, used the first time the new XML is needed.
        self.changes = list(changes)
        self._before = elems if before is None else before
        self._after = after
        self._root, self._text, self._full = root, text, full
        self._xml = None

    def materialize(self):
        """Build the new document now (parsing all of it), so that a malformed document fails here."""
        return self.xml

    @property
    def changed(self):
        return bool(self.changes)

    @property
    def xml(self):
        """The new domain XML, or None when nothing changes."""
        if not self.changes:
            return None
        if self._xml is None:
            if self._root is None:
                full = self._full()
                if full.changes != self.changes:
                    raise PlanError("internal inconsistency: planning the full document gave %s, the devices "
                                    "alone %s" % (full.changes, self.changes))
                self._root, self._text = full._root, full._text
            self._xml = serialize(self._root, self._text)
        return self._xml

    @property
    def before(self):
        if not isinstance(self._before, str):
            self._before = _device_text(self._before or [])
        return self._before

    @property
    def after(self):
        if self._after is None:
            return self.before
        if not isinstance(self._after, str):
            self._after = _device_text(self._after)
        return self._after


# --------------------------------------------------------------------------------------------- parsing

def parse_domain(xml_text):
    """Parse domain XML; raise DomainXMLError naming line and column on malformed input."""
    if not isinstance(xml_text, str) or not xml_text.strip():
        raise DomainXMLError("domain XML is empty")
    parser = ET.XMLParser(target=ET.TreeBuilder(insert_comments=True, insert_pis=True))
    try:
        parser.feed(_protect_cr(xml_text))
        root = parser.close()
    except ET.ParseError as e:
        line, column = e.position
        raise DomainXMLError("malformed domain XML at line %d, column %d: %s" % (line, column, e)) from e
    if root.tag != "domain":
        raise DomainXMLError("not a domain XML document: root element is <%s>" % root.tag)
    return root


_MARKUP_RE = re.compile(r"(<!--.*?-->|<!\[CDATA\[.*?\]\]>|<[^>]*>)", re.S)


def _protect_cr(xml_text):
    """libvirt writes a carriage return in text (a ``&#13;`` in <description>) as a raw CR, which any XML parser
    turns into a line feed. Written as a character reference it survives the parse; serialize writes it back
    the same way, so libvirt reads the same text again."""
    if "\r" not in xml_text:
        return xml_text
    parts = _MARKUP_RE.split(xml_text)
    return "".join(part if i % 2 else part.replace("\r", "&#13;") for i, part in enumerate(parts))


def serialize(root, original_text):
    """Serialise a domain, keeping the namespace prefixes the original text declared (ElementTree would
    otherwise rename ``qemu:`` to ``ns0:``). The prefix map is process-global in ElementTree, so it is
    (re)registered right before every serialisation."""
    for m in _XMLNS_RE.finditer(original_text):
        prefix, uri = m.group(1), m.group(2) if m.group(2) is not None else m.group(3)
        try:
            ET.register_namespace(prefix, uri)
        except ValueError:  # reserved "nsN" prefixes: ElementTree picks its own, still the same namespace
            pass
    # A CR left in the text can only come from a character reference (see _protect_cr); attributes are escaped
    # by ElementTree itself.
    return ET.tostring(root, encoding="unicode").replace("\r", "&#13;")


_ROOT_RE = re.compile(r"^\s*(?:<\?xml[^>]*\?>\s*)?<domain[\s>]")


def _mini_devices(xml_text, tags):
    """A <devices> element holding only the children named in tags, cut from the text without building the
    whole tree; None whenever the cut cannot be trusted (comments, CDATA, several <devices>, anything odd),
    and then the caller parses the full document.

    The rest of the document is not parsed here: libvirt's formatter always produces well-formed XML, and any
    change is planned on the full parse, which rejects malformed XML with its line and column. A document that
    does not even start with <domain> and end with </domain> (a truncated read) always takes the full path."""
    if not isinstance(xml_text, str) or "<!--" in xml_text or "<![CDATA[" in xml_text or "<!DOCTYPE" in xml_text:
        return None
    if not _ROOT_RE.match(xml_text) or not xml_text.rstrip().endswith("</domain>"):
        return None
    start = xml_text.find("<devices>")
    end = xml_text.find("</devices>")
    if start < 0 or end < start:
        return None
    if xml_text.find("<devices", start + 1) >= 0 or xml_text.find("</devices>", end + 1) >= 0:
        return None
    body = xml_text[start + len("<devices>"):end]
    pattern = _mini_pattern(tags)
    found = [m.group(0) for m in pattern.finditer(body)]
    if len(found) != sum(len(re.findall(r"<%s[\s/>]" % t, body)) for t in tags):
        return None
    try:
        devices = ET.fromstring("<devices>%s</devices>" % "".join(found))
    except ET.ParseError:
        return None
    return devices


_MINI_PATTERNS = {}


def _mini_pattern(tags):
    if tags not in _MINI_PATTERNS:
        names = "|".join(tags)
        _MINI_PATTERNS[tags] = re.compile(r"<(%s)(?=[\s/>])[^>]*?/>|<(%s)(?=[\s/>])[^>]*>.*?</\2\s*>" % (names, names),
                                          re.S)
    return _MINI_PATTERNS[tags]


def _devices(root, create=False):
    devices = root.find("devices")
    if devices is None and create:
        devices = ET.SubElement(root, "devices")
        _fix_indent(root)
    return devices


def _fix_indent(root):
    # Only used when <devices> itself had to be created: re-indent the whole (small) document.
    ET.indent(root, space="  ")


def _child_indent(parent, depth):
    text = parent.text or ""
    if text.strip() == "" and "\n" in text:
        return text
    return "\n" + "  " * depth


def _insert(parent, index, elem, depth):
    """Insert elem into parent at index, indented like its siblings."""
    ET.indent(elem, space="  ", level=depth)
    children = list(parent)
    sibling_indent = _child_indent(parent, depth)
    if not children:
        parent.text = sibling_indent
        elem.tail = "\n" + "  " * (depth - 1)
        parent.insert(0, elem)
        return
    if index >= len(children):
        last = children[-1]
        elem.tail = last.tail
        last.tail = sibling_indent
    else:
        elem.tail = sibling_indent
    parent.insert(index, elem)


def _remove(parent, elem):
    children = list(parent)
    i = children.index(elem)
    if i == len(children) - 1 and i > 0:
        children[i - 1].tail = elem.tail
    parent.remove(elem)


def _replace(parent, old, new, depth):
    ET.indent(new, space="  ", level=depth)
    new.tail = old.tail
    children = list(parent)
    i = children.index(old)
    parent.remove(old)
    parent.insert(i, new)


def _copies(elems):
    return [copy.deepcopy(e) for e in elems if e is not None]


def _device_text(elems):
    """Serialised device elements for a diff, with any password redacted."""
    out = []
    for e in elems:
        if e is None:
            continue
        copy = ET.fromstring(ET.tostring(e, encoding="unicode"))
        for g in copy.iter("graphics"):
            if "passwd" in g.attrib:
                g.set("passwd", REDACTED)
        copy.tail = None
        ET.indent(copy, space="  ")
        out.append(ET.tostring(copy, encoding="unicode"))
    return "\n".join(out) + ("\n" if out else "")


# --------------------------------------------------------------------------------------------- validation

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
                "%s for %s" % (m, t) for t, m in _DEFAULT_MODEL.items()))
        if _DEFAULT_MODEL.get(target_type) != model:
            raise SpecError("model %s does not fit target_type %s (use %s)" % (
                model, target_type, _DEFAULT_MODEL.get(target_type, "no model")))
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


# --------------------------------------------------------------------------------------------- chardevs

def _target(elem):
    return elem.find("target")


def _chardev_key(elem):
    """What libvirt keeps of a <serial>/<console> source: type, source, protocol, log. Runtime-only data
    (a pty's /dev/pts path, aliases, addresses) is not part of it."""
    ctype = elem.get("type", "pty")
    src = elem.find("source")
    source = ()
    if src is not None and ctype != "pty":
        mode = src.get("mode")
        if ctype in ("tcp", "unix") and mode is None:
            mode = "connect"
        source = (mode, src.get("host"), src.get("service"), src.get("path"), src.get("tls"))
    protocol = None
    if ctype == "tcp":
        proto = elem.find("protocol")
        protocol = proto.get("type", "raw") if proto is not None else "raw"
    log = elem.find("log")
    log_key = None
    if log is not None:
        log_key = (log.get("file"), log.get("append", "off"))
    return (ctype, source, protocol, log_key)


_DEFAULT_MODEL = {"isa-serial": "isa-serial", "pci-serial": "pci-serial", "system-serial": "pl011"}


def _serial_target_type(elem):
    t = _target(elem)
    ttype = t.get("type") if t is not None else None
    return ttype or "isa-serial"


def _serial_key(elem):
    ttype = _serial_target_type(elem)
    t = _target(elem)
    model = t.find("model") if t is not None else None
    model_name = model.get("name") if model is not None else None
    return (_chardev_key(elem), ttype, model_name or _DEFAULT_MODEL.get(ttype))


def _port_of(elem):
    t = _target(elem)
    if t is None or t.get("port") is None:
        return None
    try:
        return int(t.get("port"))
    except ValueError:
        raise PlanError("invalid target port %r in existing XML" % t.get("port")) from None


def _assign_ports(elems):
    """libvirt's rule for devices without an explicit target port: highest explicit port + 1, in order."""
    explicit = [p for p in (_port_of(e) for e in elems) if p is not None]
    nxt = max(explicit, default=-1)
    out = []
    for e in elems:
        p = _port_of(e)
        if p is None:
            nxt += 1
            p = nxt
        out.append((p, e))
    return out


def _console_is_serial(elem):
    t = _target(elem)
    ttype = t.get("type") if t is not None else None
    return ttype in (None, "serial")


def _virtio_consoles(devices):
    return [c for c in devices.findall("console") if (_target(c) is not None and _target(c).get("type") == "virtio")]


def _find_by_port(pairs, port, what):
    found = [e for p, e in pairs if p == port]
    if len(found) > 1:
        raise PlanError("the domain already has %d %s devices on port %d; fix that by hand first"
                        % (len(found), what, port))
    return found[0] if found else None


_X86 = ("x86_64", "i686")
_ARM = ("aarch64", "armv7l", "armv6l")
_OS_TYPE_RE = re.compile(r"<os(?:\s[^>]*)?>.*?</os>", re.S)


def platform_of(root_or_text):
    """(arch, machine) of a domain from <os><type arch machine>, either may be None. From text, only the
    <os> element is parsed (the fast path); anything odd falls back to the full parse."""
    if isinstance(root_or_text, str):
        m = _OS_TYPE_RE.search(root_or_text)
        try:
            os_elem = ET.fromstring(m.group(0)) if m else None
        except ET.ParseError:
            os_elem = None
        if os_elem is None:
            return platform_of(parse_domain(root_or_text))
        t = os_elem.find("type")
    else:
        t = root_or_text.find("os/type")
    if t is None:
        return (None, None)
    return (t.get("arch"), t.get("machine"))


def _arm_virt(platform):
    arch, machine = platform
    return arch in _ARM and (machine or "").startswith("virt")


def default_serial_target(platform):
    """The serial port a guest of this platform has by default: isa-serial (ttyS0) on x86 pc/q35 (and where the
    XML names no arch: libvirt then uses the host's), system-serial pl011 (ttyAMA0) on arm virt."""
    arch, machine = platform
    if arch is None or arch in _X86:
        return "isa-serial"
    if _arm_virt(platform):
        return "system-serial"
    raise PlanError("domain_serial knows no default serial port for arch %s, machine %s; set target_type "
                    "(pci-serial or virtio work on most machines)" % (arch, machine))


def serial_target_problem(platform, target_type):
    """Why libvirt would refuse a serial of target_type on this platform (decided before any define), or None."""
    arch, machine = platform
    if target_type == "isa-serial" and not (arch is None or arch in _X86):
        return ("target_type isa-serial needs an ISA bus, which a %s %s machine has not; use system-serial "
                "(pl011, ttyAMA0 in the guest), pci-serial or virtio" % (arch, machine))
    if target_type == "system-serial" and not _arm_virt(platform):
        return ("target_type system-serial (pl011) exists only on arm virt machines, not on %s %s; use "
                "isa-serial (ttyS0), pci-serial or virtio" % (arch or "this", machine or "machine"))
    return None


def _child_index(elem, after):
    """Where a child goes so that libvirt's order (source, protocol, log, target, alias, address) is kept:
    right after the last child whose tag is in after."""
    index = 0
    for i, child in enumerate(list(elem)):
        if child.tag in after:
            index = i + 1
    return index


def _wanted_chardev(current, spec, tag, platform=None):
    """The <serial> or <console> as it must be after this task: a copy of the current device (everything the
    module does not manage is kept: tls, reconnect, seclabel, unknown attributes and children) with what the
    caller gave applied; defaults only where the device has nothing yet."""
    if current is None:
        elem = ET.Element(tag, {"type": spec.source_type or "pty"})
    else:
        elem = copy.deepcopy(current)
        elem.tail = None
    old_type = elem.get("type", "pty")
    new_type = spec.source_type or old_type
    src = elem.find("source")
    if new_type != old_type:
        # A new kind of source: its attributes and the protocol belong to the old kind; children such as a
        # <seclabel> are carried over (libvirt's VALIDATE judges them), <reconnect> is checked below.
        children = list(src) if src is not None else []
        for old in elem.findall("source") + elem.findall("protocol"):
            elem.remove(old)
        elem.set("type", new_type)
        src = None
        if new_type != "pty" or children:
            src = ET.Element("source")
            src.extend(children)
            elem.insert(0, src)
    if spec.source_type is not None and new_type in ("file", "unix", "tcp"):
        if src is None:
            src = ET.Element("source")
            elem.insert(0, src)
        if new_type in ("unix", "tcp"):
            src.set("mode", spec.source_mode or src.get("mode") or "bind")
        if new_type in ("file", "unix"):
            src.set("path", spec.source_path)
        if new_type == "tcp":
            src.set("host", spec.source_host)
            src.set("service", str(spec.source_port))
            if spec.source_tls is True:
                src.set("tls", "yes")
            elif spec.source_tls is False:
                src.attrib.pop("tls", None)
            proto = elem.find("protocol")
            if proto is None:
                proto = ET.Element("protocol", {"type": spec.protocol or "raw"})
                elem.insert(_child_index(elem, ("source",)), proto)
            elif spec.protocol:
                proto.set("type", spec.protocol)
    if src is not None and src.find("reconnect") is not None and (src.get("mode") or "connect") != "connect":
        raise PlanError("the existing <reconnect> of %s only works with source_mode connect; keep connect or "
                        "remove <reconnect> by hand first" % spec.label)
    log = elem.find("log")
    if spec.log_file == "":
        if log is not None:
            elem.remove(log)
    elif spec.log_file:
        if log is None:
            log = ET.Element("log", {"file": spec.log_file, "append": "on" if spec.log_append else "off"})
            elem.insert(_child_index(elem, ("source", "protocol")), log)
        log.set("file", spec.log_file)
    if spec.log_append is not None and spec.log_file != "":
        if log is None:
            raise PlanError("log_append needs log_file: %s has no log" % spec.label)
        log.set("append", "on" if spec.log_append else "off")
    if tag == "console":
        if current is None:
            elem.append(ET.Element("target", {"type": "virtio", "port": str(spec.port)}))
        return elem
    have_type = _serial_target_type(current) if current is not None else None
    want_type = spec.target_type or have_type or default_serial_target(platform)
    if current is None or want_type != have_type:
        problem = serial_target_problem(platform, want_type)
        if problem:
            raise PlanError("%s: %s" % (spec.label, problem))
        for old in elem.findall("target"):
            elem.remove(old)
        for old in elem.findall("address"):
            elem.remove(old)  # another bus: libvirt assigns a new address
        target = ET.Element("target", {"type": want_type, "port": str(spec.port)})
        ET.SubElement(target, "model", {"name": spec.model or _DEFAULT_MODEL[want_type]})
        elem.insert(_child_index(elem, ("source", "protocol", "log")), target)
    elif spec.model is not None:
        target = elem.find("target")
        model = target.find("model")
        if model is None:
            model = ET.SubElement(target, "model")
        model.set("name", spec.model)
    return elem


def _check_source_exposure(elem, spec):
    """A tcp source that is not loopback needs allow_remote_source and TLS (see domain_serial's docs)."""
    if elem.get("type") != "tcp":
        return
    src = elem.find("source")
    host = src.get("host") if src is not None else None
    tls = src is not None and src.get("tls") == "yes"
    problem = exposure.exposure_problem(host if host is not None else "", "source_host", spec.allow_remote_source,
                                        "allow_remote_source", tls, "source_tls", "the serial console")
    if problem:
        raise PlanError("%s: %s" % (spec.label, problem))


def _twin_of(serial):
    """The <console> libvirt derives from the first serial: same source, target type serial, same port."""
    twin = ET.Element("console", {"type": serial.get("type", "pty")})
    for child in serial:
        if child.tag in ("source", "protocol", "log"):
            if child.tag == "source" and serial.get("type", "pty") == "pty":
                continue
            twin.append(ET.fromstring(ET.tostring(child, encoding="unicode")))
    port = _port_of(serial)
    ET.SubElement(twin, "target", {"type": "serial", "port": str(port if port is not None else 0)})
    return twin


def _twin_key(console):
    t = _target(console)
    port = t.get("port") if t is not None else None
    return (_chardev_key(console), port)


def _sync_twin(devices, depth):
    """Make consoles[0] mirror serials[0] the way libvirt would. Returns a change text or None."""
    serials = devices.findall("serial")
    consoles = devices.findall("console")
    first = consoles[0] if consoles else None
    if serials:
        twin = _twin_of(serials[0])
        if first is not None and _console_is_serial(first):
            have_source, have_port = _twin_key(first)
            if have_source == _chardev_key(twin) and have_port in (None, twin.find("target").get("port")):
                return None
            _replace(devices, first, twin, depth)
            return "update console (twin of the first serial, port %s)" % twin.find("target").get("port")
        children = list(devices)
        index = children.index(first) if first is not None else children.index(serials[-1]) + 1
        _insert(devices, index, twin, depth)
        return "add console bound to serial port %s" % twin.find("target").get("port")
    if first is not None and _console_is_serial(first):
        _remove(devices, first)
        return "remove console bound to the removed serial"
    return None


def _index_before(devices, kinds):
    children = list(devices)
    for i, c in enumerate(children):
        if c.tag in kinds:
            return i
    return len(children)


def _describe_chardev(elem):
    """The chardev of a <serial>/<console> in words, for the change list."""
    ctype = elem.get("type", "pty")
    src = elem.find("source")
    attr = src.get if src is not None else (lambda _k: None)
    if ctype == "tcp":
        proto = elem.find("protocol")
        s = "tcp %s %s:%s (%s)" % (attr("mode") or "connect", attr("host"), attr("service"),
                                   proto.get("type", "raw") if proto is not None else "raw")
        if attr("tls") == "yes":
            s += ", tls"
    elif ctype == "unix":
        s = "unix %s %s" % (attr("mode") or "connect", attr("path"))
    elif ctype == "file":
        s = "file %s" % attr("path")
    else:
        s = ctype
    log = elem.find("log")
    if log is not None:
        s += ", log %s (append %s)" % (log.get("file"), log.get("append", "off"))
    return s


def _managed_serial_elems(devices, spec):
    """The devices a serial spec is about, for diffs: the serial (or virtio console) and the twin."""
    if devices is None:
        return []
    if spec.virtio:
        return [_find_by_port(_assign_ports(_virtio_consoles(devices)), spec.port, "virtio console")]
    serial = _find_by_port(_assign_ports(devices.findall("serial")), spec.port, "serial")
    consoles = devices.findall("console")
    twin = consoles[0] if consoles and _console_is_serial(consoles[0]) else None
    return [serial, twin]


def _plan_serial_devices(devices, spec, changes, platform):
    if spec.virtio:
        _plan_virtio(devices, spec, changes)
    else:
        _plan_serial_device(devices, spec, changes, platform)


def plan_serial(xml_text, spec):
    """Plan domain_serial on one domain's inactive XML. Returns a Plan; never touches anything."""
    mini = _mini_devices(xml_text, ("serial", "console"))
    if mini is not None:
        # The planning rules only look at <serial> and <console> children of <devices> (and the platform in
        # <os>), so running them on a document of just those decides "nothing to do" exactly as the full
        # document would, far cheaper.
        platform = platform_of(xml_text)
        before = _copies(_managed_serial_elems(mini, spec))
        changes = []
        _plan_serial_devices(mini, spec, changes, platform)
        if not changes:
            return Plan(elems=before)
        # The change list and the device diff are known; the whole document is parsed only when its new text
        # is asked for (define), never for a drift check in check mode.
        return Plan(changes, before=before, after=_managed_serial_elems(mini, spec),
                    full=lambda: _plan_serial_full(xml_text, spec))
    return _plan_serial_full(xml_text, spec)


def _plan_serial_full(xml_text, spec):
    root = parse_domain(xml_text)
    before = _copies(_managed_serial_elems(root.find("devices"), spec))
    devices = _devices(root, create=spec.state == "present")
    changes = []
    if devices is not None:
        _plan_serial_devices(devices, spec, changes, platform_of(root))
    if not changes:
        return Plan(before=before)
    return Plan(changes, before=before, after=_managed_serial_elems(devices, spec), root=root, text=xml_text)


def _plan_serial_device(devices, spec, changes, platform):
    pairs = _assign_ports(devices.findall("serial"))
    current = _find_by_port(pairs, spec.port, "serial")
    if spec.state == "absent":
        if current is None:
            return
        _remove(devices, current)
        changes.append("remove serial port %d" % spec.port)
    else:
        wanted = _wanted_chardev(current, spec, "serial", platform)
        if current is not None:
            if _serial_key(current) != _serial_key(wanted):
                _check_source_exposure(wanted, spec)
                _replace(devices, current, wanted, 2)
                changes.append("change serial port %d to %s, %s"
                               % (spec.port, _describe_chardev(wanted), _serial_target_type(wanted)))
        else:
            _check_source_exposure(wanted, spec)
            # Keep serials in port order so that port 0 becomes the first serial, the one libvirt binds the
            # console (and `virsh console`) to.
            index = _port_order_index(devices, pairs, spec.port)
            if index is None:
                index = _index_before(devices, _SERIAL_BEFORE)
            _insert(devices, index, wanted, 2)
            changes.append("add serial port %d (%s, %s)" % (spec.port, _describe_chardev(wanted),
                                                            _serial_target_type(wanted)))
    # With the serial itself already right, a stale twin only occurs in hand-written XML (libvirt's canonical
    # XML never has one); it is reported all the same.
    twin_change = _sync_twin(devices, 2)
    if twin_change:
        changes.append(twin_change)


def _port_order_index(devices, pairs, port):
    """Where a new device for ``port`` goes so that ``pairs`` ((port, element), in document order) stay in port
    order; None when there are none of them yet."""
    later = [e for p, e in pairs if p > port]
    if later:
        return list(devices).index(later[0])
    if pairs:
        return list(devices).index(pairs[-1][1]) + 1
    return None


def _plan_virtio(devices, spec, changes):
    pairs = _assign_ports(_virtio_consoles(devices))
    current = _find_by_port(pairs, spec.port, "virtio console")
    if spec.state == "absent":
        if current is not None:
            _remove(devices, current)
            changes.append("remove virtio console port %d (hvc%d)" % (spec.port, spec.port))
        return
    wanted = _wanted_chardev(current, spec, "console")
    if current is not None:
        if _chardev_key(current) == _chardev_key(wanted):
            return
        _check_source_exposure(wanted, spec)
        _replace(devices, current, wanted, 2)
        changes.append("change virtio console port %d (hvc%d) to %s" % (spec.port, spec.port,
                                                                        _describe_chardev(wanted)))
        return
    _check_source_exposure(wanted, spec)
    index = _port_order_index(devices, pairs, spec.port)
    if index is None:
        consoles = devices.findall("console")
        if consoles:
            index = list(devices).index(consoles[-1]) + 1
        else:
            index = _index_before(devices, _SERIAL_BEFORE[2:])
    if devices.findall("serial") and not (devices.findall("console") and
                                          _console_is_serial(devices.findall("console")[0])):
        # libvirt puts the serial's twin first and renumbers virtio consoles otherwise; add it ourselves.
        twin_change = _sync_twin(devices, 2)
        if twin_change:
            changes.append(twin_change)
        consoles = devices.findall("console")
        index = max(index, list(devices).index(consoles[0]) + 1)
    _insert(devices, index, wanted, 2)
    changes.append("add virtio console port %d (hvc%d, %s)" % (spec.port, spec.port, _describe_chardev(wanted)))


# --------------------------------------------------------------------------------------------- VNC

def _first_vnc(devices):
    if devices is None:
        return None
    for g in devices.findall("graphics"):
        if g.get("type") == "vnc":
            return g
    return None


def vnc_listen(g):
    """A VNC device's listen as (type, value): ("address", ip or None for the host default), ("socket", path or
    None for one libvirt makes), ("network", name) or ("none", None)."""
    for lis in g.findall("listen"):
        ltype = lis.get("type", "address")
        if ltype == "address":
            return ("address", lis.get("address") or g.get("listen"))
        if ltype == "socket":
            return ("socket", lis.get("socket") or g.get("socket"))
        if ltype == "network":
            return ("network", lis.get("network"))
        return (ltype, None)
    if g.get("socket"):
        return ("socket", g.get("socket"))
    return ("address", g.get("listen"))


def _listen_rank(listen):
    """How private a listen is: 0 none, 1 UNIX socket, 2 loopback TCP, 3 anything reachable from elsewhere
    (another IP, a wildcard, a network, or the host default, which qemu.conf may set to 0.0.0.0)."""
    ltype, value = listen
    if ltype == LISTEN_NONE:
        return 0
    if ltype == LISTEN_SOCKET:
        return 1
    if ltype == "address" and value and exposure.classify(value).kind == exposure.LOOPBACK:
        return 2
    return 3


def describe_vnc_listen(listen):
    ltype, value = listen
    if ltype == "address":
        return exposure.describe(value) if value else "the host default (qemu.conf vnc_listen)"
    if ltype == LISTEN_SOCKET:
        return "a UNIX socket" + (" (%s)" % value if value else "")
    if ltype == "network":
        return "libvirt network %s" % value
    return "none (no listener)"


def _listen_text(listen):
    ltype, value = listen
    if ltype == "address":
        return value or "default"
    return "%s:%s" % (ltype, value or "")


def _vnc_port_of(g):
    if g.get("autoport") == "yes" or g.get("port") in (None, "-1"):
        return -1
    try:
        return int(g.get("port"))
    except ValueError:
        return g.get("port")


def vnc_key(g, live=False):
    """What libvirt keeps of a VNC device, without the password: (port, listen, websocket, keymap,
    passwdValidTo). In live XML an autoport device shows the port QEMU picked, so autoport is read from the
    autoport attribute; a generated websocket port counts as -1."""
    if g is None:
        return None
    websocket = g.get("websocket")
    if websocket is not None:
        try:
            websocket = int(websocket)
        except ValueError:
            pass
    if live and websocket is not None and g.get("websocketGenerated") == "yes":
        websocket = -1
    return (_vnc_port_of(g), vnc_listen(g), websocket, g.get("keymap"), g.get("passwdValidTo"))


def _describe_vnc(key):
    port, listen, websocket, keymap, valid_to = key
    parts = ["listen %s" % _listen_text(listen)]
    if listen[0] not in (LISTEN_SOCKET, LISTEN_NONE) or port != -1:
        parts.append("autoport" if port == -1 else "port %s" % port)
    if websocket is not None:
        parts.append("websocket %s" % ("auto" if websocket == -1 else websocket))
    if keymap:
        parts.append("keymap %s" % keymap)
    if valid_to:
        parts.append("password valid to %s" % valid_to)
    return ", ".join(parts)


def _set_listen(g, listen):
    ltype, value = listen
    for lis in g.findall("listen"):
        g.remove(lis)
    g.attrib.pop("listen", None)
    g.attrib.pop("socket", None)  # a VNC unix socket would win over the address
    lis = ET.Element("listen", {"type": ltype})
    if ltype == "address":
        lis.set("address", value)
        g.set("listen", value)
    elif ltype == LISTEN_SOCKET and value:
        lis.set("socket", value)
        g.set("socket", value)
    g.insert(0, lis)


_EXPIRED_NOTE = "drop the password expiry %s, already past: kept, the new password would be dead on arrival"


def _stale(valid_to, now):
    """An existing passwdValidTo at or before now (or one we cannot read) has expired."""
    if not valid_to:
        return False
    if not re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\Z", valid_to):
        return True
    return valid_to <= now


def _wanted_listen(current, spec, password_after):
    """The listen the device must have after this task, and why it changes when the caller did not ask.
    PlanError when the exposure policy refuses."""
    have = vnc_listen(current) if current is not None else None
    reason = None
    if spec.listen is None:
        if have is None:
            want = ("address", "127.0.0.1")
        elif _listen_rank(have) < 3 or spec.allow_remote_listen:
            want = have  # omitted: untouched (socket and none are never turned into TCP)
        else:
            want = ("address", "127.0.0.1")
            reason = "allow_remote_listen is not set, so listen %s is closed" % describe_vnc_listen(have)
    elif spec.listen == LISTEN_SOCKET:
        want = have if have is not None and have[0] == LISTEN_SOCKET else (LISTEN_SOCKET, None)
    elif spec.listen == LISTEN_NONE:
        want = (LISTEN_NONE, None)
    else:
        want = ("address", spec.listen)
    if have is not None and _listen_rank(have) < 2 and _listen_rank(want) > _listen_rank(have) \
            and not spec.replace_private_listen:
        raise PlanError("the VNC device listens on %s, which is more private than listen %s; set "
                        "replace_private_listen: true to replace it (and allow_remote_listen for a non-loopback "
                        "address)" % (describe_vnc_listen(have), _listen_text(want)))
    if _listen_rank(want) == 3 and not password_after:
        raise PlanError("listen %s with allow_remote_listen needs password as well (set it in the same task or "
                        "keep an existing one)" % describe_vnc_listen(want))
    return want, reason


def _plan_vnc_attrs(current, spec):
    """The device as it must be: a copy of the current one (unknown attributes and children kept) with what
    the caller gave applied. Returns (element, notes)."""
    password_after = spec.password if spec.password is not None else (
        current.get("passwd") if current is not None else None)
    g = copy.deepcopy(current) if current is not None else ET.Element("graphics", {"type": "vnc"})
    notes = []
    want_listen, reason = _wanted_listen(current, spec, password_after)
    if current is None or vnc_listen(current) != want_listen:
        _set_listen(g, want_listen)
    if reason:
        notes.append(reason)
    tcp = want_listen[0] not in (LISTEN_SOCKET, LISTEN_NONE)
    if spec.port is not None:
        if not tcp:
            raise PlanError("port is only used with a TCP listen; the VNC device listens on %s"
                            % describe_vnc_listen(want_listen))
        g.set("port", str(spec.port))
        g.set("autoport", "yes" if spec.port == -1 else "no")
    elif tcp and g.get("port") is None and g.get("autoport") is None:
        g.set("port", "-1")
        g.set("autoport", "yes")
    if spec.websocket == 0:
        g.attrib.pop("websocket", None)
        g.attrib.pop("websocketGenerated", None)
    elif spec.websocket is not None:
        if not tcp:
            raise PlanError("websocket is only used with a TCP listen; the VNC device listens on %s"
                            % describe_vnc_listen(want_listen))
        g.set("websocket", str(spec.websocket))
    if spec.keymap == "":
        g.attrib.pop("keymap", None)
    elif spec.keymap is not None:
        g.set("keymap", spec.keymap)
    if spec.password is not None:
        g.set("passwd", spec.password)
    password_change = spec.password is not None and (current is None or current.get("passwd") != spec.password)
    if spec.password_valid_to == "":
        g.attrib.pop("passwdValidTo", None)
    elif spec.password_valid_to is not None:
        if not password_after:
            raise PlanError("password_valid_to needs a password (the VNC device has none; set password)")
        g.set("passwdValidTo", spec.password_valid_to)
    elif password_change and _stale(g.get("passwdValidTo"), spec.now):
        # The old password's expiry is in the past: kept, it would make the new password dead on arrival.
        notes.append(_EXPIRED_NOTE % g.get("passwdValidTo"))
        g.attrib.pop("passwdValidTo", None)
    return g, notes, password_change


def plan_vnc(xml_text, spec):
    """Plan domain_vnc on one domain's inactive XML (read with the SECURE flag, so passwd is visible)."""
    mini = _mini_devices(xml_text, ("graphics",))
    if mini is not None:
        # Only <graphics> children of <devices> matter here; see plan_serial.
        root = ET.Element("domain")
        root.append(mini)
        plan = _plan_vnc_tree(root, spec, None)
        if plan.changed:
            plan._full = lambda: _plan_vnc_tree(parse_domain(xml_text), spec, xml_text)
            plan._root = None
        return plan
    return _plan_vnc_tree(parse_domain(xml_text), spec, xml_text)


def _plan_vnc_tree(root, spec, xml_text):
    """Plan on a document, or (xml_text None) on a fragment holding only <devices>/<graphics>, whose plan
    gets the full document later."""
    devices = _devices(root, create=spec.state == "present")
    current = _first_vnc(devices)
    before = _copies([current])
    changes = []
    if spec.state == "absent":
        vncs = [g for g in devices.findall("graphics") if g.get("type") == "vnc"] if devices is not None else []
        for g in vncs:
            _remove(devices, g)
        if vncs:
            changes.append("remove VNC graphics")
        if not changes:
            return Plan(before=before)
        return Plan(changes, before=before, after="", root=root, text=xml_text)
    wanted, notes, password_change = _plan_vnc_attrs(current, spec)
    want = vnc_key(wanted)
    if current is None:
        _insert(devices, _graphics_index(devices), wanted, 2)
        password_note = ", password set" if spec.password is not None else ""
        changes.append("add VNC graphics (%s%s)" % (_describe_vnc(want), password_note))
        return Plan(changes, before=before, after=[wanted], root=root, text=xml_text)
    have = vnc_key(current)
    expired = [n for n in notes if n.startswith(_EXPIRED_NOTE[:20])]
    if expired:
        have = have[:4] + (None,)  # said once, by its own line
    unknown_differs = _vnc_rest(current) != _vnc_rest(wanted)
    if have == want and not password_change and not unknown_differs:
        return Plan(before=before)
    if have != want or unknown_differs:
        line = "change VNC graphics from (%s) to (%s)" % (_describe_vnc(have), _describe_vnc(want))
        reason = [n for n in notes if n not in expired]
        changes.append(line + (": " + reason[0] if reason else ""))
    if password_change:
        changes.append("set VNC password" if current.get("passwd") is None else "change VNC password")
    changes.extend(expired)
    _replace(devices, current, wanted, 2)
    return Plan(changes, before=before, after=[wanted], root=root, text=xml_text)


def _vnc_rest(g):
    """Attributes beyond the ones vnc_key compares and the password (for example port/autoport spelled
    differently): a difference there is still a change to write."""
    return tuple(sorted((k, v) for k, v in g.attrib.items() if k not in ("passwd", "passwdValidTo")))


def _graphics_index(devices):
    graphics = devices.findall("graphics")
    if graphics:
        return list(devices).index(graphics[-1]) + 1
    return _index_before(devices, _GRAPHICS_BEFORE)


def vnc_device_xml(xml_text):
    """The first VNC <graphics> element of a domain as text (for updateDeviceFlags), or None."""
    g = _first_vnc(parse_domain(xml_text).find("devices"))
    if g is None:
        return None
    g.tail = None
    return ET.tostring(g, encoding="unicode")


def with_vnc_password(device_xml, password, valid_to=None):
    """The live device with the persistent password (and its passwdValidTo, or none) for updateDeviceFlags."""
    g = ET.fromstring(device_xml)
    g.set("passwd", password)
    if valid_to:
        g.set("passwdValidTo", valid_to)
    else:
        g.attrib.pop("passwdValidTo", None)
    return ET.tostring(g, encoding="unicode")


# --------------------------------------------------------------------------------------------- live state

def serial_live_key(xml_text, spec):
    """The managed serial devices of a (live or inactive) domain XML, reduced to what must match."""
    devices = parse_domain(xml_text).find("devices")
    if devices is None:
        return (None, None)
    if spec.virtio:
        c = _find_by_port(_assign_ports(_virtio_consoles(devices)), spec.port, "virtio console")
        return (_chardev_key(c) if c is not None else None, None)
    s = _find_by_port(_assign_ports(devices.findall("serial")), spec.port, "serial")
    consoles = devices.findall("console")
    twin = consoles[0] if consoles and _console_is_serial(consoles[0]) else None
    return (_serial_key(s) if s is not None else None, _twin_key(twin)[0] if twin is not None else None)


def vnc_live_state(live_xml, inactive_xml):
    """Compare the live VNC device with the persistent one: (exists/settings differ, password differs)."""
    live = _first_vnc(parse_domain(live_xml).find("devices"))
    persistent = _first_vnc(parse_domain(inactive_xml).find("devices"))
    if live is None or persistent is None:
        return (live is not None) != (persistent is not None), False
    live_key, persistent_key = vnc_key(live, live=True), vnc_key(persistent)
    if persistent_key[1][1] is None and live_key[1][0] == persistent_key[1][0]:
        # a socket libvirt names or the host's default address: only the running domain shows the value
        live_key = live_key[:1] + (persistent_key[1],) + live_key[2:]
    settings_differ = live_key[:4] != persistent_key[:4]
    password_differs = ((live.get("passwd"), live.get("passwdValidTo"))
                        != (persistent.get("passwd"), persistent.get("passwdValidTo")))
    return settings_differ, password_differs


def has_acpi(xml_text):
    root = parse_domain(xml_text)
    return root.find("features/acpi") is not None


def has_virtio_serial_controller(xml_text):
    devices = parse_domain(xml_text).find("devices")
    return devices is not None and any(c.get("type") == "virtio-serial" for c in devices.findall("controller"))


def serial_device_xml(xml_text, spec):
    """The managed serial (or virtio console) element as text, for attachDeviceFlags; None if absent."""
    devices = parse_domain(xml_text).find("devices")
    if devices is None:
        return None
    if spec.virtio:
        e = _find_by_port(_assign_ports(_virtio_consoles(devices)), spec.port, "virtio console")
    else:
        e = _find_by_port(_assign_ports(devices.findall("serial")), spec.port, "serial")
    if e is None:
        return None
    e = ET.fromstring(ET.tostring(e, encoding="unicode"))
    e.tail = None
    for tag in ("alias", "address"):
        for child in e.findall(tag):
            e.remove(child)
    return ET.tostring(e, encoding="unicode")


def vnc_password(xml_text):
    """The password of the first VNC device (from XML read with the SECURE flag), or None."""
    return vnc_auth(xml_text)[0]


def vnc_auth(xml_text):
    """(passwd, passwdValidTo) of the first VNC device (from XML read with the SECURE flag); None for each that
    is not there."""
    g = _first_vnc(parse_domain(xml_text).find("devices"))
    return (g.get("passwd"), g.get("passwdValidTo")) if g is not None else (None, None)


def live_attach_blocker(live_xml, spec, persistent_xml=None):
    """Why the device of ``spec`` cannot be hot-plugged into this running domain, or None if it can be tried.
    An isa-serial or a system-serial (pl011) never can (``Bus 'isa.0' does not support hotplugging``); a
    pci-serial needs ACPI; a virtio console needs a virtio-serial controller in the running domain. The serial's
    type is read from ``persistent_xml`` (the definition just written) when the spec leaves it out."""
    if spec.state != "present":
        return "libvirt does not hot-unplug console devices reliably; the device goes away at the next restart"
    target_type = spec.target_type
    if target_type is None and persistent_xml is not None:
        devices = parse_domain(persistent_xml).find("devices")
        serial = _find_by_port(_assign_ports(devices.findall("serial")), spec.port, "serial") \
            if devices is not None else None
        target_type = _serial_target_type(serial) if serial is not None else None
    if target_type in (None, "isa-serial", "system-serial"):
        return "an %s port cannot be hot-plugged" % (target_type or "isa-serial")
    if target_type == "pci-serial" and not has_acpi(live_xml):
        return "a pci-serial port can only be hot-plugged into a domain with ACPI"
    if spec.virtio and not has_virtio_serial_controller(live_xml):
        return "the running domain has no virtio-serial controller for a virtio console"
    return None


def twin_follows_hotplug(live_xml, spec):
    """Whether libvirt would give a hot-plugged serial its console twin: only for the very first chardev."""
    if spec.virtio:
        return True
    devices = parse_domain(live_xml).find("devices")
    return devices is None or (not devices.findall("serial") and not devices.findall("console"))
