#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Over 400 lines by its documentation (DOCUMENTATION, EXAMPLES, RETURN: about 240 lines); the code is the option
# checks, the power plan and Run. The console dialogue is _console_login, the stream _console, the XML _console_info.

DOCUMENTATION = r"""
---
module: console_prompt
short_description: Prove that a domain's serial console shows a login prompt (and GRUB), as virsh console would
version_added: 0.1.0
description:
  - Runs on the hypervisor. Attaches to a libvirt domain's console through libvirt's console stream, the channel
    C(virsh console) uses, sends a carriage return to provoke a fresh prompt, and waits until the text matches
    O(pattern) (by default C(login:)).
  - With O(power=start) a shut off domain is started paused, the console is attached, and only then the domain
    is resumed, so the transcript holds every byte from the firmware on. O(power=cycle) shuts the domain down
    gracefully first, then does the same; a cold restart is what makes a newly added isa-serial port appear.
  - Optionally checks that GRUB's menu appeared before the prompt (O(expect_grub)), logs in with O(username) and
    O(password), runs O(command) (such as C(tty)), checks its output against O(command_pattern), and logs out
    with C(exit) so the console is left at a login prompt.
  - Terminal escape sequences and carriage returns are removed from the transcript; the password is replaced by
    C(********) wherever it appears.
  - Fails with a message that names the cause when the domain is unknown, is not running, has no serial console
    (the case where C(virsh console) stops at C(Escape character is ^]) and shows nothing), has a console that is
    not a pty, when another client holds the console, when the console closes, and on timeout (with the last
    bytes seen, or the fact that nothing was printed at all).
  - It changes no configuration. Only O(power) changes the run state of the domain.
author:
  - ttyfleet maintainers (@ttyfleet)
requirements:
  - libvirt-python (on the host that runs the module, normally the hypervisor)
options:
  name:
    description: Name of the libvirt domain.
    type: str
    required: true
  uri:
    description: libvirt connection URI.
    type: str
    default: qemu:///system
  pattern:
    description:
      - Python regular expression (multi-line mode) the console text must match, after escape sequences and
        carriage returns were removed.
      - When O(username) is set it must match the login prompt, since the user name is typed right after it.
    type: str
    default: 'login:'
  timeout_s:
    description:
      - Seconds to wait for O(pattern), counted from the moment the domain is resumed (O(power=start) or
        O(power=cycle)) or the console is attached.
      - A Debian guest under TCG emulation needs about 35 s from power on to C(login:); allow several times that.
    type: int
    default: 120
  power:
    description:
      - V(none) watches a running domain and fails if it is not running.
      - V(start) starts a shut off domain paused, attaches, then resumes it; a paused domain is attached to, then
        resumed; a running domain is only watched.
      - V(cycle) shuts a running domain down gracefully (waiting up to O(shutdown_timeout_s), destroying it only
        after that), then starts it as V(start) does. Needs a persistent domain. Use it after adding a serial
        device to a running domain; a guest reboot keeps the old device set.
    type: str
    default: none
    choices: [none, start, cycle]
  shutdown_timeout_s:
    description:
      - With O(power=cycle), seconds to wait for the guest to act on the ACPI shutdown request before the domain
        is destroyed (a warning says so). A hard stop right after a guest change can lose writes still in the
        guest's page cache, so keep this generous.
      - A guest without a power-button handler (no C(systemd-logind), for example without dbus) always hits it.
    type: int
    default: 120
  expect_grub:
    description:
      - Fail unless O(grub_pattern) appears before O(pattern). GRUB prints only at boot, so this needs
        O(power=start) (on a domain that is not already running) or O(power=cycle).
      - Whether or not this is set, RV(grub_seen) reports whether GRUB was seen.
    type: bool
    default: false
  grub_pattern:
    description:
      - Python regular expression that identifies GRUB's output on the serial console.
      - The default matches GRUB 2's menu header (C(GNU GRUB  version 2.06)), its help line, and the
        C(Booting `...') line it prints for an entry started without the menu.
    type: str
    default: "GNU GRUB|Press enter to boot|Booting `"
  username:
    description: Log in as this user after the prompt matched. Not done in check mode.
    type: str
  password:
    description: Password typed at the C(Password:) prompt. Never returned, and redacted from the transcript.
    type: str
  command:
    description:
      - A one-line shell command run after logging in, such as C(tty). Its output is returned as RV(command_output)
        and its exit status as RV(command_rc). Needs O(username).
    type: str
  command_pattern:
    description: Python regular expression the command output must match (for example C(^/dev/ttyS0$)).
    type: str
  login_timeout_s:
    description: Seconds allowed for each step after the prompt (password prompt, shell prompt, command, logout).
    type: int
    default: 30
  force:
    description:
      - Take the console over when another client (a C(virsh console) session) holds it; libvirt disconnects that
        client. The default fails instead, so an operator's session is never cut by automation.
    type: bool
    default: false
  transcript_max_chars:
    description:
      - Longest transcript returned, in characters. When longer, the start (firmware and GRUB) and the end
        (the prompt) are kept with a marker in between. V(0) returns no transcript.
    type: int
    default: 32768
attributes:
  check_mode:
    support: partial
    description: Can run in check mode and return changed status prediction without modifying target.
    details:
      - When no power action is needed (O(power=none), or O(power=start) on a running domain) check mode watches
        the console read-only. It attaches, sends a carriage return, waits for O(pattern) and reports what it saw,
        but does not log in or run O(command).
      - When the domain would be started or power-cycled, check mode does nothing and reports C(changed=true)
        and the RV(power_action) it would take.
  diff_mode:
    support: none
    description: Nothing in the configuration changes, so there is nothing to diff.
  platform:
    description: Target OS/families that can be operated against.
    support: N/A
    platforms: libvirt
notes:
  - Only pty consoles can be streamed; this is a limit of libvirt and C(virsh console), not of this module.
  - The console opened is the one C(virsh console NAME) opens, the domain's first C(<console>) (which libvirt
    ties to the first C(<serial>) port).
  - A carriage return is sent on attach to a running domain, and again whenever the console stays silent for
    10 seconds while waiting. At a GRUB menu, a carriage return boots the highlighted entry.
  - The login waits for C(Password:) and then for a shell prompt ending in C($) or C(#) (plus an optional space)
    that stays the last output for half a second; C(Login incorrect) fails at once. After a failed login, Ctrl-C
    ends C(login) so that getty shows a fresh prompt.
  - If a shell is left logged in on the console, the carriage return shows a shell prompt, not C(login:), and
    the module times out with that prompt in the message.
seealso:
  - module: ttyfleet.serial_console.domain_serial
  - module: ttyfleet.serial_console.domain_console_info
"""

EXAMPLES = r"""
- name: Is there a login prompt on the serial console of web1?
  ttyfleet.serial_console.console_prompt:
    name: web1

- name: Cold-restart web1 and prove GRUB and login on ttyS0
  ttyfleet.serial_console.console_prompt:
    name: web1
    power: cycle
    timeout_s: 300
    expect_grub: true
    username: ops
    password: "{{ vault_ops_password }}"
    command: tty
    command_pattern: '^/dev/ttyS0$'
  register: console

- name: Show the boot as the serial console saw it
  ansible.builtin.debug:
    msg: "{{ console.transcript }}"
"""

RETURN = r"""
matched:
  description: Whether O(pattern) matched; null in check mode when the domain would be started first.
  returned: always
  type: bool
  sample: true
seconds:
  description: Seconds from resume (or attach) to the end of the match.
  returned: when matched
  type: float
  sample: 31.4
grub_seen:
  description: Whether O(grub_pattern) matched before the prompt.
  returned: always
  type: bool
  sample: true
grub_seconds:
  description: Seconds from resume to GRUB's first output that matched O(grub_pattern).
  returned: when GRUB was seen
  type: float
  sample: 1.9
power_action:
  description: What was done to the run state (what would be done, in check mode).
  returned: always
  type: str
  choices: [none, started, resumed, cycled]
  sample: cycled
destroyed:
  description: With O(power=cycle), true when the guest ignored the shutdown request and was destroyed.
  returned: always
  type: bool
  sample: false
shutdown_seconds:
  description: With O(power=cycle) on a running domain, seconds the shutdown took.
  returned: when the domain was shut down
  type: float
  sample: 4.5
console:
  description: The device the console stream reads, as libvirt describes it.
  returned: when attached
  type: str
  sample: console (pty, target serial port 0)
bytes_seen:
  description: Bytes read from the console.
  returned: always
  type: int
  sample: 5120
transcript:
  description:
    - What the console printed, without escape sequences and carriage returns, the password redacted, at most
      O(transcript_max_chars) characters.
  returned: always
  type: str
  sample: "\nDebian GNU/Linux 12 web1 ttyS0\n\nweb1 login: "
logged_in:
  description: Whether the login with O(username) succeeded.
  returned: always
  type: bool
  sample: true
logged_out:
  description: Whether a login prompt came back after C(exit).
  returned: always
  type: bool
  sample: true
command_output:
  description: Output of O(command) (password redacted), without the echoed command line.
  returned: when O(command) ran
  type: str
  sample: /dev/ttyS0
command_rc:
  description: Exit status of O(command).
  returned: when O(command) ran
  type: int
  sample: 0
"""

import re  # noqa: E402 (validate-modules wants the docs first)
import time  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ansible_collections.ttyfleet.serial_console.plugins.module_utils import (  # noqa: E402
    _console,
    _console_info,
    _domain_doc,
    _libvirt,
)
from ansible_collections.ttyfleet.serial_console.plugins.module_utils._console_login import (  # noqa: E402
    ConsoleDialogue,
    PromptFailure,
)
from ansible_collections.ttyfleet.serial_console.plugins.module_utils._libvirt import LibvirtFailure  # noqa: E402
from ansible_collections.ttyfleet.serial_console.plugins.module_utils._redact import redact_result  # noqa: E402

_STATE_NAMES = {
    0: "in no state",
    1: "running",
    2: "blocked",
    3: "paused",
    4: "shutting down",
    5: "shut off",
    6: "crashed",
    7: "suspended by guest power management",
}


def _compile(module, option, flags=re.MULTILINE):
    value = module.params[option]
    if value is None:
        return None
    try:
        return re.compile(value, flags)
    except re.error as e:
        module.fail_json(msg="%s is not a valid regular expression: %s" % (option, e))


def validate(module):
    p = module.params
    for option in ("timeout_s", "login_timeout_s"):
        if p[option] <= 0:
            module.fail_json(msg="%s must be a positive number of seconds, got %d" % (option, p[option]))
    if p["shutdown_timeout_s"] < 0:
        module.fail_json(msg="shutdown_timeout_s must not be negative")
    if p["transcript_max_chars"] < 0:
        module.fail_json(msg="transcript_max_chars must not be negative")
    if p["expect_grub"] and p["power"] == "none":
        module.fail_json(msg="expect_grub needs power=start or power=cycle: GRUB prints only while the domain boots")
    for option in ("username", "password", "command"):
        if p[option] is not None and re.search(r"[\r\n]", p[option]):
            module.fail_json(msg="%s must be a single line" % option)
    if p["username"] == "":
        module.fail_json(msg="username must not be empty")
    return {
        "pattern": _compile(module, "pattern"),
        "grub": _compile(module, "grub_pattern"),
        "command": _compile(module, "command_pattern"),
    }


def plan_power(power, state, persistent, name):
    """The power action for ``power`` given the domain state number: none|started|resumed|cycled, or fail."""
    libvirt = _libvirt.libvirt
    running = state in (libvirt.VIR_DOMAIN_RUNNING, libvirt.VIR_DOMAIN_BLOCKED)
    state_name = _STATE_NAMES.get(state, "in state %d" % state)
    if power == "none":
        if running:
            return "none"
        if state == libvirt.VIR_DOMAIN_SHUTOFF:
            raise PromptFailure(
                "domain %s is not running (shut off): nothing can print on its console; start it, or use "
                "power=start to start it and watch from the first byte" % name
            )
        raise PromptFailure("domain %s is not running (%s); use power=start or power=cycle" % (name, state_name))
    if power == "start":
        if running:
            return "none"
        if state == libvirt.VIR_DOMAIN_SHUTOFF:
            return "started"
        if state == libvirt.VIR_DOMAIN_PAUSED:
            return "resumed"
        raise PromptFailure("domain %s is %s; power=start cannot handle that, use power=cycle" % (name, state_name))
    if not persistent:
        raise PromptFailure(
            "domain %s is transient: power=cycle would shut it down and lose its definition; define it "
            "persistently first" % name
        )
    if state == libvirt.VIR_DOMAIN_SHUTOFF:
        return "started"
    return "cycled"


def check_console_device(dom, name, action, persistent):
    """Fail early (before any power action) when there is nothing libvirt can stream."""
    if action in ("started", "cycled"):
        xml = _libvirt.read_domain_xml(dom, inactive=True, secure=False)
        devices = _console_info.console_devices(xml)
        problem = _console_info.missing_console_message(name, devices, platform=_domain_doc.platform_of(xml))
    else:
        xml = _libvirt.read_domain_xml(dom, secure=False)
        devices = _console_info.console_devices(xml)
        config = None
        if persistent:
            config = _console_info.console_devices(_libvirt.read_domain_xml(dom, inactive=True, secure=False))
        problem = _console_info.missing_console_message(
            name, devices, config if config is not None else [], platform=_domain_doc.platform_of(xml)
        )
    if problem:
        raise PromptFailure(problem)
    return _console_info.describe_device(_console_info.default_console(devices))


class Run:
    """Select the domain, take the power action, attach, then hand the console to ``ConsoleDialogue``."""

    def __init__(self, module, regexes):
        self.module = module
        self.p = module.params
        self.regexes = regexes
        self.secrets = [self.p["password"]] if self.p["password"] else []
        self.session = None
        self.warnings = []
        self.result = {
            "changed": False,
            "matched": False,
            "grub_seen": False,
            "power_action": "none",
            "destroyed": False,
            "bytes_seen": 0,
            "transcript": "",
            "logged_in": False,
            "logged_out": False,
        }

    def finish_result(self):
        if self.session is not None:
            text = self.session.text
            self.result["bytes_seen"] = text.bytes_seen
            self.result["transcript"] = text.transcript(self.p["transcript_max_chars"])  # redacted before the cut
        return self.result

    def run(self):
        p = self.p
        _console.ensure_event_loop()
        conn = _libvirt.connect(p["uri"])
        try:
            self._run(conn, p["name"], p["uri"])
        finally:
            if self.session is not None:
                self.session.close()
            _libvirt.close_quietly(conn)
        return self.finish_result()

    def _run(self, conn, name, uri):
        p = self.p
        libvirt = _libvirt.libvirt
        dom = _libvirt.select_domains(conn, uri, [name])[0].dom
        state, persistent = _libvirt.domain_state(dom, name)
        action = plan_power(p["power"], state, persistent, name)
        if p["expect_grub"] and action == "none":
            raise PromptFailure(
                "expect_grub: domain %s is already running, so GRUB will not print again; use power=cycle" % name
            )
        self.result["console"] = check_console_device(dom, name, action, persistent)
        self.result["power_action"] = action
        self.result["changed"] = action != "none"

        if self.module.check_mode and action != "none":
            self.result["matched"] = None
            self.result["msg"] = "check mode: domain %s would be %s; the console was not watched" % (name, action)
            return

        self.session = _console.ConsoleSession(conn, dom, force=p["force"], secrets=self.secrets)
        try:
            if action == "cycled":
                cycle = _libvirt.PowerCycle(p["shutdown_timeout_s"], start_flags=libvirt.VIR_DOMAIN_START_PAUSED)
                try:
                    cycle.run(dom)
                finally:
                    self._report_stop(cycle, name)
            elif action == "started":
                _libvirt.start_domain(dom, libvirt.VIR_DOMAIN_START_PAUSED)
            if action in ("started", "cycled", "resumed"):
                self._attach(paused_dom=dom)
                t0 = time.monotonic()
                _libvirt.resume_domain(dom)
            else:
                self._attach()
                t0 = time.monotonic()
                self.session.send("\r")
        except LibvirtFailure as e:
            raise PromptFailure("cannot %s domain %s: %s" % (_VERB[action], name, e)) from e

        dialogue = ConsoleDialogue(self.session, p, self.regexes, self.result, self.warnings, t0, time.monotonic)
        dialogue.watch()
        if p["username"]:
            if self.module.check_mode:
                self.result["msg"] = "check mode: the prompt matched; did not log in"
            else:
                dialogue.login()

    def _report_stop(self, cycle, name):
        if "stopped" not in cycle.steps:
            return
        self.result["shutdown_seconds"] = cycle.shutdown_seconds
        if not cycle.graceful:
            self.result["destroyed"] = True
            self.warnings.append(
                "domain %s did not shut down within %d s and was destroyed; writes still in the guest's "
                "page cache may be lost" % (name, self.p["shutdown_timeout_s"])
            )

    def _attach(self, paused_dom=None):
        try:
            self.session.open()
        except LibvirtFailure as e:
            if paused_dom is not None:
                # Never leave behind a domain this run paused: let it boot unwatched.
                paused_dom.resume()
                e = LibvirtFailure("%s (domain %s was resumed unwatched)" % (e, self.p["name"]))
            raise PromptFailure(str(e)) from e


_VERB = {"none": "attach to", "started": "start", "resumed": "resume", "cycled": "power-cycle"}


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            uri=dict(type="str", default="qemu:///system"),
            pattern=dict(type="str", default="login:"),
            timeout_s=dict(type="int", default=120),
            power=dict(type="str", default="none", choices=["none", "start", "cycle"]),
            shutdown_timeout_s=dict(type="int", default=120),
            expect_grub=dict(type="bool", default=False),
            grub_pattern=dict(type="str", default=_console.DEFAULT_GRUB_PATTERN),
            username=dict(type="str"),
            password=dict(type="str", no_log=True),
            command=dict(type="str"),
            command_pattern=dict(type="str"),
            login_timeout_s=dict(type="int", default=30),
            force=dict(type="bool", default=False),
            transcript_max_chars=dict(type="int", default=32768),
        ),
        required_by={"password": "username", "command": "username", "command_pattern": "command"},
        supports_check_mode=True,
    )
    _libvirt.require_libvirt(module)
    regexes = validate(module)
    run = Run(module, regexes)
    try:
        result = run.run()
    except (PromptFailure, LibvirtFailure) as e:
        result = run.finish_result()
        result.update(getattr(e, "result", {}))
        result.pop("msg", None)
        _warn(module, run)
        module.fail_json(msg=redact_result(str(e), run.secrets), **redact_result(result, run.secrets))
    _warn(module, run)
    module.exit_json(**redact_result(result, run.secrets))


def _warn(module, run):
    for warning in run.warnings:
        module.warn(redact_result(warning, run.secrets))


if __name__ == "__main__":
    main()
