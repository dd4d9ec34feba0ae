# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The domain XML document: parse once, serialise faithfully, edit devices in place, and the Plan a planner returns.

Pure (stdlib ``xml.etree`` only): no AnsibleModule, no libvirt. Part of the host XML core, with
``_domain_spec`` (options), ``_serial_plan``, ``_vnc_plan`` and ``_domain_runtime`` (live against persistent).

``DomainDoc`` wraps one domain's XML text and parses it at most once, on first use; every query of the core takes a
``DomainDoc`` (or text, wrapped on the spot), so a module that asks five questions of one domain parses it once.
Queries never change ``doc.root``; a planner edits a tree of its own (``doc.fresh_root()``), because the plan's
tree becomes the new document.

What is carried over: the rest of the document (foreign-namespace metadata with its declared prefixes,
``qemu:commandline``, other devices, comments, processing instructions, a ``&#13;`` in text) comes out as it went in.
"""

from __future__ import annotations

import copy
import re
import xml.etree.ElementTree as ET

from ansible_collections.ttyfleet.serial_console.plugins.module_utils._redact import REDACTED

_XMLNS_RE = re.compile(r"""xmlns:([A-Za-z_][\w.-]*)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_MARKUP_RE = re.compile(r"(<!--.*?-->|<!\[CDATA\[.*?\]\]>|<[^>]*>)", re.S)
_ROOT_RE = re.compile(r"^\s*(?:<\?xml[^>]*\?>\s*)?<domain[\s>]")
_OS_TYPE_RE = re.compile(r"<os(?:\s[^>]*)?>.*?</os>", re.S)
_MINI_PATTERNS = {}


class DomainXMLError(ValueError):
    """The domain XML itself cannot be parsed or does not look like a domain. ``parse_error`` is the parser's own
    message (None when the text is empty or well-formed), ``root_tag`` the root element of a non-domain."""

    def __init__(self, msg, parse_error=None, root_tag=None):
        super().__init__(msg)
        self.parse_error = parse_error
        self.root_tag = root_tag


class PlanError(ValueError):
    """The request cannot be applied to this particular domain (for example duplicate ports already there)."""


# --------------------------------------------------------------------------------------------- the document

class DomainDoc:
    """One domain's XML text, parsed at most once (``root``), with the cheap reads the core needs.

    ``root`` is shared by every query and must not be changed; ``fresh_root()`` and ``fresh_devices()`` give a
    planner trees of its own."""

    __slots__ = ("text", "_root", "_platform")

    def __init__(self, text):
        self.text = text
        self._root = None
        self._platform = None

    @classmethod
    def of(cls, doc_or_text):
        return doc_or_text if isinstance(doc_or_text, cls) else cls(doc_or_text)

    @property
    def root(self):
        if self._root is None:
            self._root = parse_domain(self.text)
        return self._root

    @property
    def devices(self):
        """The <devices> element of the shared tree, or None."""
        return self.root.find("devices")

    def fresh_root(self):
        """A tree to edit: parsed again from the text (as cheap as a deep copy, and the text is the truth)."""
        return parse_domain(self.text)

    def fresh_devices(self, tags):
        """A <devices> element holding only the children named in ``tags``, cut from the text without building the
        whole tree (see ``_mini_devices``); None when the cut cannot be trusted and the planner must use
        ``fresh_root()``."""
        return _mini_devices(self.text, tags)

    @property
    def platform(self):
        """(arch, machine) from <os><type arch machine>, either may be None. Before the tree is parsed, only <os>
        is parsed (the fast path); anything odd falls back to the full parse."""
        if self._platform is None:
            t = None
            if self._root is None:
                m = _OS_TYPE_RE.search(self.text) if isinstance(self.text, str) else None
                try:
                    os_elem = ET.fromstring(m.group(0)) if m else None
                except ET.ParseError:
                    os_elem = None
                t = os_elem.find("type") if os_elem is not None else self.root.find("os/type")
            else:
                t = self._root.find("os/type")
            self._platform = (None, None) if t is None else (t.get("arch"), t.get("machine"))
        return self._platform

    def first(self, tag, **attrs):
        """The first device <tag> whose attributes match ``attrs``, or None (shared tree: read only)."""
        devices = self.devices
        if devices is None:
            return None
        for elem in devices.findall(tag):
            if all(elem.get(k) == v for k, v in attrs.items()):
                return elem
        return None


def platform_of(root_or_text):
    """(arch, machine) of a domain given as a parsed root, a DomainDoc or text."""
    if isinstance(root_or_text, ET.Element):
        t = root_or_text.find("os/type")
        return (None, None) if t is None else (t.get("arch"), t.get("machine"))
    return DomainDoc.of(root_or_text).platform


# --------------------------------------------------------------------------------------------- parse / serialise

def parse_domain(xml_text):
    """Parse domain XML; raise DomainXMLError naming line and column on malformed input."""
    if not isinstance(xml_text, str) or not xml_text.strip():
        raise DomainXMLError("domain XML is empty")
    parser = ET.XMLParser(target=ET.TreeBuilder(insert_comments=True, insert_pis=True))
    try:
        parser.feed(_protect_cr(xml_text))
        root = parser.close()
    except ET.ParseError as e:
        line, column = e.position
        raise DomainXMLError("malformed domain XML at line %d, column %d: %s" % (line, column, e), str(e)) from e
    if root.tag != "domain":
        raise DomainXMLError("not a domain XML document: root element is <%s>" % root.tag, root_tag=root.tag)
    return root


def _protect_cr(xml_text):
    """libvirt writes a carriage return in text (a ``&#13;`` in <description>) as a raw CR, which any XML parser
    turns into a line feed. Written as a character reference it survives the parse; serialize writes it back
    the same way, so libvirt reads the same text again."""
    if "\r" not in xml_text:
        return xml_text
    parts = _MARKUP_RE.split(xml_text)
    return "".join(part if i % 2 else part.replace("\r", "&#13;") for i, part in enumerate(parts))


def serialize(root, original_text):
    """Serialise a domain, keeping the namespace prefixes the original text declared (ElementTree would
    otherwise rename ``qemu:`` to ``ns0:``). The prefix map is process-global in ElementTree, so it is
    (re)registered right before every serialisation."""
    for m in _XMLNS_RE.finditer(original_text):
        prefix, uri = m.group(1), m.group(2) if m.group(2) is not None else m.group(3)
        try:
            ET.register_namespace(prefix, uri)
        except ValueError:  # reserved "nsN" prefixes: ElementTree picks its own, still the same namespace
            pass
    # A CR left in the text can only come from a character reference (see _protect_cr); attributes are escaped
    # by ElementTree itself.
    return ET.tostring(root, encoding="unicode").replace("\r", "&#13;")


def element_text(elem, drop=()):
    """One element as text without its tail (for libvirt's device calls); children named in ``drop`` left out.
    The shared tree is never changed."""
    e = copy.deepcopy(elem)
    e.tail = None
    for tag in drop:
        for child in e.findall(tag):
            e.remove(child)
    return ET.tostring(e, encoding="unicode")


def _mini_devices(xml_text, tags):
    """A <devices> element holding only the children named in tags, cut from the text without building the
    whole tree; None whenever the cut cannot be trusted (comments, CDATA, several <devices>, anything odd),
    and then the caller parses the full document.

    The rest of the document is not parsed here: libvirt's formatter always produces well-formed XML, and any
    change is planned on the full parse, which rejects malformed XML with its line and column. A document that
    does not even start with <domain> and end with </domain> (a truncated read) always takes the full path."""
    if not isinstance(xml_text, str) or "<!--" in xml_text or "<![CDATA[" in xml_text or "<!DOCTYPE" in xml_text:
        return None
    if not _ROOT_RE.match(xml_text) or not xml_text.rstrip().endswith("</domain>"):
        return None
    start = xml_text.find("<devices>")
    end = xml_text.find("</devices>")
    if start < 0 or end < start:
        return None
    if xml_text.find("<devices", start + 1) >= 0 or xml_text.find("</devices>", end + 1) >= 0:
        return None
    body = xml_text[start + len("<devices>"):end]
    pattern = _mini_pattern(tags)
    found = [m.group(0) for m in pattern.finditer(body)]
    if len(found) != sum(len(re.findall(r"<%s[\s/>]" % t, body)) for t in tags):
        return None
    try:
        devices = ET.fromstring("<devices>%s</devices>" % "".join(found))
    except ET.ParseError:
        return None
    return devices


def _mini_pattern(tags):
    if tags not in _MINI_PATTERNS:
        names = "|".join(tags)
        _MINI_PATTERNS[tags] = re.compile(r"<(%s)(?=[\s/>])[^>]*?/>|<(%s)(?=[\s/>])[^>]*>.*?</\2\s*>" % (names, names),
                                          re.S)
    return _MINI_PATTERNS[tags]


# --------------------------------------------------------------------------------------------- editing devices

def devices_of(root, create=False):
    devices = root.find("devices")
    if devices is None and create:
        devices = ET.SubElement(root, "devices")
        ET.indent(root, space="  ")  # only when <devices> itself had to be created: the whole (small) document
    return devices


def _child_indent(parent, depth):
    text = parent.text or ""
    if text.strip() == "" and "\n" in text:
        return text
    return "\n" + "  " * depth


def insert(parent, index, elem, depth):
    """Insert elem into parent at index, indented like its siblings."""
    ET.indent(elem, space="  ", level=depth)
    children = list(parent)
    sibling_indent = _child_indent(parent, depth)
    if not children:
        parent.text = sibling_indent
        elem.tail = "\n" + "  " * (depth - 1)
        parent.insert(0, elem)
        return
    if index >= len(children):
        last = children[-1]
        elem.tail = last.tail
        last.tail = sibling_indent
    else:
        elem.tail = sibling_indent
    parent.insert(index, elem)


def remove(parent, elem):
    children = list(parent)
    i = children.index(elem)
    if i == len(children) - 1 and i > 0:
        children[i - 1].tail = elem.tail
    parent.remove(elem)


def replace(parent, old, new, depth):
    ET.indent(new, space="  ", level=depth)
    new.tail = old.tail
    children = list(parent)
    i = children.index(old)
    parent.remove(old)
    parent.insert(i, new)


def index_before(devices, kinds):
    """The index of the first child whose tag is in kinds (or the end): where a device of a new kind goes."""
    for i, c in enumerate(list(devices)):
        if c.tag in kinds:
            return i
    return len(devices)


def child_index(elem, after):
    """Where a child goes so that libvirt's order (source, protocol, log, target, alias, address) is kept:
    right after the last child whose tag is in after."""
    index = 0
    for i, child in enumerate(list(elem)):
        if child.tag in after:
            index = i + 1
    return index


def copies(elems):
    return [copy.deepcopy(e) for e in elems if e is not None]


def device_text(elems):
    """Serialised device elements for a diff, with any password redacted."""
    out = []
    for e in elems:
        if e is None:
            continue
        shown = ET.fromstring(ET.tostring(e, encoding="unicode"))
        for g in shown.iter("graphics"):
            if "passwd" in g.attrib:
                g.set("passwd", REDACTED)
        shown.tail = None
        ET.indent(shown, space="  ")
        out.append(ET.tostring(shown, encoding="unicode"))
    return "\n".join(out) + ("\n" if out else "")


# --------------------------------------------------------------------------------------------- the plan

class Plan:
    """Result of planning one domain: what changes, the managed devices before and after (for a diff, password
    redacted) and the new document. Text is produced only when asked for: a drift check of many domains in check
    mode never serialises a document."""

    def __init__(self, changes=(), before=None, after=None, root=None, text=None, elems=None, full=None):
        # before/after: lists of device elements (rendered on demand) or text; elems: unchanged devices;
        # full: a callable planning on the whole document, used the first time the new XML is needed.
        self.changes = list(changes)
        self._before = elems if before is None else before
        self._after = after
        self._root, self._text, self._full = root, text, full
        self._xml = None

    def materialize(self):
        """Build the new document now (parsing all of it), so that a malformed document fails here."""
        return self.xml

    @property
    def changed(self):
        return bool(self.changes)

    @property
    def xml(self):
        """The new domain XML, or None when nothing changes."""
        if not self.changes:
            return None
        if self._xml is None:
            if self._root is None:
                full = self._full()
                if full.changes != self.changes:
                    raise PlanError("internal inconsistency: planning the full document gave %s, the devices "
                                    "alone %s" % (full.changes, self.changes))
                self._root, self._text = full._root, full._text
            self._xml = serialize(self._root, self._text)
        return self._xml

    @property
    def before(self):
        if not isinstance(self._before, str):
            self._before = device_text(self._before or [])
        return self._before

    @property
    def after(self):
        if self._after is None:
            return self.before
        if not isinstance(self._after, str):
            self._after = device_text(self._after)
        return self._after
