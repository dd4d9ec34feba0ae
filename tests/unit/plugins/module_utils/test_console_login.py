# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The console dialogue of console_prompt (_console_login) against a scripted console: getty, login(1) and a shell
played by a small responder, bytes through the real ConsoleText. And the password: redacted before any cut of the
transcript, the tail or the kept window, also when it arrived split over chunks."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from ansible_collections.ttyfleet.serial_console.plugins.module_utils._console import ConsoleText
from ansible_collections.ttyfleet.serial_console.plugins.module_utils._console_login import (
    ConsoleDialogue,
    PromptFailure,
)

PASSWORD = "Sesame-0pen-42"


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


class ScriptedConsole:
    """A console whose guest side is ``respond(typed) -> [chunks]``; ``wait_for`` answers at once (no match means
    the timeout passed), after one wake-up carriage return when asked for."""

    def __init__(self, respond, first=(), secrets=(), clock=None):
        self.clock = clock or Clock()
        self.text = ConsoleText(clock=self.clock, secrets=secrets)
        self.respond = respond
        self.typed = []
        for chunk in first:
            self.text.feed(chunk)

    def send(self, typed):
        self.typed.append(typed)
        self.clock.now += 0.1
        for chunk in self.respond(typed):
            self.text.feed(chunk)

    def wait_for(self, regexes, timeout_s, start=None, wake_after_s=None, settle_s=0.0):
        start = self.text.end if start is None else start
        for attempt in range(2):
            best = None
            for i, regex in enumerate(regexes):
                hit = self.text.search(regex, start)
                if hit is not None and (best is None or hit[0] < best[1]):
                    best = (i,) + hit
            if best is not None or not wake_after_s or attempt:
                return best
            self.send("\r")
        return None


def guest(password=PASSWORD, echo_password=False, user="ops"):
    """getty + login(1) + a shell, as a responder."""
    state = {"at": "getty"}

    def respond(typed):
        at = state["at"]
        if typed == "\r":
            return [b"\r\nweb1 login: "] if at == "getty" else [b"\r\n$ "]
        if typed == "\x03":
            state["at"] = "getty"
            return [b"^C\r\n\r\nweb1 login: "]
        if at == "getty":
            state["at"] = "password"
            return [typed.encode().replace(b"\r", b"\r\n"), b"Password: "]
        if at == "password":
            echoed = typed.rstrip("\r").encode()
            out = [echoed[:5], echoed[5:], b"\r\n"] if echo_password else [b"\r\n"]
            if typed.rstrip("\r") != password:
                state["at"] = "getty"
                return out + [b"\r\nLogin incorrect\r\nweb1 login: "]
            state["at"] = "shell"
            return out + [b"Linux web1 6.1.0\r\n", b"\x1b[?2004h", b"ops@web1:~$ "]
        if typed.startswith("exit"):
            state["at"] = "getty"
            return [b"exit\r\nlogout\r\n\r\nDebian GNU/Linux 12 web1 ttyS0\r\n\r\nweb1 login: "]
        m = re.match(r"echo (\w+)''B; (.*); echo \w+''E\$\?\r", typed)
        if m:
            marker, command = m.groups()
            output = b"/dev/ttyS0\r\n" if command == "tty" else b"%s\r\n" % command.encode()
            return [typed.encode() + b"\n", b"%sB\r\n" % marker.encode(), output, b"%sE0\r\n" % marker.encode(),
                    b"ops@web1:~$ "]
        return [b"\r\n$ "]

    return respond


def params(**over):
    p = dict(name="web1", pattern="login:", timeout_s=30, expect_grub=False, grub_pattern="GNU GRUB",
             username="ops", password=PASSWORD, command="tty", command_pattern="^/dev/ttyS0$", login_timeout_s=5,
             transcript_max_chars=32768)
    p.update(over)
    return p


def regexes(p):
    return {"pattern": re.compile(p["pattern"], re.M), "grub": re.compile(p["grub_pattern"], re.M),
            "command": re.compile(p["command_pattern"], re.M) if p.get("command_pattern") else None}


def dialogue(console, p):
    result = {"grub_seen": False, "matched": False, "logged_in": False, "logged_out": False}
    return ConsoleDialogue(console, p, regexes(p), result, [], t0=console.clock(), clock=console.clock,
                           token=lambda: "c0ffee00"), result


def test_login_command_logout():
    p = params()
    console = ScriptedConsole(guest(), first=[b"\x1b[0mSeaBIOS\r\n", b"Debian GNU/Linux 12 web1 ttyS0\r\n\r\n"],
                              secrets=[PASSWORD])
    d, result = dialogue(console, p)
    d.watch()  # nothing after the banner yet: the wake-up carriage return brings the prompt
    d.login()
    assert result["matched"] and result["logged_in"] and result["logged_out"]
    assert result["command_output"] == "/dev/ttyS0" and result["command_rc"] == 0
    assert console.typed[:3] == ["\r", "ops\r", PASSWORD + "\r"]
    assert console.typed[-1] == "exit\r"


def test_a_stale_password_prompt_is_ended_with_ctrl_c_never_answered():
    p = params(username=None)
    console = ScriptedConsole(guest(), first=[b"web1 login: ops\r\n", b"Password: "])
    console.text = ConsoleText(clock=console.clock)
    for chunk in (b"Password: ",):
        console.text.feed(chunk)
    d, result = dialogue(console, p)
    d.watch()
    assert console.typed == ["\x03"] and result["matched"]


def test_wrong_password_fails_and_leaves_getty_at_a_fresh_prompt():
    p = params()
    console = ScriptedConsole(guest(password="other"), first=[b"web1 login: "], secrets=[PASSWORD])
    d, result = dialogue(console, p)
    d.watch()
    with pytest.raises(PromptFailure) as failed:
        d.login()
    assert "login as ops failed: Login incorrect" in str(failed.value)
    assert console.typed[-1] == "\x03" and not result["logged_in"]


def test_no_prompt_fails_with_the_tail():
    p = params(username=None)
    console = ScriptedConsole(lambda typed: [], first=[b"Booting from Hard Disk...\r\nNo bootable device.\r\n"])
    d, _result = dialogue(console, p)
    with pytest.raises(PromptFailure) as failed:
        d.watch()
    assert "no match for 'login:'" in str(failed.value) and "No bootable device" in str(failed.value)


def test_an_echoed_password_split_over_chunks_never_shows():
    p = params()
    console = ScriptedConsole(guest(echo_password=True, password="other"), first=[b"web1 login: "],
                              secrets=[PASSWORD])
    d, _result = dialogue(console, p)
    d.watch()
    with pytest.raises(PromptFailure) as failed:
        d.login()
    assert PASSWORD[:5] in "".join(console.typed)  # it was typed, and echoed in two chunks
    for shown in (str(failed.value), console.text.transcript(), console.text.tail(40)):
        assert PASSWORD not in shown and PASSWORD[5:] not in shown


# --- redact before any cut: the transcript console_prompt returns ---------------------------------------------


def pieces(secret, shortest=3):
    return [secret[i:j] for i in range(len(secret)) for j in range(i + shortest, len(secret) + 1)]


def module_transcript(text, max_chars):
    """The transcript exactly as console_prompt builds its result."""
    from ansible_collections.ttyfleet.serial_console.plugins.modules import console_prompt

    module = SimpleNamespace(params=dict(password=PASSWORD, transcript_max_chars=max_chars))
    run = console_prompt.Run(module, {})
    run.session = SimpleNamespace(text=text)
    finish = getattr(run, "finish_result", None) or run._finish_result  # the name before the split
    return finish()["transcript"]


@pytest.mark.parametrize("cut_at", range(1, len(PASSWORD)))
def test_a_transcript_cut_inside_the_password_keeps_no_piece_of_it(cut_at):
    text = ConsoleText(secrets=[PASSWORD])
    # shorten keeps the first quarter and the last three quarters: put the cut inside the echoed password
    body = "a" * 100 + PASSWORD + "z" * 1000
    for i in range(0, len(body), 7):
        text.feed(body[i:i + 7].encode())
    head = 100 + cut_at  # characters of body kept in front of the marker
    out = module_transcript(text, head * 4)
    assert "characters omitted" in out
    assert not [piece for piece in pieces(PASSWORD) if piece in out]


def test_the_kept_window_is_never_cut_inside_the_password():
    text = ConsoleText(keep_chars=200, head_chars=20, secrets=[PASSWORD])
    body = "b" * 90 + PASSWORD + "c" * 400
    for i in range(0, len(body), 5):
        text.feed(body[i:i + 5].encode())
    out = text.transcript()
    assert "not kept" in out
    assert not [piece for piece in pieces(PASSWORD) if piece in out]
    assert not [piece for piece in pieces(PASSWORD) if piece in text.tail(len(body))]


def test_the_head_is_redacted_before_it_is_cut():
    text = ConsoleText(keep_chars=200, head_chars=20, secrets=[PASSWORD])
    body = "h" * 15 + PASSWORD + "t" * 400
    text.feed(body.encode())
    head = text.transcript().split("\n[...")[0]
    assert len(head) == 20 and not [piece for piece in pieces(PASSWORD) if piece in head]
