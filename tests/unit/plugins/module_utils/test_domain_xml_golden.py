# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Golden files: input -> plan -> expected; a re-plan of the output changes nothing; everything outside the
managed devices is untouched; libvirt accepts every output."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from domain_xml_helpers import is_serial_kind, is_vnc, semantic, without

from ansible_collections.ttyfleet.serial_console.plugins.module_utils import _domain_doc as xdoc
from ansible_collections.ttyfleet.serial_console.plugins.module_utils import _domain_spec as specs
from ansible_collections.ttyfleet.serial_console.plugins.module_utils import _redact as redact
from ansible_collections.ttyfleet.serial_console.plugins.module_utils import _serial_plan as sp
from ansible_collections.ttyfleet.serial_console.plugins.module_utils import _vnc_plan as vp

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "domain_xml"
CASES = sorted(p.name for p in FIXTURES.iterdir() if (p / "spec.json").is_file())
REGENERATE = os.environ.get("TTYFLEET_REGENERATE_GOLDEN")


def _load(case):
    d = FIXTURES / case
    spec = json.loads((d / "spec.json").read_text())
    if spec["kind"] == "serial":
        return d, spec, specs.validate_serial_spec(spec["params"]), sp.plan_serial, is_serial_kind
    return d, spec, specs.validate_vnc_spec(spec["params"]), vp.plan_vnc, is_vnc


def _output(case):
    d, _spec, spec, plan_fn, _managed = _load(case)
    text = (d / "input.xml").read_text()
    plan = plan_fn(text, spec)
    return text, plan, (plan.xml if plan.changed else text)


def test_there_are_enough_cases():
    assert len(CASES) >= 20


@pytest.mark.parametrize("case", CASES)
def test_golden(case):
    d, _raw, spec, plan_fn, managed = _load(case)
    text, plan, out = _output(case)
    if REGENERATE:
        target = Path(REGENERATE) / case
        (target / "expected.xml").write_text(out if out.endswith("\n") else out + "\n")
        (target / "changes.json").write_text(json.dumps(plan.changes, indent=2) + "\n")
        d = target
    expected = (d / "expected.xml").read_text()
    assert semantic(out) == semantic(expected)
    assert plan.changes == json.loads((d / "changes.json").read_text())
    # Idempotence: planning on our own output finds nothing to do.
    again = plan_fn(out, spec)
    assert again.changes == [] and again.xml is None
    # Everything outside the managed devices is semantically identical.
    assert without(out, managed) == without(text, managed)


@pytest.mark.parametrize("case", CASES)
def test_namespace_prefixes_survive(case):
    text, _plan, out = _output(case)
    declared = set(re.findall(r"xmlns:([\w.-]+)=", text))
    for prefix in declared:
        assert "xmlns:%s=" % prefix in out
    assert not re.search(r"\bns\d+:", out) or re.search(r"\bns\d+:", text) or 'xmlns="' in text


@pytest.mark.parametrize("case", CASES)
def test_no_password_in_diff_texts(case):
    _text, plan, _out = _output(case)
    for t in (plan.before, plan.after):
        for value in re.findall(r"passwd=['\"]([^'\"]*)['\"]", t):
            assert value == redact.REDACTED
    for change in plan.changes:
        assert "passwd" not in change
        for secret in ("n3wpass", "s3cret", "wide0pen", "oldpass1", "sercet"):
            assert secret not in change


def test_libvirt_accepts_every_output():
    """Define every output on libvirt's test driver (its own domain parser and schema), re-read it and plan
    again: libvirt must keep what we planned."""
    libvirt = pytest.importorskip("libvirt")
    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
    conn = libvirt.open("test:///default")
    try:
        for i, case in enumerate(CASES):
            _d, _raw, spec, plan_fn, _managed = _load(case)
            _text, _plan, out = _output(case)
            out = re.sub(r"<uuid>[^<]*</uuid>", "", out)
            out = re.sub(r"<name>[^<]*</name>", "<name>tf-golden-%d</name>" % i, out, count=1)
            try:
                dom = conn.defineXMLFlags(out, libvirt.VIR_DOMAIN_DEFINE_VALIDATE)
            except libvirt.libvirtError as e:
                if "failed to validate against schema" not in str(e):
                    raise AssertionError("%s: %s" % (case, e)) from e
                # Four corpus files use attributes libvirt 9.0's schema lacks (see the corpus README); their
                # outputs must still be accepted by the parser itself.
                dom = conn.defineXMLFlags(out, 0)
            try:
                stored = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE | libvirt.VIR_DOMAIN_XML_SECURE)
                assert plan_fn(stored, spec).changes == [], case
            finally:
                dom.undefine()
    finally:
        conn.close()


@pytest.mark.parametrize("case", CASES)
def test_fast_path_agrees_with_the_full_parse(case):
    """plan_* decide from the managed devices alone when they can; the full-document plan must agree."""
    d, raw, spec, plan_fn, _managed = _load(case)
    text = (d / "input.xml").read_text()
    fast = plan_fn(text, spec)
    if raw["kind"] == "serial":
        full = sp._plan_serial_full(text, spec)
    else:
        full = vp._plan_vnc_tree(xdoc.parse_domain(text), spec, text)
    assert fast.changes == full.changes
    assert fast.before == full.before and fast.after == full.after
    assert (fast.xml is None) == (full.xml is None)
    if fast.xml is not None:
        assert semantic(fast.xml) == semantic(full.xml)
