# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Read and drive a domain's console through libvirt's console stream (what ``virsh console`` uses).

Two layers:

* pure text helpers (no libvirt): ``strip_ansi``, ``ConsoleText`` (an incremental decoder and ANSI stripper
  that keeps a time stamp per chunk, searches a rolling window, and redacts the secrets it was given before it
  cuts anything); what the domain XML says about its consoles is ``_console_info`` (``console_devices``,
  ``missing_console_message``);
* ``ConsoleSession``: attach with ``virDomainOpenConsole`` on a non-blocking stream driven by libvirt's default
  event loop, which ``ensure_event_loop`` registers once per process and runs in a daemon thread.

libvirt itself is imported only by ``_libvirt``; this file takes the module object from there.
"""

from __future__ import annotations

import bisect
import codecs
import re
import threading
import time

from ansible_collections.ttyfleet.serial_console.plugins.module_utils import _libvirt
from ansible_collections.ttyfleet.serial_console.plugins.module_utils._console_info import FIX_HINT
from ansible_collections.ttyfleet.serial_console.plugins.module_utils._libvirt import LibvirtFailure
from ansible_collections.ttyfleet.serial_console.plugins.module_utils._redact import REDACTED, redact

__all__ = ["REDACTED", "redact"]  # re-exported: the one home of redaction is _redact
# GRUB 2's menu header ("GNU GRUB  version 2.06-13+deb12u2"), its help line, and the line it prints when it starts
# an entry ("Booting `Debian GNU/Linux'"), also when the menu is hidden.
DEFAULT_GRUB_PATTERN = "GNU GRUB|Press enter to boot|Booting `"

# ECMA-48 sequences as terminals send them: CSI (ESC [ params intermediates final), OSC (ESC ] ... BEL or ST),
# DCS/SOS/PM/APC strings (ESC P|X|^|_ ... ST), and the two- or three-byte escapes (ESC c, ESC 7, ESC ( B ...).
_ESCAPE_RE = re.compile(
    r"\x1b(?:"
    r"\[[0-?]*[ -/]*[@-~]"
    r"|\][^\x07\x1b]*(?:\x07|\x1b\\)"
    r"|[PX^_][^\x1b]*\x1b\\"
    r"|[ -/]*[0-Z\\`-~]"
    r")"
)
# A sequence cut at the end of a chunk: keep it until the next chunk completes it.
_ESCAPE_PREFIX_RE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*|\][^\x07\x1b]*\x1b?|[PX^_][^\x1b]*\x1b?|[ -/]*)?\Z")
_MAX_PENDING_ESCAPE = 512
# Cursor position (CUP/HVP): full-screen programs such as GRUB's menu address rows instead of printing newlines.
_CURSOR_RE = re.compile(r"\x1b\[(\d*)(?:;\d*)?[Hf]")
# C0 controls except TAB and LF, DEL and C1 controls. CR goes too: the transcript keeps LF line ends only.
_TRAILING_BLANKS_RE = re.compile(r"[ \t]+\n")
_BLANK_RUN_RE = re.compile(r"\n{4,}")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def strip_ansi(text):
    """Remove terminal escape sequences and control characters (keeping LF and TAB) from ``text``."""
    return _CONTROL_RE.sub("", _ESCAPE_RE.sub("", text))


def shorten(text, max_chars, head_fraction=0.25):
    """Keep the head and the tail of ``text`` within ``max_chars``, with a marker saying how much was dropped."""
    if max_chars is None or len(text) <= max_chars:
        return text
    if max_chars <= 0:
        return ""
    head = int(max_chars * head_fraction)
    tail = max_chars - head
    omitted = len(text) - head - tail
    return "%s\n[... %d characters omitted ...]\n%s" % (text[:head], omitted, text[len(text) - tail :])


class ConsoleText:
    """Console bytes in, clean text out: UTF-8 decoded across chunk boundaries, escapes and CRs removed.

    A cursor move to another row becomes a line break, so full-screen output such as GRUB's menu stays readable.

    Positions are absolute, so they stay valid when old text is dropped. Every chunk records when it arrived, so
    a match maps back to a time (``time_at``). Memory stays bounded: beyond ``keep_chars`` the older half is
    dropped; the first ``head_chars`` (firmware and boot loader, in a boot) are kept aside for the transcript.

    ``secrets`` (a typed password) never leave: ``transcript`` and ``tail`` redact the whole text before they cut
    it, the head is kept a secret's length longer than it is shown, and old text is never dropped in the middle
    of a secret, so no part of one survives a cut (also when it arrived split over several chunks).
    """

    def __init__(self, keep_chars=2 * 1024 * 1024, head_chars=16 * 1024, clock=time.monotonic, secrets=()):
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._clock = clock
        self._pending = ""
        self._keep_chars = keep_chars
        self._head_chars = head_chars
        self._secrets = [s for s in secrets if s]
        self._head_keep = head_chars + max((len(s) for s in self._secrets), default=0)
        self._head = ""
        self._text = ""
        self._base = 0  # absolute position of self._text[0]
        self._stamps_pos = []
        self._stamps_time = []
        self.bytes_seen = 0
        self.last_data_time = None
        self._row = None

    @property
    def end(self):
        """Absolute position just past the last character."""
        return self._base + len(self._text)

    def feed(self, data, now=None):
        """Add raw console bytes; return the clean text they produced (may be empty)."""
        now = self._clock() if now is None else now
        self.bytes_seen += len(data)
        if data:
            self.last_data_time = now
        raw = self._pending + self._decoder.decode(data)
        self._pending = ""
        cleaned = _ESCAPE_RE.sub(self._layout, raw)
        cut = cleaned.rfind("\x1b")
        if cut != -1 and len(cleaned) - cut <= _MAX_PENDING_ESCAPE and _ESCAPE_PREFIX_RE.match(cleaned, cut):
            self._pending = cleaned[cut:]
            cleaned = cleaned[:cut]
        cleaned = _CONTROL_RE.sub("", cleaned)
        if cleaned:
            self._stamps_pos.append(self.end)
            self._stamps_time.append(now)
            if len(self._head) < self._head_keep:
                self._head += cleaned[: self._head_keep - len(self._head)]
            self._text += cleaned
            if len(self._text) > self._keep_chars:
                drop = self._safe_cut(len(self._text) - self._keep_chars // 2)
                self._text = self._text[drop:]
                self._base += drop
                keep = bisect.bisect_right(self._stamps_pos, self._base) - 1
                del self._stamps_pos[: max(keep, 0)]
                del self._stamps_time[: max(keep, 0)]
        return cleaned

    def _safe_cut(self, cut):
        """``cut`` moved back to the start of any secret it would split."""
        for secret in self._secrets:
            lo = max(cut - len(secret) + 1, 0)
            i = self._text.find(secret, lo, cut + len(secret) - 1)
            while i != -1 and i < cut:
                if i + len(secret) > cut:
                    return self._safe_cut(i)
                i = self._text.find(secret, i + 1, cut + len(secret) - 1)
        return cut

    def _layout(self, m):
        """A cursor move to another row reads as a line break, one along the same row as a space."""
        cup = _CURSOR_RE.fullmatch(m.group(0))
        if cup is None:
            return ""
        row = int(cup.group(1) or 1)
        same_row, self._row = row == self._row, row
        return " " if same_row else "\n"

    def text(self, start=0):
        """Clean text from absolute position ``start`` on (text already dropped is left out)."""
        return self._text[max(start - self._base, 0) :]

    def tail(self, n):
        """The last ``n`` characters, secrets redacted first."""
        return redact(self._text, self._secrets)[-n:] if n > 0 else ""

    def transcript(self, max_chars=None):
        """The clean transcript, with a marker where old text was dropped, shortened to ``max_chars``; secrets
        are redacted before any cut."""
        if self._base == 0:
            body = redact(self._text, self._secrets)
        else:
            head = redact(self._head, self._secrets)[: self._head_chars]
            body = "%s\n[... %d characters not kept ...]\n%s" % (
                head,
                self._base - len(head),
                redact(self._text, self._secrets),
            )
        body = _BLANK_RUN_RE.sub("\n\n\n", _TRAILING_BLANKS_RE.sub("\n", body))
        return shorten(body, max_chars)

    def search(self, regex, start=0):
        """First match of compiled ``regex`` at or after absolute ``start``: ``(abs_start, abs_end, match)``."""
        offset = max(start, self._base)
        m = regex.search(self._text, offset - self._base)
        if m is None:
            return None
        return self._base + m.start(), self._base + m.end(), m

    def time_at(self, pos):
        """When the character at absolute position ``pos`` arrived (None if before any recorded chunk)."""
        i = bisect.bisect_right(self._stamps_pos, pos) - 1
        return self._stamps_time[i] if i >= 0 else None


# ---------------------------------------------------------------------------------------------------------------
# libvirt: event loop and console stream

_event_loop_lock = threading.Lock()
_event_loop_thread = None


def _run_event_loop():
    libvirt = _libvirt.libvirt
    while True:
        try:
            libvirt.virEventRunDefaultImpl()
        except libvirt.libvirtError:
            time.sleep(0.05)


def ensure_event_loop():
    """Register libvirt's default event implementation and run it in a daemon thread, once per process.

    Call it before opening the connection whose streams need callbacks. Further calls do nothing.
    """
    global _event_loop_thread
    with _event_loop_lock:
        if _event_loop_thread is not None:
            return _event_loop_thread
        _libvirt.libvirt.virEventRegisterDefaultImpl()
        thread = threading.Thread(target=_run_event_loop, name="libvirt-event-loop", daemon=True)
        thread.start()
        _event_loop_thread = thread
        return thread


class ConsoleBusy(LibvirtFailure):
    """Another client holds the console and force was not requested."""


class ConsoleClosed(LibvirtFailure):
    """The stream ended while waiting (domain stopped, or another client took the console over)."""


class ConsoleSession:
    """One attached console: bytes flow into ``self.text`` from the event loop thread.

    ``wait_for`` blocks the calling thread until a pattern shows up, the deadline passes or the stream ends.
    """

    def __init__(self, conn, dom, force=False, dev_name=None, clock=time.monotonic, secrets=()):
        self._conn = conn
        self._dom = dom
        self._force = force
        self._dev_name = dev_name
        self._clock = clock
        self._cond = threading.Condition()
        self._stream = None
        self.text = ConsoleText(clock=clock, secrets=secrets)
        self.closed_reason = None
        self.attached_at = None

    # -- lifecycle ------------------------------------------------------------------------------------------
    def open(self):
        libvirt = _libvirt.libvirt
        name = self._dom.name()
        stream = self._conn.newStream(libvirt.VIR_STREAM_NONBLOCK)
        flags = libvirt.VIR_DOMAIN_CONSOLE_FORCE if self._force else 0
        try:
            self._dom.openConsole(self._dev_name, stream, flags)
        except libvirt.libvirtError as e:
            _abort_quietly(stream)
            msg = e.get_error_message() or str(e)
            if e.get_error_code() == libvirt.VIR_ERR_OPERATION_FAILED and "Active console session" in msg:
                raise ConsoleBusy(
                    "the console of domain %s is busy: another client (a `virsh console` session, another run of "
                    "this module) holds it; close that session, or set force=true to take the console over "
                    "(libvirt disconnects the other client)" % name
                ) from e
            if "cannot find character device" in msg:
                raise LibvirtFailure("domain %s has no serial console (libvirt: %s); %s" % (name, msg, FIX_HINT)) from e
            raise LibvirtFailure("cannot open the console of domain %s: %s" % (name, msg)) from e
        events = libvirt.VIR_STREAM_EVENT_READABLE | libvirt.VIR_STREAM_EVENT_ERROR | libvirt.VIR_STREAM_EVENT_HANGUP
        stream.eventAddCallback(events, self._on_event, None)
        self._stream = stream
        self.attached_at = self._clock()
        return self

    def close(self):
        stream, self._stream = self._stream, None
        if stream is None:
            return
        libvirt = _libvirt.libvirt
        try:
            stream.eventRemoveCallback()
        except libvirt.libvirtError:
            pass
        _abort_quietly(stream)

    def __enter__(self):
        return self.open()

    def __exit__(self, *exc):
        self.close()
        return False

    # -- event loop side ------------------------------------------------------------------------------------
    def _on_event(self, stream, events, _opaque):
        libvirt = _libvirt.libvirt
        reason = None
        if events & libvirt.VIR_STREAM_EVENT_READABLE:
            while True:
                try:
                    data = stream.recv(65536)
                except libvirt.libvirtError as e:
                    reason = "console stream error: %s" % (e.get_error_message() or e)
                    break
                if data == -2 or data is None:  # would block: drained for now
                    break
                if not data:
                    reason = "console stream closed by the hypervisor"
                    break
                with self._cond:
                    self.text.feed(data)
                    self._cond.notify_all()
        if reason is None and events & (libvirt.VIR_STREAM_EVENT_ERROR | libvirt.VIR_STREAM_EVENT_HANGUP):
            reason = "console stream hung up"
        if reason is not None:
            try:
                stream.eventRemoveCallback()
            except libvirt.libvirtError:
                pass
            with self._cond:
                self.closed_reason = reason
                self._cond.notify_all()

    # -- caller side ----------------------------------------------------------------------------------------
    def send(self, text):
        """Type ``text`` into the console (a str; use "\\r" for Enter)."""
        if self._stream is None:
            raise ConsoleClosed("the console is not attached")
        data = text.encode("utf-8")
        deadline = self._clock() + 5
        libvirt = _libvirt.libvirt
        while data:
            try:
                sent = self._stream.send(data)
            except libvirt.libvirtError as e:
                raise ConsoleClosed("cannot write to the console: %s" % (e.get_error_message() or e)) from e
            if sent == -2:
                if self._clock() > deadline:
                    raise ConsoleClosed("the console did not accept input for 5 s")
                time.sleep(0.02)
                continue
            data = data[sent:]

    def wait_for(self, regexes, timeout_s, start=None, wake_after_s=None, settle_s=0.0):
        """Wait until one of ``regexes`` (compiled) matches the clean text at or after ``start``.

        Returns ``(index, abs_start, abs_end, match)``, or None when ``timeout_s`` passes. Raises ConsoleClosed
        if the stream ends first. ``wake_after_s``: send a carriage return whenever the console has been silent
        that long. ``settle_s``: the match must stay the last thing printed for that long (for shell prompts).
        """
        start = self.text.end if start is None else start
        deadline = self._clock() + timeout_s
        last_wake = self._clock()
        while True:
            wake = False
            with self._cond:
                found = self._search(regexes, start)
                now = self._clock()
                if found is not None and settle_s:
                    quiet_for = now - (self.text.last_data_time or now)
                    if quiet_for < settle_s and now < deadline:
                        self._cond.wait(min(settle_s - quiet_for, deadline - now))
                        continue
                if found is not None:
                    return found
                if self.closed_reason is not None:
                    raise ConsoleClosed(self.closed_reason)
                if now >= deadline:
                    return None
                wait = deadline - now
                if wake_after_s:
                    silent_since = max(self.text.last_data_time or last_wake, last_wake)
                    if now - silent_since >= wake_after_s:
                        wake = True
                    else:
                        wait = min(wait, wake_after_s - (now - silent_since))
                if not wake:
                    self._cond.wait(max(wait, 0.01))
            if wake:
                last_wake = self._clock()
                self.send("\r")

    def _search(self, regexes, start):
        best = None
        for i, regex in enumerate(regexes):
            hit = self.text.search(regex, start)
            if hit is not None and (best is None or hit[0] < best[1]):
                best = (i,) + hit
        return best


def _abort_quietly(stream):
    libvirt = _libvirt.libvirt
    try:
        stream.abort()
    except libvirt.libvirtError:
        pass
