# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""aggregate callback for bench/bench_fleet.py: when each play and task started, for the play-by-play figures."""

from __future__ import annotations

import json
import os
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = r"""
name: task_clock
type: aggregate
short_description: When each play and task started, for the fleet benchmark
description:
  - Writes one JSON line per play and task start (seconds since the callback was loaded, and the name) to the file
    named by the environment variable C(TASK_CLOCK_FILE), and one for the end of the run. Nothing without it.
author:
  - ttyfleet maintainers (@ttyfleet)
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "task_clock"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self._t0 = time.monotonic()
        self._path = os.environ.get("TASK_CLOCK_FILE")

    def _mark(self, kind, name):
        if self._path:
            with open(self._path, "a") as f:
                f.write(json.dumps({"s": round(time.monotonic() - self._t0, 2), kind: name}) + "\n")

    def v2_playbook_on_play_start(self, play):
        self._mark("play", play.get_name())

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._mark("task", task.get_name())

    def v2_playbook_on_stats(self, stats):
        self._mark("end", "")
