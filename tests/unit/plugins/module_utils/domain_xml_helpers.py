# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Namespace-aware, whitespace-blind comparison of XML documents for the domain XML tests."""

from __future__ import annotations

import xml.etree.ElementTree as ET


def _parse(text):
    parser = ET.XMLParser(target=ET.TreeBuilder(insert_comments=True))
    parser.feed(text)
    return parser.close()


def semantic(node_or_text):
    """A comparable tree: expanded names (namespace URI, not prefix), attributes, stripped text, comments."""
    node = _parse(node_or_text) if isinstance(node_or_text, str) else node_or_text
    tag = "#comment" if node.tag is ET.Comment else node.tag
    text = (node.text or "").strip()
    return (tag, tuple(sorted(node.attrib.items())), text, tuple(semantic(c) for c in node))


def without(text, drop):
    """The document with every devices/* child for which drop(elem) is true removed."""
    root = _parse(text)
    devices = root.find("devices")
    if devices is not None:
        for child in list(devices):
            if child.tag is not ET.Comment and drop(child):
                devices.remove(child)
        if not len(devices) and not (devices.text or "").strip():
            root.remove(devices)
    return semantic(root)


def is_serial_kind(elem):
    return elem.tag in ("serial", "console")


def is_vnc(elem):
    return elem.tag == "graphics" and elem.get("type") == "vnc"
