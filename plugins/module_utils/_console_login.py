# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The console dialogue of console_prompt, apart from the libvirt stream: wait for the prompt (ending a stale
login(1) with Ctrl-C), log in, run one command between markers, log out.

Pure: it talks to a ``session`` that has ``text`` (a ``_console.ConsoleText``), ``send(str)`` and
``wait_for(regexes, timeout_s, start=, wake_after_s=, settle_s=)`` (``_console.ConsoleSession`` on a real console;
a scripted console in the unit tests). Failures raise ``PromptFailure`` with the result gathered so far.
"""

from __future__ import annotations

import re
import secrets as _secrets

from ansible_collections.ttyfleet.serial_console.plugins.module_utils._console import ConsoleClosed
from ansible_collections.ttyfleet.serial_console.plugins.module_utils._redact import redact

WAKE_AFTER_S = 10
TAIL_CHARS = 500
PASSWORD_RE = re.compile(r"[Pp]assword: ?\Z")
SHELL_PROMPT_RE = re.compile(r"[$#] ?\Z")
LOGIN_FAILED_RE = re.compile(r"Login incorrect|Authentication failure|Permission denied|Login timed out")


class PromptFailure(Exception):
    def __init__(self, msg, **result):
        super().__init__(msg)
        self.result = result


class ConsoleDialogue:
    """One console conversation. ``params`` are the module's options (name, pattern, timeout_s, expect_grub,
    grub_pattern, username, password, command, command_pattern, login_timeout_s); ``regexes`` the compiled
    pattern, grub and command regexes; ``result`` the module's result dict, filled in as steps succeed."""

    def __init__(self, session, params, regexes, result, warnings, t0, clock, token=None):
        self.session = session
        self.p = params
        self.regexes = regexes
        self.result = result
        self.warnings = warnings
        self.t0 = t0
        self.clock = clock
        self.secrets = [params["password"]] if params.get("password") else []
        self.token = token or (lambda: _secrets.token_hex(4))

    # -- helpers --------------------------------------------------------------------------------------------
    def since_t0(self, pos):
        at = self.session.text.time_at(pos)
        return round(max(at - self.t0, 0.0), 2) if at is not None else None

    def tail_message(self):
        text = self.session.text
        if text.bytes_seen == 0:
            return (
                "0 bytes were seen: nothing at all was printed on this console (in a Linux guest: GRUB does not use "
                "the serial terminal, the kernel has no console=ttyS0, and no getty runs on ttyS0)"
            )
        tail = text.tail(TAIL_CHARS)  # redacted before the cut
        return "%d bytes were seen; the last %d characters (escape sequences removed): %r" % (
            text.bytes_seen,
            len(tail),
            tail,
        )

    def fail(self, msg):
        raise PromptFailure(redact(msg, self.secrets))

    def wait(self, regexes, timeout_s, start=None, wake_after_s=None, settle_s=0.0):
        try:
            return self.session.wait_for(regexes, timeout_s, start=start, wake_after_s=wake_after_s, settle_s=settle_s)
        except ConsoleClosed as e:
            self.fail("%s while waiting on the console of %s; %s" % (e, self.p["name"], self.tail_message()))

    # -- the steps ------------------------------------------------------------------------------------------
    def watch(self):
        """Wait for ``pattern``; GRUB seen before it is noted; a stale login(1) is ended with Ctrl-C (3 times)."""
        p, text = self.p, self.session.text
        deadline = self.clock() + p["timeout_s"]
        watch = [self.regexes["pattern"]]
        if not self.regexes["pattern"].search("Password: "):
            # A carriage return at login(1)'s own prompt (left by an earlier failed login) makes it ask for a
            # password; Ctrl-C ends that login(1), and getty prints a fresh prompt. At getty's prompt Ctrl-C does
            # nothing, so this never types a password-less login attempt.
            watch.append(PASSWORD_RE)
        start, cancels = 0, 0
        while True:
            hit = self.wait(watch, max(deadline - self.clock(), 0), start=start, wake_after_s=WAKE_AFTER_S)
            if hit is None or hit[0] == 0 or cancels >= 3:
                break
            cancels += 1
            start = hit[2]
            self.session.send("\x03")
        if hit is not None and hit[0] != 0:
            hit = None
        grub = text.search(self.regexes["grub"], 0)
        if grub is not None and (hit is None or grub[0] < hit[1]):
            self.result["grub_seen"] = True
            self.result["grub_seconds"] = self.since_t0(grub[0])
        if hit is None:
            self.fail(
                "no match for %r on the console of %s within %d s (%s); %s"
                % (p["pattern"], p["name"], p["timeout_s"], self.result.get("console"), self.tail_message())
            )
        self.result["matched"] = True
        self.result["seconds"] = self.since_t0(max(hit[2] - 1, hit[1]))
        if p["expect_grub"] and not self.result["grub_seen"]:
            self.fail(
                "GRUB was not seen on the console of %s before %r matched (grub_pattern %r): GRUB does not use "
                "the serial terminal (GRUB_TERMINAL), or its menu is hidden"
                % (p["name"], p["pattern"], p["grub_pattern"])
            )

    def login(self):
        p, session = self.p, self.session
        step = p["login_timeout_s"]
        user = p["username"]
        mark = session.text.end
        session.send(user + "\r")
        hit = self.wait([PASSWORD_RE, SHELL_PROMPT_RE, LOGIN_FAILED_RE], step, start=mark, settle_s=0.5)
        if hit is None:
            self._login_failed(
                "no password or shell prompt within %d s after typing the user name; %s" % (step, self.tail_message())
            )
        if hit[0] == 2:
            self._login_failed("login as %s failed: %s" % (user, hit[3].group(0)))
        if hit[0] == 0:
            if p["password"] is None:
                self._login_failed("the console asks for a password for %s but no password was given" % user)
            mark = session.text.end
            session.send(p["password"] + "\r")
            hit = self.wait([SHELL_PROMPT_RE, LOGIN_FAILED_RE], step, start=mark, settle_s=0.5)
            if hit is None:
                self._login_failed("no shell prompt within %d s after the password; %s" % (step, self.tail_message()))
            if hit[0] == 1:
                self._login_failed("login as %s failed: %s" % (user, hit[3].group(0)))
        self.result["logged_in"] = True
        try:
            if p["command"]:
                self._command()
        finally:
            self._logout()

    def _login_failed(self, msg):
        # Ctrl-C ends login(1), so getty starts over with a fresh prompt instead of login(1)'s retry prompt.
        try:
            self.session.send("\x03")
        except ConsoleClosed:
            pass
        self.fail(msg)

    def _command(self):
        p, session = self.p, self.session
        marker = "tf" + self.token()
        # The quotes split the markers in the echoed command line, so only the output lines match.
        line = "echo %s''B; %s; echo %s''E$?" % (marker, p["command"], marker)
        done = re.compile(r"^%sB\n(.*?)^%sE(\d+)$" % (marker, marker), re.MULTILINE | re.DOTALL)
        mark = session.text.end
        session.send(line + "\r")
        hit = self.wait([done], p["login_timeout_s"], start=mark)
        if hit is None:
            self.fail(
                "command %r did not finish within %d s; %s" % (p["command"], p["login_timeout_s"], self.tail_message())
            )
        output = redact(hit[3].group(1).rstrip("\n"), self.secrets)
        self.result["command_output"] = output
        self.result["command_rc"] = int(hit[3].group(2))
        want = self.regexes["command"]
        if want is not None and not want.search(output):
            self.fail("the output of %r is %r, which does not match %r" % (p["command"], output, p["command_pattern"]))

    def _logout(self):
        session = self.session
        mark = session.text.end
        try:
            session.send("exit\r")
        except ConsoleClosed as e:
            self.warnings.append("could not log out: %s" % e)
            return
        hit = self.wait([self.regexes["pattern"]], self.p["login_timeout_s"], start=mark)
        if hit is None:
            self.warnings.append(
                "no %r after logging out (exit): the console may still be at a shell" % self.p["pattern"]
            )
            return
        self.result["logged_out"] = True
