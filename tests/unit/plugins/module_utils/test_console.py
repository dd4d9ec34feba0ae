# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests for the pure parts of _console (text cleaning, matching, redaction, console devices) and for the
stream session's callback and wait logic against a fake stream (no libvirtd needed).

The SeaBIOS bytes below are what QEMU 7.2 printed on a pty serial with ``<bios useserial='yes'/>``, read through
the libvirt console stream here; they arrived in 1-3 byte chunks, split inside escape sequences.
fixtures/console/grub-2.06-bookworm-serial.b64 holds the raw bytes GRUB 2.06-13+deb12u2 (Debian 12) printed on
ttyS0 with GRUB_TERMINAL="console serial", from power on to "Loading initial ramdisk ...", read the same way.
"""

from __future__ import annotations

import base64
import os
import re
import threading
import time

import pytest

from ansible_collections.ttyfleet.serial_console.plugins.module_utils import _console
from ansible_collections.ttyfleet.serial_console.plugins.module_utils._console import (
    DEFAULT_GRUB_PATTERN,
    REDACTED,
    ConsoleClosed,
    ConsoleSession,
    ConsoleText,
    redact,
    shorten,
    strip_ansi,
)
from ansible_collections.ttyfleet.serial_console.plugins.module_utils._console_info import (
    console_devices,
    default_console,
    missing_console_message,
)

SEABIOS = (
    b"\x1bc\x1b[?7l\x1b[2J\x1b[0mSeaBIOS (version 1.16.2-debian-1.16.2-1)\r\n"
    b"Machine UUID 799f3db3-9ade-4d68-9dcc-8892cae63abd\r\nBooting from Hard Disk...\r\n"
    b"Boot failed: could not read the boot disk\r\n\nBooting from Floppy...\r\n"
    b"Boot failed: could not read the boot disk\r\n\nNo bootable device.\r\n"
)

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "console")


def fixture_bytes(name):
    with open(os.path.join(FIXTURES, name), "rb") as f:
        return base64.b64decode(f.read())


def chunks(data, sizes=(1, 2, 3)):
    i = n = 0
    while i < len(data):
        size = sizes[n % len(sizes)]
        yield data[i : i + size]
        i += size
        n += 1


# --- strip_ansi -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, clean",
    [
        ("\x1b[0mSeaBIOS\r\n", "SeaBIOS\n"),
        ("\x1b[1;1H\x1b[2Jlogin: ", "login: "),
        ("\x1b[?2004hroot@g:~# \x1b[?2004l\r", "root@g:~# "),
        ("\x1bc\x1b[?7l", ""),
        ("\x1b]0;title\x07prompt$ ", "prompt$ "),
        ("\x1b]0;title\x1b\\prompt$ ", "prompt$ "),
        ("\x1b(B\x1b)0\x1b7x\x1b8", "x"),
        ("\x1bP1$r0m\x1b\\ok", "ok"),
        ("a\tb\x07\x08c\x00", "a\tbc"),
        ("caf\u00e9 \u2502 box", "caf\u00e9 \u2502 box"),
        ("\x9b31mC1\x1b[m", "31mC1"),
    ],
)
def test_strip_ansi(raw, clean):
    assert strip_ansi(raw) == clean


# --- ConsoleText ------------------------------------------------------------------------------------------------


def test_feed_in_tiny_chunks_equals_feed_at_once():
    whole = ConsoleText()
    whole.feed(SEABIOS, now=1.0)
    pieces = ConsoleText()
    for piece in chunks(SEABIOS):
        pieces.feed(piece, now=1.0)
    assert pieces.text() == whole.text() == strip_ansi(SEABIOS.decode())
    assert pieces.text().startswith("SeaBIOS (version 1.16.2")
    assert pieces.bytes_seen == whole.bytes_seen == len(SEABIOS)


def test_real_grub_menu_on_serial():
    raw = fixture_bytes("grub-2.06-bookworm-serial.b64")
    t = ConsoleText()
    for piece in chunks(raw, (5, 64, 1)):
        t.feed(piece, now=0)
    text = t.text()
    grub = re.compile(DEFAULT_GRUB_PATTERN, re.MULTILINE)
    assert [m.group(0) for m in grub.finditer(text)] == ["GNU GRUB", "Press enter to boot", "Booting `"]
    lines = [line.strip() for line in t.transcript().splitlines()]
    # cursor moves between rows became line breaks: the menu reads as it looks on screen
    assert "GNU GRUB  version 2.06-13+deb12u2" in lines
    assert "*Debian GNU/Linux" in lines
    assert "Advanced options for Debian GNU/Linux" in lines
    assert "The highlighted entry will be executed automatically in 0s." in lines
    assert "Booting `Debian GNU/Linux'" in lines
    assert lines[-1] == "Loading initial ramdisk ..."
    assert "\x1b" not in text and "\r" not in text
    assert not re.search(r"[ \t]\n", t.transcript())


def test_cursor_moves_become_line_breaks_only_between_rows():
    t = ConsoleText()
    t.feed(b"\x1b[5;2H|\x1b[5;79H|\x1b[6;2H|\x1b[6;79H|", now=0)
    assert t.text() == "\n| |\n| |"
    assert strip_ansi("\x1b[5;2H|\x1b[5;79H|") == "||"


def test_escape_split_across_chunks_is_held_back():
    t = ConsoleText()
    assert t.feed(b"ok\x1b[", now=0) == "ok"
    assert t.feed(b"1;3", now=0) == ""
    assert t.feed(b"1mred\x1b[0m", now=0) == "red"
    assert t.text() == "okred"


def test_utf8_split_across_chunks():
    t = ConsoleText()
    data = "GRUB \u2502 menu".encode()
    for b in data:
        t.feed(bytes([b]), now=0)
    assert t.text() == "GRUB \u2502 menu"


def test_invalid_utf8_is_replaced_not_fatal():
    t = ConsoleText()
    t.feed(b"a\xffb", now=0)
    assert t.text() == "a\ufffdb"


def test_bare_escape_that_cannot_start_a_sequence_is_dropped():
    t = ConsoleText()
    t.feed(b"a\x1b\nb", now=0)
    assert t.text() == "a\nb"


def test_search_positions_and_times():
    t = ConsoleText()
    t.feed(b"GNU GRUB  version 2.06\r\n", now=10.0)
    t.feed(b"\r\nDebian GNU/Linux 12 g ttyS0\r\n\r\ng login: ", now=41.5)
    hit = t.search(re.compile("login:"))
    assert hit is not None
    start, end, m = hit
    assert t.text()[start:end] == "login:"
    assert t.time_at(start) == 41.5
    assert t.time_at(0) == 10.0
    assert t.search(re.compile("GRUB"), start=5) is None
    assert t.search(re.compile("login:"), start=end) is None


def test_match_spanning_chunks():
    t = ConsoleText()
    t.feed(b"g lo", now=1)
    t.feed(b"gin: ", now=2)
    start, end, _match = t.search(re.compile("login:"))
    assert t.time_at(start) == 1 and t.time_at(end - 1) == 2


def test_keep_chars_bounds_memory_positions_stay_absolute():
    t = ConsoleText(keep_chars=100, head_chars=10)
    t.feed(b"HEAD-START" + b"x" * 95, now=1)
    t.feed(b"y" * 50 + b"login: ", now=2)
    assert len(t.text()) <= 100
    assert t.end == 10 + 95 + 50 + 7
    start, end, _match = t.search(re.compile("login:"))
    assert end == t.end - 1
    assert t.time_at(start) == 2
    transcript = t.transcript()
    assert transcript.startswith("HEAD-START\n[... ")
    assert "characters not kept" in transcript and transcript.endswith("login: ")
    assert t.search(re.compile("HEAD"), 0) is None  # dropped text is not searched
    assert t.tail(7) == "login: "


def test_transcript_shortened_keeps_head_and_tail():
    t = ConsoleText()
    t.feed(b"GRUB" + b"." * 1000 + b"login: ", now=0)
    out = t.transcript(max_chars=100)
    assert out.startswith("GRUB")
    assert out.endswith("login: ")
    assert "characters omitted" in out


def test_shorten():
    assert shorten("abc", 10) == "abc"
    assert shorten("abc", None) == "abc"
    assert shorten("abcdef", 0) == ""
    out = shorten("0123456789" * 10, 20)
    assert out.startswith("01234") and out.endswith("0123456789")
    assert "[... 80 characters omitted ...]" in out


# --- redact -----------------------------------------------------------------------------------------------------


def test_redact():
    assert redact("login: s3cret\nPassword: ", ["s3cret"]) == "login: %s\nPassword: " % REDACTED
    assert redact("ab abc", ["ab", "abc"]) == "%s %s" % (REDACTED, REDACTED)
    assert redact("text", [None, ""]) == "text"
    assert redact(None, ["x"]) is None


# --- console devices --------------------------------------------------------------------------------------------

NO_CONSOLE = "<domain type='qemu'><name>d</name><devices><emulator>/usr/bin/qemu</emulator></devices></domain>"
PTY_LIVE = """<domain type='qemu'><name>d</name><devices>
<serial type='pty'><source path='/dev/pts/3'/><target type='isa-serial' port='0'><model name='isa-serial'/></target>
<alias name='serial0'/></serial>
<console type='pty' tty='/dev/pts/3'><source path='/dev/pts/3'/><target type='serial' port='0'/><alias name='serial0'/>
</console></devices></domain>"""
FILE_SERIAL = """<domain type='qemu'><name>d</name><devices>
<serial type='file'><source path='/var/log/d.log'/><target port='0'/></serial></devices></domain>"""
VIRTIO_FIRST = """<domain type='qemu'><name>d</name><devices>
<console type='pty'><target type='virtio' port='0'/></console>
<serial type='pty'><target type='isa-serial' port='0'/></serial></devices></domain>"""


def test_console_devices_parse():
    devs = console_devices(PTY_LIVE)
    assert [d["kind"] for d in devs] == ["serial", "console"]
    assert devs[1] == {"kind": "console", "type": "pty", "target_type": "serial", "port": "0", "alias": "serial0"}
    assert console_devices(NO_CONSOLE) == []
    assert console_devices("<domain/>") == []


def test_default_console_is_first_console_then_first_serial():
    assert default_console(console_devices(PTY_LIVE))["kind"] == "console"
    assert default_console(console_devices(VIRTIO_FIRST))["target_type"] == "virtio"
    assert default_console(console_devices(FILE_SERIAL))["kind"] == "serial"
    assert default_console([]) is None


def test_missing_console_message_no_device():
    msg = missing_console_message("web1", console_devices(NO_CONSOLE))
    assert "no serial console" in msg
    assert "Escape character is ^]" in msg
    assert "domain_serial" in msg and "cold" in msg


@pytest.mark.parametrize(
    "platform, target",
    [
        ((None, None), "target_type isa-serial"),
        (("x86_64", "pc-q35-7.2"), "target_type isa-serial"),
        (("aarch64", "virt-7.2"), "target_type system-serial"),
        (("s390x", "s390-ccw-virtio"), "target_type pci-serial or virtio"),
    ],
)
def test_missing_console_message_hint_names_the_platforms_serial(platform, target):
    """The hint names the port domain_serial would plan on that platform (an isa-serial on arm virt is refused)."""
    msg = missing_console_message("web1", console_devices(NO_CONSOLE), platform=platform)
    assert target + ", source_type pty" in msg
    assert ("isa-serial" in msg) is (target == "target_type isa-serial")


def test_missing_console_message_running_without_device_but_config_has_one():
    msg = missing_console_message("web1", console_devices(NO_CONSOLE), console_devices(PTY_LIVE))
    assert "no serial console" in msg
    assert "running XML" in msg
    assert "persistent configuration already has" in msg and "power=cycle" in msg


def test_missing_console_message_not_a_pty():
    msg = missing_console_message("web1", console_devices(FILE_SERIAL))
    assert "not a pty" in msg and "file" in msg


def test_missing_console_message_ok():
    assert missing_console_message("web1", console_devices(PTY_LIVE)) is None
    assert missing_console_message("web1", console_devices(PTY_LIVE), []) is None


# --- the session, against a fake stream -------------------------------------------------------------------------

libvirt = pytest.importorskip("libvirt")


class FakeStream:
    """Enough of virStream for the callback and send paths."""

    def __init__(self, chunks=()):
        self.chunks = list(chunks)
        self.sent = []
        self.removed = False

    def recv(self, _n):
        if not self.chunks:
            return -2
        data = self.chunks.pop(0)
        return data

    def send(self, data):
        self.sent.append(bytes(data))
        return len(data)

    def eventRemoveCallback(self):
        self.removed = True

    def abort(self):
        pass


def make_session(stream):
    session = ConsoleSession(conn=None, dom=None)
    session._stream = stream
    return session


def test_callback_drains_until_would_block():
    stream = FakeStream([b"SeaB", b"IOS\r\n"])
    session = make_session(stream)
    session._on_event(stream, libvirt.VIR_STREAM_EVENT_READABLE, None)
    assert session.text.text() == "SeaBIOS\n"
    assert session.closed_reason is None


def test_callback_eof_closes_and_wait_raises():
    stream = FakeStream([b"bye", b""])
    session = make_session(stream)
    session._on_event(stream, libvirt.VIR_STREAM_EVENT_READABLE, None)
    assert stream.removed
    assert "closed" in session.closed_reason
    with pytest.raises(ConsoleClosed):
        session.wait_for([re.compile("login:")], 1)
    # text that arrived before the end still matches
    assert session.wait_for([re.compile("bye")], 1, start=0)[0] == 0


def test_callback_hangup_closes():
    stream = FakeStream()
    session = make_session(stream)
    session._on_event(stream, libvirt.VIR_STREAM_EVENT_HANGUP, None)
    assert session.closed_reason == "console stream hung up"


def feed_later(session, delay, data):
    def run():
        time.sleep(delay)
        with session._cond:
            session.text.feed(data)
            session._cond.notify_all()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_wait_for_returns_first_pattern_that_matches_earliest():
    session = make_session(FakeStream())
    feed_later(session, 0.05, b"Password: ")
    idx, start, end, m = session.wait_for([re.compile(r"[$#] ?\Z"), re.compile(r"Password: ?\Z")], 2)
    assert idx == 1 and m.group(0) == "Password: "


def test_wait_for_times_out_and_wakes():
    stream = FakeStream()
    session = make_session(stream)
    started = time.monotonic()
    assert session.wait_for([re.compile("login:")], 0.35, wake_after_s=0.1) is None
    assert time.monotonic() - started >= 0.35
    assert 2 <= stream.sent.count(b"\r") <= 4


def test_wait_for_settle_rejects_prompt_followed_by_more_text():
    session = make_session(FakeStream())
    with session._cond:
        session.text.feed(b"motd line ending in #")
    feed_later(session, 0.05, b" more motd\nroot@g:~# ")
    idx, start, end, m = session.wait_for([re.compile(r"[$#] ?\Z")], 3, start=0, settle_s=1.0)
    assert session.text.text()[start:] == "# "
    assert end == session.text.end


def test_wait_for_ignores_text_before_start():
    session = make_session(FakeStream())
    with session._cond:
        session.text.feed(b"old login: ")
    mark = session.text.end
    assert session.wait_for([re.compile("login:")], 0.1, start=mark) is None
    feed_later(session, 0.05, b"\nnew login: ")
    hit = session.wait_for([re.compile("login:")], 2, start=mark)
    start = hit[1]
    assert start > mark


def test_ensure_event_loop_is_idempotent(monkeypatch):
    calls = []
    monkeypatch.setattr(_console, "_event_loop_thread", None)
    monkeypatch.setattr(_console._libvirt.libvirt, "virEventRegisterDefaultImpl", lambda: calls.append(1))
    monkeypatch.setattr(_console, "_run_event_loop", lambda: None)
    first = _console.ensure_event_loop()
    second = _console.ensure_event_loop()
    assert first is second
    assert calls == [1]


# --- the graceful stop behind power=cycle (_libvirt.shutdown_gracefully) -----------------------------------------


class FakeDom:
    def __init__(self, stops_after=None, paused=False):
        self.calls = []
        self.stops_after = stops_after  # polls until the guest acts on the power button; None = never
        self.active = True
        self.paused = paused
        self.polls = 0

    def name(self):
        return "web1"

    def state(self):
        return [libvirt.VIR_DOMAIN_PAUSED if self.paused else libvirt.VIR_DOMAIN_RUNNING, 0]

    def resume(self):
        self.calls.append("resume")
        self.paused = False

    def shutdown(self):
        self.calls.append("shutdown")

    def isActive(self):
        self.polls += 1
        if self.stops_after is not None and self.polls > self.stops_after:
            self.active = False
        return self.active

    def destroy(self):
        self.calls.append("destroy")
        self.active = False


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def test_shutdown_gracefully_waits_for_the_guest():
    dom, clock = FakeDom(stops_after=3), FakeClock()
    out = _console._libvirt.shutdown_gracefully(dom, 60, clock=clock, sleep=clock.sleep)
    assert out == {"graceful": True, "seconds": 1.5}
    assert dom.calls == ["shutdown"]


def test_shutdown_gracefully_destroys_only_after_the_timeout():
    dom, clock = FakeDom(stops_after=None), FakeClock()
    out = _console._libvirt.shutdown_gracefully(dom, 10, clock=clock, sleep=clock.sleep)
    assert out["graceful"] is False and out["seconds"] >= 10
    assert dom.calls == ["shutdown", "destroy"]


def test_shutdown_gracefully_resumes_a_paused_guest_first():
    dom, clock = FakeDom(stops_after=0, paused=True), FakeClock()
    out = _console._libvirt.shutdown_gracefully(dom, 10, clock=clock, sleep=clock.sleep)
    assert out["graceful"] is True
    assert dom.calls == ["resume", "shutdown"]
