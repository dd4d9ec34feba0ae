# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Per-domain paths in domain_serial: {name}/{uuid} in log_file and source_path, and the settings that cannot
be shared by several domains (one log file, one file or listening socket, one listening TCP port)."""

from __future__ import annotations

import pytest

from ansible_collections.ttyfleet.serial_console.plugins.module_utils import _domain_doc as xdoc
from ansible_collections.ttyfleet.serial_console.plugins.module_utils import _domain_spec as specs
from ansible_collections.ttyfleet.serial_console.plugins.module_utils import _serial_plan as sp

UUID = "0b6f2c57-3c84-4b4e-9a53-1b7f6d0c1a2e"
BARE = """<domain type='qemu'><name>web1</name><memory unit='MiB'>64</memory>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
  </devices>
</domain>"""


def serial(**kw):
    return specs.validate_serial_spec(kw)


# ----------------------------------------------------------------------------------------- substitution

def test_name_and_uuid_are_substituted():
    spec = serial(log_file="/var/log/libvirt/qemu/{name}-serial0.log", log_append=True)
    assert spec.per_domain and not spec.needs_uuid
    web1 = spec.for_domain("web1")
    assert web1.log_file == "/var/log/libvirt/qemu/web1-serial0.log" and web1.log_append
    assert spec.log_file == "/var/log/libvirt/qemu/{name}-serial0.log"  # the template itself is kept
    unix = serial(source_type="unix", source_path="/run/tf/{name}/{uuid}.sock", log_file="/l/{uuid}.{name}")
    assert unix.needs_uuid
    resolved = unix.for_domain("db-1", UUID)
    assert resolved.source_path == "/run/tf/db-1/%s.sock" % UUID
    assert resolved.log_file == "/l/%s.db-1" % UUID


def test_without_placeholder_the_spec_is_shared_unchanged():
    spec = serial(log_file="/var/log/one.log")
    assert not spec.per_domain and spec.for_domain("web1") is spec


def test_the_plan_uses_the_resolved_path():
    spec = serial(log_file="/var/log/libvirt/qemu/{name}-serial0.log")
    plan = sp.plan_serial(BARE, spec.for_domain("web1"))
    assert plan.changes[0] == ("add serial port 0 (pty, log /var/log/libvirt/qemu/web1-serial0.log (append off), "
                               "isa-serial)")
    assert "<log file=\"/var/log/libvirt/qemu/web1-serial0.log\" append=\"off\" />" in plan.xml
    assert "{name}" not in plan.xml


@pytest.mark.parametrize("name", ["a/b", ".", ".."])
def test_names_that_cannot_be_a_path_component(name):
    spec = serial(log_file="/var/log/{name}.log")
    with pytest.raises(xdoc.PlanError, match="cannot be put into a path"):
        spec.for_domain(name)


def test_a_name_with_xml_characters_is_escaped_in_the_document():
    plan = sp.plan_serial(BARE, serial(log_file="/var/log/{name}.log").for_domain("a&b<c>'\""))
    assert "/var/log/a&amp;b&lt;c&gt;'&quot;.log" in plan.xml


# ----------------------------------------------------------------------------------------- bad placeholders

@pytest.mark.parametrize("params, message", [
    ({"log_file": "/var/log/{foo}.log"}, r"log_file '/var/log/\{foo\}.log' has an unknown placeholder \{foo\}"),
    ({"log_file": "/var/log/{}.log"}, r"unknown placeholder \{\}"),
    ({"log_file": "/var/log/{name!r}.log"}, r"unknown placeholder \{name!r\}"),
    ({"log_file": "/var/log/{name:>9}.log"}, r"unknown placeholder \{name:>9\}"),
    ({"log_file": "/var/log/{NAME}.log"}, r"unknown placeholder \{NAME\}"),
    ({"log_file": "/var/log/{name.log"}, "has a stray brace"),
    ({"log_file": "/var/log/name}.log"}, "has a stray brace"),
    ({"log_file": "/var/log/{{name}}.log"}, r"unknown placeholder \{\}"),
    ({"log_file": "/var/{name/x}.log"}, "has a stray brace"),
    ({"source_type": "file", "source_path": "/tmp/{domain}.out"}, r"source_path .* unknown placeholder \{domain\}"),
    ({"source_type": "unix", "source_path": "/tmp/}{name}.sock"}, "source_path .* has a stray brace"),
])
def test_unknown_placeholders_and_stray_braces_fail(params, message):
    with pytest.raises(specs.SpecError, match=message):
        specs.validate_serial_spec(params)


def test_absent_ignores_the_paths_as_before():
    assert serial(state="absent", log_file="/var/log/{foo}").state == "absent"


# ----------------------------------------------------------------------------------------- shared settings

THREE = ["a", "b", "c"]


@pytest.mark.parametrize("params, names, message", [
    ({"log_file": "/var/log/libvirt/qemu/serial0.log"}, THREE,
     "log_file /var/log/libvirt/qemu/serial0.log would be shared by 3 domains (a, b, c); put {name} in it, "
     "for example /var/log/libvirt/qemu/{name}-serial0.log"),
    ({"port": 2, "log_file": "/l.log"}, ["x", "y"], "example /var/log/libvirt/qemu/{name}-serial2.log"),
    ({"source_type": "file", "source_path": "/tmp/out"}, THREE,
     "source_path /tmp/out would be shared by 3 domains (a, b, c); put {name} in it"),
    ({"source_type": "unix", "source_path": "/tmp/s.sock"}, THREE, "source_path /tmp/s.sock would be shared"),
    ({"source_type": "unix", "source_mode": "bind", "source_path": "/tmp/s.sock"}, THREE, "would be shared"),
    ({"source_type": "tcp", "source_host": "127.0.0.1", "source_port": 4000}, THREE,
     "a tcp source with source_mode bind listens on 127.0.0.1:4000, which can serve one domain, not 3 (a, b, c)"),
    ({"source_type": "tcp", "source_mode": "bind", "source_host": "::1", "source_port": 4000,
      "log_file": "/var/log/{name}.log"}, THREE, "listens on ::1:4000"),
    ({"log_file": "/x.log"}, ["d%d" % i for i in range(7)], "shared by 7 domains (d0, d1, d2, d3, d4 and 2 more)"),
])
def test_settings_shared_by_several_domains_are_refused(params, names, message):
    problem = specs.shared_source_problem(serial(**params), names)
    assert problem is not None and message in problem


def test_all_shared_settings_are_named_at_once():
    spec = serial(source_type="file", source_path="/tmp/out", log_file="/tmp/log")
    problem = specs.shared_source_problem(spec, ["a", "b"])
    assert "log_file /tmp/log" in problem and "source_path /tmp/out" in problem


@pytest.mark.parametrize("params, names", [
    ({"log_file": "/var/log/x.log"}, ["only"]),  # one domain: unchanged behaviour
    ({"source_type": "tcp", "source_host": "127.0.0.1", "source_port": 1}, ["only"]),
    ({"log_file": "/var/log/{name}.log"}, THREE),
    ({"log_file": "/var/log/{uuid}.log"}, THREE),
    ({"source_type": "file", "source_path": "/tmp/{name}.out"}, THREE),
    ({"source_type": "unix", "source_mode": "connect", "source_path": "/run/console-server.sock"}, THREE),
    ({"source_type": "tcp", "source_mode": "connect", "source_host": "127.0.0.1", "source_port": 514}, THREE),
    ({}, THREE),  # pty
    ({"state": "absent", "log_file": "/x.log"}, THREE),
])
def test_settings_that_several_domains_can_share(params, names):
    assert specs.shared_source_problem(serial(**params), names) is None
