# -*- coding: utf-8 -*-
# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The audit report's files as text: audit.json, audit.md (the summary, then every guest) and audit.junit.xml.
Pure: the report (``_fleet_report.audit_report``) in, text out.

Rendered here rather than by Jinja templates: at 10,000 guests ansible-core 2.19 templates every value of the
report again for each file it writes (~10-20 s a file on this 2-core lab); in Python the three take ~1 s, and
the playbook writes them in one task. ``summary`` is also what the audit shows at the end of its run.
"""

from __future__ import annotations

import json

from ansible_collections.ttyfleet.serial_console.plugins.module_utils import _fleet_report

EXAMPLES_SHOWN = 20  # guests named in the verdict line


def _cell(text):
    return str(text).replace("|", "\\|")


def summary(report):
    """The verdict, then the findings by kind and the guests by hypervisor (Markdown)."""
    s = report["summary"]
    lines = []
    if s["guests"] == 0:
        lines.append("No guest was audited.")
    elif report["drift"]:
        more = s["with_drift"] - EXAMPLES_SHOWN
        lines.append("**Drift on %d of %d guest(s)**: %s%s." % (
            s["with_drift"], s["guests"], ", ".join(report["guests_with_drift"][:EXAMPLES_SHOWN]),
            " and %d more" % more if more > 0 else ""))
    else:
        lines.append("**No drift** on %d guest(s)." % s["guests"])
    if s["by_kind"]:
        lines += ["", "| finding | side | guests | means | for example |", "|---|---|---|---|---|"]
        for k in s["by_kind"]:
            lines.append("| `%s`%s | %s | %d | %s | %s%s |" % (
                k["kind"], "" if k["drift"] else " (note)", k["side"], k["guests"], _cell(k["means"]),
                ", ".join(k["examples"]), ", ..." if k["guests"] > len(k["examples"]) else ""))
    if s["by_hypervisor"]:
        lines += ["", "| hypervisor | guests | with drift | findings (guests) |", "|---|---|---|---|"]
        for h in s["by_hypervisor"]:
            kinds = ", ".join("%s: %s" % (k, n) for k, n in h["kinds"].items()) or "none"
            lines.append("| %s | %d | %d | %s |" % (h["hypervisor"], h["guests"], h["with_drift"], kinds))
    return "\n".join(lines) + "\n"


def markdown(report):
    """audit.md: the summary, the table of every guest, then each guest's findings with their fixes."""
    out = ["# Serial console drift report\n\n", summary(report)]
    guests = report["guests"]
    if guests:
        out.append("\n## Guests\n\n| guest | domain | hypervisor | state | tty | findings |\n"
                   "|---|---|---|---|---|---|\n")
        out.extend("| %s | %s | %s | %s | %s | %s |\n" % (
            g["guest"], g["domain"], g["hypervisor"], g["state"], g["tty"],
            ", ".join(f["kind"] for f in g["findings"]) or "none") for g in guests)
    for g in guests:
        if not g["findings"]:
            continue
        out.append("\n### %s (%s on %s)\n\n| side | kind | what | fix |\n|---|---|---|---|\n"
                   % (g["guest"], g["domain"], g["hypervisor"]))
        out.extend("| %s | `%s` | %s | %s |\n" % (f["side"], f["kind"], _cell(f["detail"]), _cell(f["fix"]))
                   for f in g["findings"])
    return "".join(out)


def files(report, name="audit"):
    """{file name: text} of the three report files."""
    return {
        "%s.json" % name: json.dumps(report, indent=4, separators=(",", ": ")) + "\n",
        "%s.md" % name: markdown(report),
        "%s.junit.xml" % name: _fleet_report.junit_xml(report),
    }
