# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_redact: password attributes in every quoting libvirt and XML serialisers produce, known secrets in their
XML-escaped spellings. The first case is libvirt 9.0's real parser error for a duplicated attribute."""

from __future__ import annotations

import pytest

from ansible_collections.ttyfleet.serial_console.plugins.module_utils._redact import (
    REDACTED,
    redact,
    redact_attributes,
    redact_result,
)

LIBVIRT_9_ERROR = (
    "(domain_definition):1: Attribute passwd redefined\n"
    "<domain type='test'><name>x</name><devices><graphics type='vnc' passwd='s3cr&apos;et' passwd='again'/>"
    "</devices></domain>\n"
    "-------------------------------------------------------------------^"
)


@pytest.mark.parametrize("text, secret", [
    (LIBVIRT_9_ERROR, "s3cr&apos;et"),
    (LIBVIRT_9_ERROR, "again"),
    ("<graphics passwd=\"pa'ss\"/>", "pa'ss"),
    ("graphics passwd=&apos;hunter2&apos; port=&apos;5900&apos;", "hunter2"),
    ("graphics passwd=&quot;hunter2&quot; listen", "hunter2"),
    ("passwd=&#39;hunter2&#39;", "hunter2"),
    ("passwd=&#x27;hunter2&#x27;", "hunter2"),
    ("passwd=\\'hunter2\\' port", "hunter2"),
    ("PASSWORD = 'hunter2'", "hunter2"),
    ("-vnc 127.0.0.1:0,password=hunter2,lossy", "hunter2"),
    ("<graphics type='vnc' passwd='a line cut in the middle of the pass", "the pass"),
    ("passwd='' port='1'", "''"),
])
def test_password_attributes_are_redacted_in_every_quoting(text, secret):
    out = redact_attributes(text)
    assert secret not in out if secret != "''" else "passwd='********'" in out
    assert REDACTED in out


def test_the_rest_of_the_message_stays():
    out = redact_attributes(LIBVIRT_9_ERROR)
    assert out.startswith("(domain_definition):1: Attribute passwd redefined\n<domain type='test'>")
    assert "passwd='********' passwd='********'/>" in out and out.endswith("^")


@pytest.mark.parametrize("text", ["password must be 1-8 characters", "password_set: true", "no passwd here"])
def test_words_that_are_no_attribute_are_left_alone(text):
    assert redact_attributes(text) == text


@pytest.mark.parametrize("spelling", ["pa'ss&1", "pa&apos;ss&amp;1", "pa&#39;ss&amp;1", "pa&#x27;ss&amp;1"])
def test_known_secret_in_its_escaped_spellings(spelling):
    assert redact("libvirt said: %s." % spelling, ["pa'ss&1"]) == "libvirt said: %s." % REDACTED


def test_result_walk_keeps_keys_and_types():
    out = redact_result({"msg": "passwd='x1'", "domains": [{"changes": ("a", "pw ok")}], "n": 3}, ["ok"])
    assert out == {"msg": "passwd='%s'" % REDACTED, "domains": [{"changes": ("a", "pw %s" % REDACTED)}], "n": 3}
