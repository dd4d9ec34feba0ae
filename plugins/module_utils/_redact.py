# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one home of secret redaction in text that leaves a module (messages, warnings, transcripts). Pure.

Two cases:

* ``redact(text, secrets)``: a secret the module knows (a password option) is replaced wherever it appears,
  also in its XML-escaped spellings (``&apos;`` ``&#39;`` ``&quot;`` ``&amp;`` ...), which Ansible's no_log masking
  does not recognise.
* ``redact_attributes(text)``: a secret the module does not know. libvirt's XML errors quote the offending line of
  the definition (``(domain_definition):5: Attribute passwd redefined\\n<graphics type='vnc' passwd='...'``), so
  the value of every ``passwd=`` / ``password=`` attribute is replaced, in every quoting: ``'``, ``"``, the
  entities ``&apos;`` ``&quot;`` ``&#39;`` ``&#34;`` ``&#x27;`` ``&#x22;``, backslash-escaped quotes, or none.

Redact before any cut: a transcript or a message shortened first can keep a part of the secret.
"""

from __future__ import annotations

import re

REDACTED = "********"

# Longest spellings first, so that ``&apos;`` is not read as an unquoted value starting with ``&``.
_QUOTES = ("&apos;", "&quot;", "&#x27;", "&#x22;", "&#39;", "&#34;", "\\'", '\\"', "'", '"')
_ATTR_RE = re.compile(
    r"(?P<key>\b(?:passwd|password)\s*=\s*)"
    r"(?:(?P<quote>" + "|".join(re.escape(q) for q in _QUOTES) + r")|(?=[^\s'\"]))",
    re.IGNORECASE,
)
_UNQUOTED_END_RE = re.compile(r"[\s,;>]|/>")

_XML_ESCAPES = (
    ("&", ("&amp;",)),
    ("'", ("&apos;", "&#39;", "&#x27;")),
    ('"', ("&quot;", "&#34;", "&#x22;")),
    ("<", ("&lt;",)),
    (">", ("&gt;",)),
)


def _spellings(secret):
    """``secret`` and the ways an XML serialiser may have escaped it."""
    out = {secret}
    if any(c in secret for c, _forms in _XML_ESCAPES):
        amp = secret.replace("&", "&amp;")
        for variant in range(3):  # each quote style's first, second and third entity form
            text = amp
            for char, forms in _XML_ESCAPES[1:]:
                text = text.replace(char, forms[min(variant, len(forms) - 1)])
            out.add(text)
    return out


def redact(text, secrets):
    """Replace every occurrence of each non-empty secret in ``text`` (also XML-escaped) with ``REDACTED``."""
    if text is None:
        return None
    spellings = set()
    for secret in secrets:
        if secret:
            spellings |= _spellings(secret)
    for spelling in sorted(spellings, key=len, reverse=True):
        text = text.replace(spelling, REDACTED)
    return text


def redact_attributes(text):
    """Replace the value of every ``passwd=``/``password=`` attribute in ``text`` with ``REDACTED``."""
    if not text:
        return text
    out, pos = [], 0
    while True:
        m = _ATTR_RE.search(text, pos)
        if m is None:
            break
        out.append(text[pos:m.end()])
        quote = m.group("quote")
        if quote:
            close = text.find(quote, m.end())
            line_end = text.find("\n", m.end())
            line_end = len(text) if line_end == -1 else line_end
            if close == -1 or close > line_end:  # a cut line: everything up to its end may be the secret
                close = line_end
            out.append(REDACTED)
            pos = close
            if close < len(text) and text.startswith(quote, close):
                out.append(quote)
                pos = close + len(quote)
        else:
            end = _UNQUOTED_END_RE.search(text, m.end())
            out.append(REDACTED)
            pos = end.start() if end else len(text)
    out.append(text[pos:])
    return "".join(out)


def redact_all(text, secrets=()):
    """Both: the known secrets, then any password attribute."""
    return redact_attributes(redact(text, secrets))


def redact_result(value, secrets=()):
    """``redact_all`` over every string in a result (dicts, lists, tuples), keys kept as they are."""
    if isinstance(value, str):
        return redact_all(value, secrets)
    if isinstance(value, dict):
        return {k: redact_result(v, secrets) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(redact_result(v, secrets) for v in value)
    return value
