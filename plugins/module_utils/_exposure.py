# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Exposure policy: the one place that decides whether a listen/bind/connect address stays on this host.

Pure (stdlib ``ipaddress`` and ``socket.inet_aton`` only); no name is ever resolved to decide. Used by the host
modules (``domain_vnc`` listen, ``domain_serial`` tcp sources) to refuse an exposure that was not opted into,
and by the audit to report ``vnc_exposed`` / ``serial_exposed`` / ``spice_exposed`` findings.

Public functions and values:

``classify(value) -> Address``
    What an address means, as a frozen ``Address(kind, text, address, canonical, note)``:

    - ``kind`` is one of ``LOOPBACK`` (127.0.0.0/8, ``::1``, ``::ffff:127.x.y.z``), ``WILDCARD`` (every
      interface, in every spelling: ``0.0.0.0``, ``::``, ``0:0::0``, ``[::]``, ``::ffff:0.0.0.0``, and the
      resolver's numeric shorthands such as ``0`` or ``0x0``), ``REMOTE`` (any other IP literal), ``HOSTNAME``
      (a syntactically valid DNS name, ``localhost`` included: /etc/hosts decides what a name means, so a name is
      never trusted to be loopback) or ``INVALID`` (empty, control characters, spaces, quotes, anything else).
    - ``address`` is the normalised IP text (``::ffff:0.0.0.0`` -> ``0.0.0.0``, ``0:0::0`` -> ``::``), or None
      for a name or an invalid value.
    - ``canonical`` is False for a numeric shorthand that only the C resolver reads as an IP (``0``, ``127.1``,
      ``0x7f000001``, ``010.0.0.1``); modules refuse those rather than guess, the audit still classifies them.
    - ``note`` says in words what the address is, for messages ("every interface", "a host name, not resolved").

``is_exposed(value) -> bool``
    True unless the value is a loopback address. For audit findings of existing XML: a name or an unparsable
    value counts as exposed (we cannot prove it is not).

``exposure_problem(value, option, opt_in, opt_in_option, credential=None, credential_option=None,
service="the console") -> str | None``
    The policy the modules enforce. None when the address is allowed, else a message that names the option
    and what to do (never a secret):

    - loopback: always allowed;
    - invalid or a numeric shorthand: refused;
    - wildcard, other IP, host name: refused unless ``opt_in`` (the value of the option named
      ``opt_in_option``) is true, and then, if ``credential_option`` is given, only when ``credential`` is true
      (for VNC: a password exists or is set in the same task).

``describe(value) -> str``
    "0.0.0.0 (every interface)" and the like, for findings and messages.

``uri_problem(uri) -> str | None``
    Why a libvirt connection URI (the ``uri`` option of every host module) is refused, or None. libvirt runs a
    local command for the ``ext`` transport and for the ``command``/``netcat`` parameters, and ``no_verify``
    turns TLS certificate checks off; so only ``driver[+unix|ssh|libssh|libssh2|tls|tcp]://[user@][host[:port]]/path``
    with the parameters ``socket``, ``mode``, ``no_tty``, ``keyfile``, ``sshauth``, ``known_hosts`` and
    ``pkipath`` (values without spaces or control characters) is accepted.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

LOOPBACK = "loopback"
WILDCARD = "wildcard"
REMOTE = "remote"
HOSTNAME = "hostname"
INVALID = "invalid"
KINDS = (LOOPBACK, WILDCARD, REMOTE, HOSTNAME, INVALID)

MAX_LEN = 253  # the longest DNS name; no IP literal is longer either
# Every grammar is anchored with \Z: "$" would also match before a trailing newline.
_LABEL_RE = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)\Z")
# What inet_aton (and so getaddrinfo, which QEMU uses) reads as an IPv4 address besides a dotted quad.
_AT0N_PART = r"(?:0[xX][0-9a-fA-F]*|[0-9]+)"
_ATON_RE = re.compile(r"^%s(?:\.%s){0,3}\Z" % (_AT0N_PART, _AT0N_PART))
_SCOPE_RE = re.compile(r"^[A-Za-z0-9_.-]{1,15}\Z")  # an interface name (IFNAMSIZ) or a number

_NOTES = {
    LOOPBACK: "loopback, this host only",
    WILDCARD: "every interface",
    REMOTE: "an address reachable from other hosts",
    HOSTNAME: "a host name, never resolved to decide",
    INVALID: "not an IP address or host name",
}


@dataclass(frozen=True)
class Address:
    kind: str
    text: str
    address: str | None = None
    canonical: bool = True
    note: str = ""


def _of_ip(ip, text, canonical=True):
    mapped = getattr(ip, "ipv4_mapped", None)
    if mapped is not None:  # ::ffff:a.b.c.d listens/connects exactly like a.b.c.d
        ip = mapped
    if ip.is_unspecified:
        kind = WILDCARD
    elif ip.is_loopback:
        kind = LOOPBACK
    else:
        kind = REMOTE
    return Address(kind, text, str(ip), canonical, _NOTES[kind])


def classify(value):
    """Classify one address; see the module docstring."""
    if not isinstance(value, str):
        return Address(INVALID, repr(value), note="not a string")
    text = value
    if (not text or len(text) > MAX_LEN + 2 or text != text.strip()
            or any(ord(c) < 33 or ord(c) == 127 for c in text)):
        return Address(INVALID, text, note=_NOTES[INVALID] + " (empty, too long, spaces or control characters)")
    bare = text[1:-1] if text.startswith("[") and text.endswith("]") else text
    try:
        ip = ipaddress.ip_address(bare)
    except ValueError:
        ip = None
    if ip is not None:
        scope = getattr(ip, "scope_id", None)
        if scope is not None and not _SCOPE_RE.match(scope):
            return Address(INVALID, text, note="an IPv6 zone that is not an interface name")
        return _of_ip(ip, text)
    if bare != text:
        return Address(INVALID, text, note="brackets around something that is not an IPv6 address")
    if _ATON_RE.match(text):
        try:
            packed = socket.inet_aton(text)
        except OSError:
            return Address(INVALID, text, note="a number that is not an IPv4 address")
        return _of_ip(ipaddress.IPv4Address(packed), text, canonical=False)
    name = text[:-1] if text.endswith(".") else text
    labels = name.split(".")
    if len(name) <= MAX_LEN and all(_LABEL_RE.match(label) for label in labels) and not labels[-1].isdigit():
        return Address(HOSTNAME, text, note=_NOTES[HOSTNAME])
    return Address(INVALID, text, note=_NOTES[INVALID])


def is_exposed(value):
    """True unless value is a loopback address (names and garbage count as exposed)."""
    return classify(value).kind != LOOPBACK


def describe(value):
    a = classify(value)
    shown = a.address if a.address and a.address != a.text else None
    return "%s (%s%s)" % (a.text, a.note, ", that is %s" % shown if shown else "")


def exposure_problem(value, option, opt_in, opt_in_option, credential=None, credential_option=None,
                     service="the console"):
    """None if ``value`` may be used for ``option``; otherwise why not and what to set. Never quotes a secret."""
    a = classify(value)
    if a.kind == INVALID:
        return "%s %r is %s; give an IP address such as 127.0.0.1 or ::1" % (option, a.text[:80], a.note)
    if not a.canonical:
        return ("%s %r is a numeric shorthand that the resolver reads as %s; write that address in full"
                % (option, a.text, a.address))
    if a.kind == LOOPBACK:
        return None
    if not opt_in:
        return ("%s %s exposes %s beyond this host; loopback (127.0.0.1 or ::1) is the default, set %s: true "
                "to confirm%s" % (option, describe(value), service, opt_in_option,
                                  " and set %s" % credential_option if credential_option else ""))
    if credential_option and not credential:
        return ("%s %s with %s needs %s as well (set it in the same task or keep an existing one)"
                % (option, describe(value), opt_in_option, credential_option))
    return None


URI_TRANSPORTS = ("unix", "ssh", "libssh", "libssh2", "tls", "tcp")
URI_PARAMS = ("socket", "mode", "no_tty", "keyfile", "sshauth", "known_hosts", "pkipath")
_URI_SCHEME_RE = re.compile(r"^([a-z][a-z0-9]*)(?:\+([a-z0-9]+))?\Z")
_URI_VALUE_RE = re.compile(r"^[A-Za-z0-9_./:@%,=+~-]*\Z")
URI_MAX = 1024


def uri_problem(uri):
    """Why the libvirt URI is refused (a command libvirt would run, certificate checks off, garbage), or None."""
    if not isinstance(uri, str) or not uri or len(uri) > URI_MAX:
        return "uri must be a libvirt connection URI such as qemu:///system (at most %d characters)" % URI_MAX
    if any(ord(c) < 33 or ord(c) == 127 for c in uri):
        return "uri must not contain spaces or control characters"
    try:
        parts = urlsplit(uri)
        params = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError:
        return "uri %r is not a libvirt connection URI" % uri[:80]
    m = _URI_SCHEME_RE.match(parts.scheme or "")
    if not m or "://" not in uri:
        return "uri %r is not a libvirt connection URI (driver[+transport]://[host]/path)" % uri[:80]
    transport = m.group(2)
    if transport == "ext":
        return "uri transport ext runs a local command; use unix, ssh, libssh, libssh2 or tls"
    if transport is not None and transport not in URI_TRANSPORTS:
        return "uri transport %r is not one of %s" % (transport, ", ".join(URI_TRANSPORTS))
    if parts.fragment or not _URI_VALUE_RE.match(parts.netloc.replace("[", "").replace("]", "") + parts.path):
        return "uri %r has characters a libvirt URI does not need" % uri[:80]
    for key, value in params:
        if key in ("command", "netcat"):
            return "uri parameter %s makes libvirt run a command; it is not allowed" % key
        if key not in URI_PARAMS:
            return "uri parameter %r is not allowed (allowed: %s)" % (key[:40], ", ".join(URI_PARAMS))
        if not _URI_VALUE_RE.match(value):
            return "uri parameter %s has characters a value does not need" % key
    return None
