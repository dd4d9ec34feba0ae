# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Pure: a libvirt screenshot (PNG, or PPM) in, PNG bytes and the decoded pixels out. stdlib only (zlib, struct).

libvirt hands out what the hypervisor gives it: QEMU's screendump writes PNG where libvirt (9+) asks for it and
binary PPM (P6) otherwise, which few image viewers an operator has at hand open; PNG is what they open. A display
that is one colour from edge to edge (a switched-off framebuffer, a blank VGA) is reported as ``blank``: it says
nothing about where the guest is.
"""

from __future__ import annotations

import struct
import zlib

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_SIDE = 16384  # no real display is larger; a bigger header is a corrupt image, not a screenshot


class ImageError(ValueError):
    """The screenshot's bytes are not an image this module understands; the text says why."""


class Image:
    """An 8-bit RGB image: ``rows`` is a list of ``height`` byte strings of ``3 * width`` bytes each."""

    def __init__(self, width, height, rows):
        self.width = width
        self.height = height
        self.rows = rows

    def is_blank(self):
        """True when every pixel has the same colour."""
        first = self.rows[0][:3]
        row = first * self.width
        return all(r == row for r in self.rows)

    def colours(self, limit=256):
        """The number of distinct colours, counted up to ``limit`` (enough to tell text from a blank screen)."""
        seen = set()
        for r in self.rows:
            for i in range(0, len(r), 3):
                seen.add(r[i : i + 3])
                if len(seen) >= limit:
                    return limit
        return len(seen)


def _ppm_tokens(data, count):
    """The first ``count`` header tokens of a PPM and the offset just after the single whitespace that ends them."""
    tokens = []
    i = 0
    n = len(data)
    while len(tokens) < count:
        while i < n and data[i : i + 1] in b" \t\r\n":
            i += 1
        if i < n and data[i : i + 1] == b"#":
            while i < n and data[i : i + 1] not in b"\r\n":
                i += 1
            continue
        start = i
        while i < n and data[i : i + 1] not in b" \t\r\n#":
            i += 1
        if start == i:
            raise ImageError("truncated PPM header")
        tokens.append(data[start:i])
    if i >= n or data[i : i + 1] not in b" \t\r\n":
        raise ImageError("truncated PPM header")
    return tokens, i + 1


def parse_ppm(data):
    """Decode a binary PPM (P6) of maxval 255 (what QEMU writes) or below, scaled to 8 bits."""
    if data[:2] != b"P6":
        raise ImageError("not a binary PPM (P6) image: it starts with %r" % data[:8])
    tokens, offset = _ppm_tokens(data, 4)
    try:
        width, height, maxval = (int(t) for t in tokens[1:])
    except ValueError:
        raise ImageError("PPM header has a non-numeric width, height or maxval") from None
    if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
        raise ImageError("PPM size %dx%d is outside 1..%d" % (width, height, MAX_SIDE))
    if not 0 < maxval < 256:
        raise ImageError("PPM maxval %d is not supported (1..255)" % maxval)
    stride = 3 * width
    pixels = data[offset : offset + stride * height]
    if len(pixels) != stride * height:
        raise ImageError("PPM data is truncated: %d of %d bytes" % (len(pixels), stride * height))
    if maxval != 255:
        pixels = bytes((v * 255 + maxval // 2) // maxval for v in pixels)
    return Image(width, height, [pixels[y * stride : (y + 1) * stride] for y in range(height)])


def _chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def encode_png(image):
    """An 8-bit RGB, non-interlaced PNG of ``image`` (filter type 0 on every row)."""
    header = struct.pack(">IIBBBBB", image.width, image.height, 8, 2, 0, 0, 0)
    raw = b"".join(b"\x00" + row for row in image.rows)
    return PNG_SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw, 9)) + _chunk(b"IEND", b"")


def png_size(data):
    """(width, height) from a PNG's IHDR, after checking its signature and the IHDR's CRC."""
    if data[:8] != PNG_SIGNATURE or data[12:16] != b"IHDR" or len(data) < 33:
        raise ImageError("not a PNG image")
    if struct.unpack(">I", data[29:33])[0] != zlib.crc32(data[12:29]) & 0xFFFFFFFF:
        raise ImageError("PNG header CRC mismatch")
    return struct.unpack(">II", data[16:24])


def _unfilter(kind, line, prev, bpp):
    """Undo one PNG scanline filter (type ``kind``) given the previous, already unfiltered line."""
    out = bytearray(line)
    n = len(out)
    if kind == 0:
        return out
    if kind == 1:
        for i in range(bpp, n):
            out[i] = (out[i] + out[i - bpp]) & 0xFF
    elif kind == 2:
        for i in range(n):
            out[i] = (out[i] + prev[i]) & 0xFF
    elif kind == 3:
        for i in range(n):
            left = out[i - bpp] if i >= bpp else 0
            out[i] = (out[i] + ((left + prev[i]) >> 1)) & 0xFF
    elif kind == 4:
        for i in range(n):
            a = out[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            out[i] = (out[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
    else:
        raise ImageError("PNG scanline filter type %d is not defined" % kind)
    return out


def decode_png(data):
    """Decode an 8-bit, non-interlaced PNG (grey, RGB, palette, grey+alpha or RGBA) to RGB rows.

    Alpha is dropped: a screenshot of a display is opaque."""
    width, height = png_size(data)
    depth, colour, _comp, _filter, interlace = data[24:29]
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}.get(colour)
    if channels is None or depth != 8:
        raise ImageError("PNG colour type %d at bit depth %d is not supported (8-bit only)" % (colour, depth))
    if interlace:
        raise ImageError("interlaced PNG is not supported")
    if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
        raise ImageError("PNG size %dx%d is outside 1..%d" % (width, height, MAX_SIDE))
    idat = []
    palette = None
    i = 8
    while i + 12 <= len(data):
        (length,) = struct.unpack(">I", data[i : i + 4])
        kind = data[i + 4 : i + 8]
        body = data[i + 8 : i + 8 + length]
        if len(body) != length or i + 12 + length > len(data):
            raise ImageError("PNG chunk %r is truncated" % kind)
        if struct.unpack(">I", data[i + 8 + length : i + 12 + length])[0] != zlib.crc32(kind + body) & 0xFFFFFFFF:
            raise ImageError("PNG chunk %r has a bad CRC" % kind)
        if kind == b"IDAT":
            idat.append(body)
        elif kind == b"PLTE":
            palette = body
        elif kind == b"IEND":
            break
        i += 12 + length
    else:
        raise ImageError("PNG has no IEND chunk (truncated)")
    try:
        raw = zlib.decompress(b"".join(idat))
    except zlib.error as e:
        raise ImageError("PNG image data does not inflate: %s" % e) from None
    stride = width * channels
    if len(raw) != height * (stride + 1):
        raise ImageError("PNG image data holds %d bytes, %d expected" % (len(raw), height * (stride + 1)))
    if colour == 3 and palette is None:
        raise ImageError("palette PNG without a PLTE chunk")
    rows = []
    prev = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        line = _unfilter(raw[start], raw[start + 1 : start + 1 + stride], prev, channels)
        prev = line
        if colour == 2:
            rows.append(bytes(line))
        elif colour == 6:
            rows.append(bytes(b for x in range(0, stride, 4) for b in line[x : x + 3]))
        elif colour == 0:
            rows.append(bytes(v for v in line for _copy in range(3)))
        elif colour == 4:
            rows.append(bytes(line[x] for x in range(0, stride, 2) for _copy in range(3)))
        else:
            if max(line) * 3 + 3 > len(palette):
                raise ImageError("PNG palette index out of range")
            rows.append(b"".join(palette[v * 3 : v * 3 + 3] for v in line))
    return Image(width, height, rows)


def to_png(data, mime):
    """(png_bytes, Image) for a screenshot of MIME type ``mime``: a PPM is converted, a PNG written as it came
    (and decoded, to tell a blank display from one that shows something)."""
    if mime in ("image/x-portable-pixmap", "image/x-portable-anymap") or data[:2] == b"P6":
        image = parse_ppm(data)
        return encode_png(image), image
    if mime == "image/png" or data[:8] == PNG_SIGNATURE:
        return data, decode_png(data)
    raise ImageError("the hypervisor returned a %s screenshot, which is neither PPM nor PNG" % (mime or "untyped"))
