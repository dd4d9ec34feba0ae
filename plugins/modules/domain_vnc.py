#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: domain_vnc
short_description: Ensure a safe VNC display on libvirt domains
version_added: 0.1.0
description:
  - Ensures a VNC C(<graphics>) device in the persistent definition of one domain, a list of domains, or every
    domain of a hypervisor, or removes it (O(state=absent)). Other graphics (SPICE) are left alone.
  - Safe by default. A new device listens on C(127.0.0.1). Any other address (another IP, C(0.0.0.0), C(::) and
    every other spelling of a wildcard such as C(::ffff:0.0.0.0) or C(0:0::0)) needs
    O(allow_remote_listen=true) and a password (O(password), or one the device already has). Host names are
    refused, because they are never resolved to decide what is exposed.
  - A device that listens on a UNIX socket (C(<listen type='socket'/>)) or not at all (C(type='none')) is never
    turned into a TCP listener by default; it is kept and reported ok. Only an explicit O(listen) together with
    O(replace_private_listen=true) replaces it.
  - Omitted means untouched. An option left out keeps what the device has (listen, port, websocket, keymap,
    password, C(passwdValidTo)); removing takes an explicit value (O(keymap=""), O(websocket=0),
    O(password_valid_to="")). The one exception is exposure. An existing non-loopback listen is moved to
    C(127.0.0.1) unless O(allow_remote_listen=true), because nothing is left exposed that the caller did not opt
    into.
  - Attributes and children of the device that the module does not manage are kept.
  - The module reads each domain's persistent XML with C(VIR_DOMAIN_XML_INACTIVE|VIR_DOMAIN_XML_SECURE), so an
    existing password is seen and never silently dropped, changes only the first VNC device, defines the result
    with C(VIR_DOMAIN_DEFINE_VALIDATE), re-reads it and fails if libvirt did not keep the change.
  - All domains are read and planned first; if any fails, nothing is written. If a domain's XML changes between
    the read and the define, the module plans again on the fresh XML instead of overwriting that change.
  - On a running domain a new password is also applied live (O(live)); libvirt cannot change the listen
    address, port, websocket or keymap of a running display, so those are reported as RV(restart_required).
author:
  - ttyfleet maintainers (@ttyfleet)
extends_documentation_fragment:
  - ttyfleet.serial_console.libvirt
  - ttyfleet.serial_console.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  platform:
    platforms: libvirt
options:
  state:
    description:
      - V(present) ensures the VNC device; V(absent) removes every VNC device of the domain.
    type: str
    choices: [present, absent]
    default: present
  listen:
    description:
      - IP address VNC listens on, or V(socket) (a UNIX socket libvirt creates) or V(none) (no listener; the
        display is reached only through libvirt).
      - Left out, an existing device keeps its listen (but see O(allow_remote_listen)) and a new device gets
        C(127.0.0.1).
      - Host names and network names are refused, because a name is never resolved to decide what is exposed,
        and libvirt accepts a bad address at define time and the domain would then fail to start. Numeric
        shorthands the resolver reads as an address (C(0), C(127.1)) are refused too; write the address in full.
    type: str
  allow_remote_listen:
    description:
      - Confirm that the display may listen on an address other than loopback (another IP, or every interface
        with C(0.0.0.0), C(::) or another spelling of them). A password is then required as well, set with
        O(password) or already on the device. Prefer SSH tunnels to C(127.0.0.1).
      - Without it an existing non-loopback listen is moved to C(127.0.0.1), and the change says why.
    type: bool
    default: false
    aliases: [allow_wildcard_listen]
  replace_private_listen:
    description:
      - Allow an explicit O(listen) to replace a listen that is more private than the one asked for (a UNIX
        socket or V(none) replaced by a TCP address, or V(none) by a socket). Without it such a change is refused
        and nothing is written.
    type: bool
    default: false
  port:
    description:
      - TCP port of the display, 5900-65535, or V(-1) to let libvirt pick one when the domain starts (autoport).
      - Left out, an existing device keeps its port and a new device gets V(-1).
    type: int
  websocket:
    description:
      - Port of a WebSocket listener (for noVNC), 5900-65535, or V(-1) to let libvirt pick one. V(0) removes it.
        Left out, the device keeps what it has.
    type: int
  keymap:
    description:
      - Keyboard layout passed to QEMU, for example V(en-us) or V(de). An empty string removes it (QEMU's default).
        Left out, the device keeps what it has.
    type: str
  password:
    description:
      - VNC password, 1-8 characters (VNC uses only 8; libvirt refuses longer ones). Never logged or returned;
        diffs show it as C(********).
      - Leave out to keep the current password, if any. There is no option to remove a password; remove the
        device (O(state=absent)) if that is really meant.
    type: str
  password_valid_to:
    description:
      - When the password expires (C(passwdValidTo)), as an ISO 8601 time, C(2026-12-31T23:59:59) (UTC) or with
        C(Z) or an offset such as C(+01:00); stored in UTC. A time that is not in the future is refused.
        An empty string removes the expiry.
      - Left out, the device keeps its expiry, except that an expiry already in the past is dropped when
        O(password) changes, so that a rotated password is never dead on arrival.
    type: str
  live:
    description:
      - Also apply a password change to running domains at once (C(updateDeviceFlags) with C(AFFECT_LIVE)).
      - With V(false), the running display keeps its password until the next cold start, reported as
        RV(restart_required).
    type: bool
    default: true
  restart:
    description:
      - Power-cycle running domains whose VNC device still differs from the persistent one after the live update
        (for example a new listen address), so it takes effect now. The guest is asked to shut down (ACPI),
        destroyed only if it still runs after O(shutdown_timeout_s), and started again.
      - Without this option the module never stops or starts a domain.
    type: bool
    default: false
  shutdown_timeout_s:
    description:
      - Seconds to wait for a graceful shutdown before O(restart) destroys the domain.
    type: int
    default: 120
notes:
  - The VNC password is stored in clear text in C(/etc/libvirt/qemu/NAME.xml) (mode 0600) and is weak by design;
    treat it as a second line of defence behind the listen address.
seealso:
  - module: ttyfleet.serial_console.domain_serial
  - module: ttyfleet.serial_console.domain_console_info
  - name: libvirt domain XML, graphical framebuffers
    description: The VNC C(graphics) element and its C(listen) children.
    link: https://libvirt.org/formatdomain.html#graphical-framebuffers
"""

EXAMPLES = r"""
- name: VNC on localhost only, port chosen by libvirt
  ttyfleet.serial_console.domain_vnc:
    name: web1

- name: Rotate the VNC password on every domain, live where they run
  ttyfleet.serial_console.domain_vnc:
    all_domains: true
    password: "{{ vnc_password }}"

- name: A fixed port with a websocket for noVNC, German keyboard
  ttyfleet.serial_console.domain_vnc:
    name: [web1, web2]
    port: 5910
    websocket: 5960
    keymap: de

- name: Expose on all interfaces (explicit opt-in, password required)
  ttyfleet.serial_console.domain_vnc:
    name: lab1
    listen: 0.0.0.0
    allow_remote_listen: true
    password: "{{ vnc_password }}"

- name: A password valid for a day
  ttyfleet.serial_console.domain_vnc:
    name: lab1
    password: "{{ vnc_password }}"
    password_valid_to: "{{ '%Y-%m-%dT%H:%M:%SZ' | strftime(now(utc=true).timestamp() + 86400, utc=true) }}"

- name: Drop the keymap and the websocket, leave the rest as it is
  ttyfleet.serial_console.domain_vnc:
    name: web1
    keymap: ""
    websocket: 0

- name: No VNC at all
  ttyfleet.serial_console.domain_vnc:
    name: db1
    state: absent
"""

RETURN = r"""
changed:
  description: Whether any domain changed (definition, live password or power cycle).
  returned: always
  type: bool
restart_required:
  description: Whether any running domain still differs from its persistent definition in its VNC device.
  returned: always
  type: bool
domains:
  description:
    - One entry per selected domain, in the order of O(name) (or sorted by name with O(all_domains)).
    - Also returned when the task fails, so that every domain is accounted for.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Domain name.
      type: str
      sample: web1
    changed:
      description: Whether this domain changed.
      type: bool
    restart_required:
      description: The domain runs and its live VNC device differs from the persistent one.
      type: bool
    restarted:
      description: Whether the domain was power-cycled because of O(restart) (in check mode, would be).
      type: bool
    live_applied:
      description: Whether the password was applied to the running domain (in check mode, would be).
      type: bool
    changes:
      description: What changed (or, in check mode, would change), in words; never contains the password.
      type: list
      elements: str
      sample: ["change VNC password", "apply the VNC password to the running domain"]
    status:
      description:
        - What became of this domain. V(unchanged) nothing to do; V(changed) done (in check mode, would be done);
          V(failed) see RV(domains[].error); V(vanished) undefined by someone else while the task ran (only with
          O(all_domains); skipped, the rest goes on); V(not_reached) not written because the task stopped at the
          failure of another domain.
        - Also in the result of a failed task, for every selected domain.
      type: str
      choices: [unchanged, changed, failed, vanished, not_reached]
      sample: changed
    steps:
      description:
        - What was done to this domain, in order (in check mode, what the real run would do). V(planned) the
          change was planned; V(replanned) the definition changed under the task and the change was planned again
          on the fresh one; V(defined) the new definition was stored and re-read; V(live_applied) applied to the
          running domain; V(stopped), V(started) the power cycle of O(restart).
      type: list
      elements: str
      sample: [planned, defined, stopped, started]
    error:
      description: Why the domain failed, vanished or was not reached (libvirt's text, passwords redacted); else null.
      type: str
      sample: "cannot start domain web1: ...; domain web1 is left stopped (it was running before this task stopped it)"
    left_stopped:
      description:
        - True when O(restart) shut the domain down and it could not be started again; RV(domains[].error) says why.
      type: bool
      sample: false
    define_note:
      description:
        - Set when the connection to libvirtd was lost around the define. V(confirmed after connecting again) the
          task connected again and the re-read shows the new definition; V(sent, not confirmed) it could not check.
      type: str
      returned: when the connection to libvirtd was lost around the define
diff:
  description:
    - With C(--diff), one entry per changed domain with the VNC device before and after, password redacted.
  returned: when diff mode is on
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402 (validate-modules wants the docs first)

from ansible_collections.ttyfleet.serial_console.plugins.module_utils import _domain_module as runner  # noqa: E402
from ansible_collections.ttyfleet.serial_console.plugins.module_utils import _domain_spec as specs  # noqa: E402
from ansible_collections.ttyfleet.serial_console.plugins.module_utils._domain_devices import VncDevice  # noqa: E402


def main():
    argument_spec = dict(
        runner.DOMAIN_ARGS,
        state=dict(type="str", choices=["present", "absent"], default="present"),
        listen=dict(type="str"),
        allow_remote_listen=dict(type="bool", default=False, aliases=["allow_wildcard_listen"]),
        replace_private_listen=dict(type="bool", default=False),
        port=dict(type="int"),
        websocket=dict(type="int"),
        keymap=dict(type="str", no_log=False),
        password=dict(type="str", no_log=True),
        password_valid_to=dict(type="str", no_log=False),
        live=dict(type="bool", default=True),
        restart=dict(type="bool", default=False),
        shutdown_timeout_s=dict(type="int", default=120),
    )
    module = AnsibleModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        mutually_exclusive=[("name", "all_domains")],
        required_one_of=[("name", "all_domains")],
    )
    if module.params["all_domains"] is False and not module.params["name"]:
        module.fail_json(msg="name must list at least one domain, or set all_domains: true")
    if module.params["shutdown_timeout_s"] < 0:
        module.fail_json(msg="shutdown_timeout_s must not be negative")
    try:
        spec = specs.validate_vnc_spec(module.params)
    except specs.SpecError as e:
        module.fail_json(msg=str(e))
    runner.main_wrapper(module, VncDevice(spec))


if __name__ == "__main__":
    main()
