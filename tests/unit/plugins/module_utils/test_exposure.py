# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The exposure policy: every wildcard spelling, loopback, other IPs, names (never resolved), garbage."""

from __future__ import annotations

import pytest

from ansible_collections.ttyfleet.serial_console.plugins.module_utils import _exposure as ex

WILDCARDS = ["0.0.0.0", "::", "::0", "0:0::0", "0::0", "[::]", "0000:0000:0000:0000:0000:0000:0000:0000",
             "::ffff:0.0.0.0", "::ffff:0:0", "[::ffff:0.0.0.0]"]
SHORTHAND_WILDCARDS = ["0", "0x0", "0.0", "00.00.00.00", "0x0.0"]
LOOPBACKS = ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "::ffff:127.0.0.1", "0:0:0:0:0:0:0:1"]
REMOTES = ["192.0.2.10", "10.0.0.1", "2001:db8::1", "fe80::1%eth0", "::ffff:192.0.2.1", "::127.0.0.1"]
NAMES = ["localhost", "console.example.org", "web1", "example.org."]
INVALID = ["", " ", "127.0.0.1 ", "1.2.3.4\n", "a b", "$(id)", "x;reboot", "'", "1.2.3.4.5", "fe80::1%$(id)",
           "[web1]", "::g", "*", "a" * 300, "-bad", "bad-.example", "x\x00y", "../../etc/passwd"]


@pytest.mark.parametrize("value", WILDCARDS)
def test_every_wildcard_spelling_is_a_wildcard(value):
    a = ex.classify(value)
    assert (a.kind, a.canonical) == (ex.WILDCARD, True)
    assert a.address in ("0.0.0.0", "::")


@pytest.mark.parametrize("value", SHORTHAND_WILDCARDS)
def test_resolver_shorthands_are_wildcards_but_not_canonical(value):
    a = ex.classify(value)
    assert (a.kind, a.address, a.canonical) == (ex.WILDCARD, "0.0.0.0", False)
    msg = ex.exposure_problem(value, "listen", True, "allow_remote_listen", True, "password")
    assert "numeric shorthand" in msg and "0.0.0.0" in msg


@pytest.mark.parametrize("value", LOOPBACKS)
def test_loopback_is_allowed_without_opt_in(value):
    assert ex.classify(value).kind == ex.LOOPBACK
    assert not ex.is_exposed(value)
    assert ex.exposure_problem(value, "listen", False, "allow_remote_listen", None, "password") is None


@pytest.mark.parametrize("value", REMOTES)
def test_other_ips_are_remote(value):
    assert ex.classify(value).kind == ex.REMOTE
    assert ex.is_exposed(value)


def test_ipv4_mapped_short_numeric_loopback():
    assert ex.classify("127.1").kind == ex.LOOPBACK
    assert ex.classify("127.1").canonical is False


@pytest.mark.parametrize("value", NAMES)
def test_names_are_never_resolved_and_never_loopback(value, monkeypatch):
    def boom(*_a, **_k):
        raise AssertionError("a name was resolved")
    monkeypatch.setattr(ex.socket, "getaddrinfo", boom)
    monkeypatch.setattr(ex.socket, "gethostbyname", boom)
    a = ex.classify(value)
    assert a.kind == ex.HOSTNAME and a.address is None
    assert ex.is_exposed(value)
    msg = ex.exposure_problem(value, "source_host", False, "allow_remote_source")
    assert "allow_remote_source: true" in msg and "source_host" in msg


@pytest.mark.parametrize("value", INVALID)
def test_garbage_is_invalid_and_refused_even_with_opt_in(value):
    assert ex.classify(value).kind == ex.INVALID
    msg = ex.exposure_problem(value, "listen", True, "allow_remote_listen", True, "password")
    assert msg.startswith("listen ") and "IP address" in msg
    assert "\n" not in msg and "\x00" not in msg.replace("\\x00", "")


@pytest.mark.parametrize("value", [None, 5, ["::"], b"0.0.0.0"])
def test_non_strings_are_invalid(value):
    assert ex.classify(value).kind == ex.INVALID


@pytest.mark.parametrize("value", WILDCARDS + REMOTES + NAMES)
def test_exposure_needs_opt_in_then_credential(value):
    no_opt_in = ex.exposure_problem(value, "listen", False, "allow_remote_listen", True, "password", "VNC")
    assert "allow_remote_listen: true" in no_opt_in and "exposes VNC" in no_opt_in and "password" in no_opt_in
    no_credential = ex.exposure_problem(value, "listen", True, "allow_remote_listen", False, "password", "VNC")
    assert "needs password" in no_credential
    assert ex.exposure_problem(value, "listen", True, "allow_remote_listen", True, "password", "VNC") is None


def test_no_credential_option_means_opt_in_is_enough():
    assert ex.exposure_problem("0.0.0.0", "source_host", True, "allow_remote_source") is None


def test_describe_names_what_it_is():
    assert ex.describe("::ffff:0.0.0.0") == "::ffff:0.0.0.0 (every interface, that is 0.0.0.0)"
    assert ex.describe("0.0.0.0") == "0.0.0.0 (every interface)"
    assert "never resolved" in ex.describe("web1")


@pytest.mark.parametrize("uri", ["qemu:///system", "test:///default", "qemu:///session", "qemu+ssh://root@hv1/system",
                                 "qemu+unix:///system?socket=/var/run/libvirt/libvirt-sock-ro",
                                 "qemu+tls://hv1.example.org:16514/system?pkipath=/etc/pki/libvirt",
                                 "qemu+ssh://ops@[2001:db8::1]:2222/system?keyfile=/root/.ssh/id_ed25519"])
def test_ordinary_libvirt_uris_are_accepted(uri):
    assert ex.uri_problem(uri) is None


@pytest.mark.parametrize("uri, message", [
    ("qemu+ext:///system?command=/tmp/x", "transport ext runs a local command"),
    ("qemu+ssh://h/system?command=/bin/sh", "parameter command makes libvirt run a command"),
    ("qemu+ssh://h/system?netcat=nc;id", "parameter netcat makes libvirt run a command"),
    ("qemu+tls://h/system?no_verify=1", "parameter 'no_verify' is not allowed"),
    ("qemu+libssh://h/system?known_hosts_verify=ignore", "not allowed"),
    ("qemu+unix:///system?socket=/run/x;id", "socket has characters"),
    ("qemu:///system;id", "has characters"),
    ("qemu:///system\n", "control characters"),
    ("qemu:///system id", "spaces"),
    ("qemu:///system#frag", "has characters"),
    ("/etc/passwd", "not a libvirt connection URI"),
    ("", "must be a libvirt connection URI"),
    ("qemu+gopher://h/system", "transport 'gopher' is not one of"),
])
def test_uris_that_run_commands_or_skip_checks_are_refused(uri, message):
    assert message in ex.uri_problem(uri)


@pytest.mark.parametrize("uri", ["qemu+unix:///system?socket=/run/x%0A", "qemu+unix:///system?socket=%2Frun%2Fx%0A"])
def test_a_decoded_newline_in_a_uri_parameter_is_refused(uri):
    assert "socket has characters" in ex.uri_problem(uri)
