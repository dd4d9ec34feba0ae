# Copyright: ttyfleet.serial_console contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""stdout callback for bench/bench_host.py: prints every task result and its duration as one JSON document.

ansible-core 2.19 no longer ships the `json` callback (it lives in ansible.posix, which the bench does not need).
"""

from __future__ import annotations

import json
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = r"""
name: bench_results
type: stdout
short_description: JSON task results with durations, for the host benchmark
description:
  - Prints, at the end of the run, one JSON document with each task's name, duration and result.
author:
  - ttyfleet maintainers (@ttyfleet)
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "stdout"
    CALLBACK_NAME = "bench_results"

    def __init__(self):
        super().__init__()
        self._tasks = []
        self._started = None

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._started = time.perf_counter()

    def _record(self, result, failed=False):
        self._tasks.append(
            {
                "name": result._task.get_name(),
                "duration_s": time.perf_counter() - self._started,
                "failed": failed,
                "result": result._result,
            }
        )

    def v2_runner_on_ok(self, result):
        self._record(result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, failed=True)

    def v2_runner_on_unreachable(self, result):
        self._record(result, failed=True)

    def v2_playbook_on_stats(self, stats):
        self._display.display(json.dumps({"tasks": self._tasks}, default=str))
