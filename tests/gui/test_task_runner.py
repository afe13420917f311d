"""TaskRunner: background work comes back on the GUI thread."""

from __future__ import annotations

import threading

from integritas_gui.gui.adapter import TaskRunner


def test_results_come_back_on_the_gui_thread(qtbot):
    runner = TaskRunner()
    results = []
    runner.run(threading.current_thread, on_done=lambda worker: results.append(
        (worker, threading.current_thread())))
    qtbot.waitUntil(lambda: bool(results), timeout=5000)
    worker, delivered_on = results[0]
    assert worker is not threading.main_thread()
    assert delivered_on is threading.main_thread()
    assert runner.wait(5000)


def test_errors_come_back_to_on_error(qtbot):
    runner = TaskRunner()
    errors = []

    def fail():
        raise ValueError("unreadable")

    runner.run(fail, on_error=errors.append)
    qtbot.waitUntil(lambda: bool(errors), timeout=5000)
    assert isinstance(errors[0], ValueError) and str(errors[0]) == "unreadable"
