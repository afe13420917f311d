"""The history tab's "Re-verify all": does every stamped file still match? The engine process
re-hashes (the window only shows its results); a view of a history alone, with no engine process,
runs core.reverify on its own task runner. Results fill the "no longer matches" list.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from PySide6.QtCore import QCoreApplication, QEventLoop, Qt, QTimer
from PySide6.QtWidgets import QTreeWidgetItem

from integritas_gui.core.errors import Cancelled
from integritas_gui.core.reverify import FileCheck, reverify
from integritas_gui.gui.adapter import EngineBridge


class ReverifyAll:
    """Mixed into HistoryView, whose widgets (problems list, buttons, notice) it fills."""

    # ---- re-verify all -------------------------------------------------------------------------
    @property
    def reverifying(self) -> bool:
        """True from the start of "Re-verify all" until its last result is shown."""
        return self._reverify_running

    def toggle_reverify_all(self) -> None:
        if self.reverifying:
            self.cancel_reverify_all()
        else:
            self.start_reverify_all()

    def start_reverify_all(self) -> None:
        if self.reverifying:
            return
        self.problems.clear()
        if not self.problems_panel.isVisible():
            self.problems_panel.setVisible(True)
            total = max(200, self.splitter.height())
            self.splitter.setSizes([total * 3 // 4, total // 4])
        self.problems_progress.setRange(0, 0)
        self.problems_title.setText(self.tr("Checking stamped files\u2026"))
        self.reverify_all_button.setText(self.tr("Stop re-verifying"))
        self._reverify_counts = {"match": 0}
        self._reverify_running = True
        if self._bridge is not None:
            self._reverify_in_engine(self._bridge)
            return
        cancel = threading.Event()
        inbox: list[Any] = []  # (check, done, total) tuples from the worker
        lock = threading.Lock()
        history = self.history
        total = [0]

        def counted(done: int, count: int) -> None:
            total[0] = count

        def work() -> int:
            checked = 0
            for check in reverify(history, cancel=cancel, progress=counted):
                checked += 1
                with lock:
                    inbox.append((check, checked, total[0]))
            return checked

        def drain() -> None:
            # Worker results are handed over by polling on the GUI thread, at most ten times a second.
            with lock:
                items = inbox[:]
                inbox.clear()
            for item in items:
                self._reverify_result(*item)

        def finished(outcome: Any) -> None:
            self._reverify_timer.stop()
            drain()
            self._reverify_finished(outcome)

        self._reverify_cancel = cancel
        self._reverify_timer = QTimer(self)
        self._reverify_timer.setInterval(100)
        self._reverify_timer.timeout.connect(drain)
        self._reverify_timer.start()
        self.tasks.run(work, finished, finished)

    def _reverify_in_engine(self, bridge: EngineBridge) -> None:
        """The engine process re-hashes; its per-file events are shown as they come."""
        last = [0]

        def checked(event: dict) -> None:
            if event.get("request") != self._reverify_request:
                return
            if event["done"] <= last[0]:  # a restarted engine begins again: so does the list
                self.problems.clear()
                self._reverify_counts = {"match": 0}
            last[0] = event["done"]
            self._reverify_result(FileCheck(**dict(event["check"], changed_ranges=tuple(
                tuple(r) for r in event["check"].get("changed_ranges", ())))), event["done"], event["total"])

        def finished(outcome: Any) -> None:
            bridge.reverify_checked.disconnect(checked)
            self._reverify_request = None
            if isinstance(outcome, dict):
                outcome = Cancelled("Re-verification cancelled.") if outcome.get("cancelled") else outcome["checked"]
            self._reverify_finished(outcome)

        bridge.reverify_checked.connect(checked)
        self._reverify_request = bridge.reverify(on_done=finished, on_error=finished)

    def cancel_reverify_all(self) -> None:
        if self._reverify_cancel is not None:
            self._reverify_cancel.set()
        if self._reverify_request is not None and self._bridge is not None:
            self._bridge.reverify_cancel(self._reverify_request)

    def wait_reverify(self, timeout: float | None = None) -> bool:
        """Wait (up to ``timeout`` seconds) until the re-verification has stopped."""
        if self._reverify_request is None:
            return self.tasks.wait(-1 if timeout is None else int(timeout * 1000))
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._reverify_request is not None and (deadline is None or time.monotonic() < deadline):
            QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)  # the engine's reply
        return self._reverify_request is None

    def _reverify_result(self, check: FileCheck, done: int, total: int) -> None:
        self.problems_progress.setRange(0, total)
        self.problems_progress.setValue(done)
        self._reverify_counts[check.status] = self._reverify_counts.get(check.status, 0) + 1
        if check.status == "match":
            return
        words = {"changed": self.tr("Changed"), "missing": self.tr("Missing"), "moved": self.tr("Moved"),
                 "unreadable": self.tr("Unreadable")}
        item = QTreeWidgetItem([words.get(check.status, check.status), check.path, check.message])
        item.setData(0, Qt.ItemDataRole.UserRole, check.job_id)
        item.setData(0, Qt.ItemDataRole.UserRole + 1, check.status)
        item.setToolTip(2, check.message)
        self.problems.addTopLevelItem(item)

    def _reverify_finished(self, outcome: Any) -> None:
        self.reverify_all_button.setText(self.tr("Re-verify &all"))
        self.problems_progress.setRange(0, max(1, self.problems_progress.maximum()))
        problems = self.problems.topLevelItemCount()
        if isinstance(outcome, Cancelled):
            summary = self.tr("Stopped: {ok} matched, {bad} no longer match so far.")
        elif isinstance(outcome, BaseException):
            summary = self.tr("Re-verification failed: {why}").format(
                why=getattr(outcome, "message", None) or outcome) + " {ok} {bad}"
        elif problems:
            summary = self.tr("{ok} files still match; {bad} no longer match.")
        else:
            summary = self.tr("All {ok} stamped files still match.")
        self.problems_title.setText(summary.format(ok=self._reverify_counts.get("match", 0), bad=problems))
        self.show_notice(self.problems_title.text())
        self._reverify_running = False

    def problem_rows(self) -> list[tuple[str, str, str]]:
        """(status, path, message) of every file listed as no longer matching."""
        rows = []
        for i in range(self.problems.topLevelItemCount()):
            item = self.problems.topLevelItem(i)
            rows.append((item.data(0, Qt.ItemDataRole.UserRole + 1), item.text(1), item.text(2)))
        return rows

    def _select_problem_job(self, item: QTreeWidgetItem) -> None:
        job_id = item.data(0, Qt.ItemDataRole.UserRole)
        if job_id is not None and not self.select_job(job_id):
            self.show_notice(self.tr("That entry is not among the entries shown; clear the search to see it."))

