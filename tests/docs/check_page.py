# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The docs site's domain_serial page, as Chromium rendered it (called by tests/docs/docs.sh).

  check_page.py DOM.html ANSIBLE_DOC.json SHOT.png SHOT_WITHOUT_TABLE.png WIDTH HEIGHT
- the DOM (chromium --dump-dom) has the options table, with a row for every option ansible-doc lists;
- the screenshot is a PNG of WIDTH x HEIGHT that is not blank, and differs from the one with the option tables
  made invisible (same layout) in a band of rows: the table is on screen.
"""

import json
import re
import sys

from ansible_collections.ttyfleet.serial_console.plugins.module_utils._image import decode_png


def main():
    dom_file, doc_file, shot, shot_without, width, height = sys.argv[1:]
    width, height = int(width), int(height)
    dom = open(dom_file, encoding="utf-8").read()
    options = sorted(json.load(open(doc_file))["ttyfleet.serial_console.domain_serial"]["doc"]["options"])
    problems = []
    start = dom.find('class="longtable ansible-option-table')
    if start < 0:
        problems.append("the DOM has no options table (table.ansible-option-table)")
    table = dom[start : dom.find("</table>", start)] if start >= 0 else ""
    rows = set(re.findall(r'id="parameter-([A-Za-z0-9_]+)"', table))
    missing = [o for o in options if o not in rows]
    if missing:
        problems.append("options without a row in the first options table: %s" % missing)

    img = decode_png(open(shot, "rb").read())
    without = decode_png(open(shot_without, "rb").read())
    if (img.width, img.height) != (width, height):
        problems.append("screenshot is %dx%d, expected %dx%d" % (img.width, img.height, width, height))
    colours = img.colours()
    if colours < 16:
        problems.append("screenshot has %d colour(s): blank or nearly" % colours)
    # the largest band of consecutive rows that differ is the table (a blinking caret in the search box may differ too)
    band, run = (0, -1), None
    for y in range(min(img.height, without.height)):
        if img.rows[y] != without.rows[y]:
            run = (run[0], y) if run and run[1] == y - 1 else (y, y)
            if run[1] - run[0] > band[1] - band[0]:
                band = run
    if band[1] - band[0] + 1 < height // 10:
        problems.append("only %d of %d screenshot rows show the options table (want >= %d)"
                        % (band[1] - band[0] + 1, height, height // 10))
    for p in problems:
        print("[docs]   " + p, file=sys.stderr)
    if not problems:
        print("[docs] domain_serial page: options table with all %d options in the DOM; screenshot %dx%d, %s colours, "
              "the table on rows %d-%d" % (len(options), img.width, img.height, colours, band[0], band[1]),
              file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
