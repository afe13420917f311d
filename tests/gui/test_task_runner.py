"""TaskRunner: background work comes back on the GUI thread, at a lower CPU priority meanwhile."""

from __future__ import annotations

import os
import sys
import threading

import pytest

from integritas_gui.gui.adapter import TaskRunner


def thread_nice() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread priority is a Linux feature")
def test_tasks_run_below_the_gui_threads_priority_and_report_back_on_it(qtbot):
    from integritas_gui.core.engine import BACKGROUND_NICE_STEP

    runner = TaskRunner()
    results = []
    runner.run(thread_nice, on_done=lambda nice: results.append((nice, threading.current_thread())))
    qtbot.waitUntil(lambda: bool(results), timeout=5000)
    nice, delivered_on = results[0]
    assert nice == min(19, thread_nice() + BACKGROUND_NICE_STEP)
    assert delivered_on is threading.main_thread()
    assert runner.wait(5000)


def test_errors_come_back_to_on_error(qtbot):
    runner = TaskRunner(background=False)
    errors = []

    def fail():
        raise ValueError("unreadable")

    runner.run(fail, on_error=errors.append)
    qtbot.waitUntil(lambda: bool(errors), timeout=5000)
    assert isinstance(errors[0], ValueError) and str(errors[0]) == "unreadable"
