# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Test oracle, independent of the collection's own code: decode a PNG file and say whether it is blank.

  png_check.py FILE [--width W --height H] [--min-colours N]
prints {"width", "height", "colours", "bright_fraction"} as JSON and exits 1 when the file is not a valid
8-bit non-interlaced PNG, has another size, or shows fewer than N colours (default 2: one colour = blank).
Also imported by tests (decode() -> (width, height, list of rows of (r, g, b) tuples)).
"""

import argparse
import json
import struct
import sys
import zlib


def _paeth(a, b, c):
    p = a + b - c
    return min((abs(p - a), 0, a), (abs(p - b), 1, b), (abs(p - c), 2, c))[2]


def decode(blob):
    assert blob[:8] == b"\x89PNG\r\n\x1a\n", "PNG signature missing"
    pos, chunks = 8, {}
    while pos < len(blob):
        n, tag = struct.unpack(">I4s", blob[pos:pos + 8])
        body = blob[pos + 8:pos + 8 + n]
        assert zlib.crc32(tag + body) == struct.unpack(">I", blob[pos + 8 + n:pos + 12 + n])[0], "bad CRC in %r" % tag
        chunks.setdefault(tag, []).append(body)
        pos += 12 + n
        if tag == b"IEND":
            break
    assert b"IEND" in chunks, "no IEND"
    w, h, depth, ctype, _comp, _filt, lace = struct.unpack(">IIBBBBB", chunks[b"IHDR"][0])
    assert depth == 8 and lace == 0 and ctype in (0, 2, 3, 4, 6), (depth, ctype, lace)
    bpp = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[ctype]
    raw = zlib.decompress(b"".join(chunks[b"IDAT"]))
    assert len(raw) == h * (1 + w * bpp), "IDAT size %d for %dx%d" % (len(raw), w, h)
    pal = chunks.get(b"PLTE", [b""])[0]
    rows, above = [], [0] * (w * bpp)
    for y in range(h):
        f, cur = raw[y * (1 + w * bpp)], list(raw[y * (1 + w * bpp) + 1:(y + 1) * (1 + w * bpp)])
        for x in range(len(cur)):
            a = cur[x - bpp] if x >= bpp else 0
            c = above[x - bpp] if x >= bpp else 0
            pred = [0, a, above[x], (a + above[x]) // 2, _paeth(a, above[x], c)][f]
            cur[x] = (cur[x] + pred) % 256
        above = cur
        px = [tuple(cur[x:x + bpp]) for x in range(0, len(cur), bpp)]
        if ctype == 3:
            px = [tuple(pal[3 * p[0]:3 * p[0] + 3]) for p in px]
        elif ctype in (0, 4):
            px = [(p[0],) * 3 for p in px]
        else:
            px = [p[:3] for p in px]
        rows.append(px)
    return w, h, rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--width", type=int)
    ap.add_argument("--height", type=int)
    ap.add_argument("--min-colours", type=int, default=2)
    args = ap.parse_args()
    try:
        w, h, rows = decode(open(args.file, "rb").read())
    except (AssertionError, zlib.error, struct.error, IndexError) as e:
        print("png_check: %s is not a valid PNG: %s" % (args.file, e), file=sys.stderr)
        return 1
    colours = {p for r in rows for p in r}
    bright = sum(1 for r in rows for p in r if sum(p) > 3 * 128) / float(w * h)
    print(json.dumps({"width": w, "height": h, "colours": len(colours), "bright_fraction": round(bright, 4)}))
    if (args.width and w != args.width) or (args.height and h != args.height):
        print("png_check: %s is %dx%d, expected %sx%s" % (args.file, w, h, args.width, args.height), file=sys.stderr)
        return 1
    if len(colours) < args.min_colours:
        print("png_check: %s has %d colour(s), fewer than %d: blank" % (args.file, len(colours), args.min_colours),
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
