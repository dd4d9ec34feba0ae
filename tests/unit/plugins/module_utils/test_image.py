# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_image: PPM -> PNG and PNG decoding, checked against the integration target's independent decoder."""

from __future__ import annotations

import importlib.util
import struct
import zlib
from pathlib import Path

import pytest

from ansible_collections.ttyfleet.serial_console.plugins.module_utils import _image as im

_ORACLE = Path(__file__).parents[3] / "integration/targets/domain_screenshot/files/png_check.py"
_spec = importlib.util.spec_from_file_location("png_check", _ORACLE)
oracle = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(oracle)


def ppm(width, height, pixels, maxval=255, header_extra=b""):
    return b"P6\n" + header_extra + b"%d %d\n%d\n" % (width, height, maxval) + bytes(pixels)


def gradient(width, height):
    return [(x * 7 + y * 3) % 256 for y in range(height) for x in range(width) for _c in range(3)]


def test_ppm_to_png_keeps_every_pixel():
    data = ppm(5, 3, gradient(5, 3))
    png, image = im.to_png(data, "image/x-portable-pixmap")
    w, h, rows = oracle.decode(png)
    assert (w, h) == (5, 3) == (image.width, image.height)
    flat = [c for row in rows for px in row for c in px]
    assert flat == gradient(5, 3)
    assert image.is_blank() is False


def test_ppm_comments_and_small_maxval_are_read():
    data = ppm(2, 1, [0, 7, 15, 15, 15, 15], maxval=15, header_extra=b"# made by QEMU\n")
    image = im.parse_ppm(data)
    assert image.rows == [bytes([0, 119, 255, 255, 255, 255])]


def test_blank_display_is_blank():
    png, image = im.to_png(ppm(4, 4, [9] * 48), "image/x-portable-pixmap")
    assert image.is_blank() is True and image.colours() == 1
    assert oracle.decode(png)[2][3][3] == (9, 9, 9)


@pytest.mark.parametrize(
    "data, message",
    [
        (b"P3\n1 1\n255\n000", "not a binary PPM"),
        (b"P6\n2 2\n255\n" + b"\x00" * 5, "truncated"),
        (b"P6\n0 2\n255\n", "outside"),
        (b"P6\n1 1\n65535\n" + b"\x00" * 6, "maxval"),
        (b"GIF89a", "neither PPM nor PNG"),
    ],
)
def test_bad_images_fail_clearly(data, message):
    with pytest.raises(im.ImageError, match=message):
        im.to_png(data, "image/x-portable-pixmap" if data[:1] == b"P" else "")


def _png(width, height, colour_type, rows, filters, palette=None):
    """A PNG written by hand with the given per-row filter types, to exercise every unfilter path."""
    bpp = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[colour_type]
    raw, prev = b"", bytes(width * bpp)
    for f, row in zip(filters, rows):
        out = bytearray()
        for i, v in enumerate(row):
            a = row[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            pred = [0, a, b, (a + b) // 2, oracle._paeth(a, b, c)][f]
            out.append((v - pred) % 256)
        raw += bytes([f]) + bytes(out)
        prev = row

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    body = chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0))
    if palette:
        body += chunk(b"PLTE", palette)
    return im.PNG_SIGNATURE + body + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def test_png_every_filter_and_rgba():
    rows = [bytes((x * 40 + y * 90 + c * 13) % 256 for x in range(4) for c in range(4)) for y in range(5)]
    data = _png(4, 5, 6, rows, [0, 1, 2, 3, 4])
    png, image = im.to_png(data, "image/png")
    assert png == data  # a PNG is written as it came
    assert image.rows == [bytes(b for i in range(0, 16, 4) for b in r[i : i + 3]) for r in rows]
    expect = oracle.decode(data)[2]
    assert [bytes(c for px in row for c in px) for row in expect] == image.rows


def test_png_palette_and_grey():
    pal = bytes([0, 0, 0, 255, 255, 255, 10, 20, 30])
    image = im.decode_png(_png(3, 1, 3, [bytes([0, 1, 2])], [0], palette=pal))
    assert image.rows == [pal]
    grey = im.decode_png(_png(2, 1, 0, [bytes([5, 6])], [1]))
    assert grey.rows == [bytes([5, 5, 5, 6, 6, 6])]


def test_png_corruption_is_caught():
    data = bytearray(_png(2, 2, 2, [bytes(6), bytes(6)], [0, 0]))
    data[-20] ^= 0xFF  # inside IDAT: its CRC no longer matches
    with pytest.raises(im.ImageError, match="CRC"):
        im.decode_png(bytes(data))
    with pytest.raises(im.ImageError, match="not a PNG"):
        im.decode_png(b"\x89PNG")
