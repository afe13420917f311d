"""The thin layer between core work (worker threads) and widgets (GUI thread).

``EngineBridge`` turns engine callbacks into Qt signals: callbacks only store the newest update per
job under a lock; a 10 Hz timer on the GUI thread hands the coalesced batch to the widgets. However
fast the engine reports, the GUI thread sees at most ten batches a second, each of at most
``MAX_BATCH`` updates: a backlog (a 10,000-file drop) drains in steps with the event loop running
in between, so the window never stalls on one huge batch.

``TaskRunner`` is Picard's ``run_task``: run a function on a small thread pool and always deliver
its result *or* its error back on the GUI thread.
"""

from __future__ import annotations

import itertools
import logging
import sys
import threading
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, QTimer, Signal, Slot

log = logging.getLogger(__name__)

FLUSH_INTERVAL_MS = 100
MAX_BATCH = 250  # updates handed over at once; a backlog drains in further short steps


class EngineBridge(QObject):
    """Subscribes to an engine; emits ``updates`` (a list of JobUpdates) on the GUI thread."""

    updates = Signal(list)

    def __init__(self, parent: QObject | None = None, interval_ms: int = FLUSH_INTERVAL_MS,
                 max_batch: int = MAX_BATCH):
        super().__init__(parent)
        self.max_batch = max_batch
        self._stopped = False
        self._lock = threading.Lock()
        self._pending: dict[int, Any] = {}
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.flush)
        self._timer.start()

    def attach(self, engine: Any) -> None:
        engine.subscribe(self.receive)

    def receive(self, update: Any) -> None:
        """Engine callback: any thread. Never touches Qt objects."""
        with self._lock:
            self._pending[update.job_id] = update

    @Slot()
    def flush(self) -> None:
        with self._lock:
            if not self._pending:
                return
            if len(self._pending) <= self.max_batch:
                batch = list(self._pending.values())
                self._pending = {}
                more = False
            else:
                keys = list(itertools.islice(self._pending, self.max_batch))
                batch = [self._pending.pop(key) for key in keys]
                more = True
        self.updates.emit(batch)
        if more and not self._stopped:
            QTimer.singleShot(5, self, self.flush)

    @property
    def backlog(self) -> int:
        with self._lock:
            return len(self._pending)

    def stop(self) -> None:
        self._stopped = True
        self._timer.stop()


class _TaskSignals(QObject):
    done = Signal(object)
    failed = Signal(object, str)  # exception, formatted traceback


class _Task(QRunnable):
    def __init__(self, func: Callable[[], Any], signals: _TaskSignals, background: bool):
        super().__init__()
        self.setAutoDelete(True)
        self._func = func
        self._signals = signals
        self._background = background

    def run(self) -> None:
        if self._background:
            # Not a module import: the window's start-up loads the engine on the core thread.
            from integritas_gui.core.engine import run_in_background

            run_in_background()
        try:
            result = self._func()
        except BaseException as exc:  # delivered to on_error on the GUI thread
            self._signals.failed.emit(exc, traceback.format_exc())
        else:
            self._signals.done.emit(result)


class TaskRunner(QObject):
    """A small private thread pool; results and errors come back as calls on the GUI thread."""

    def __init__(self, parent: QObject | None = None, max_threads: int = 2, *, background: bool = True):
        """``background``: tasks run at a lower CPU priority than the GUI thread (folder walks,
        history reads and exports; see core.engine.run_in_background)."""
        super().__init__(parent)
        self.background = background
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max_threads)
        self._live: set[_TaskSignals] = set()

    def run(
        self,
        func: Callable[[], Any],
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        signals = _TaskSignals()  # created on the GUI thread, so its slots run there
        self._live.add(signals)

        def finished(result: Any) -> None:
            self._live.discard(signals)
            if on_done is not None:
                on_done(result)

        def failed(exc: BaseException, details: str) -> None:
            self._live.discard(signals)
            if on_error is not None:
                on_error(exc)
            else:  # nobody expected a failure here: that is a bug, so the crash handler shows it
                log.error("Background task failed:\n%s", details)
                sys.excepthook(type(exc), exc, exc.__traceback__)

        signals.done.connect(finished)
        signals.failed.connect(failed)
        self.pool.start(_Task(func, signals, self.background))

    @property
    def busy(self) -> bool:
        return bool(self._live)

    def wait(self, timeout_ms: int = -1) -> bool:
        return self.pool.waitForDone(timeout_ms)
