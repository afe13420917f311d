"""The window's ends of its background work: the engine process, and a small thread pool.

``EngineBridge`` is the window's end of the pipe to the engine, which runs in a child process
(``integritas-gui --engine``, see integritas_gui.engine_process and docs/architecture.md). It
starts the child, sends it commands, and turns its events into Qt signals on the GUI thread; if
the child dies it says so and starts a new one, which resumes what was in flight from the
history. Job updates are coalesced per job and handed to the widgets by a 10 Hz timer, at most
``MAX_BATCH`` at once: a backlog (a 10,000-file drop) drains in steps with the event loop running
in between, so the window never stalls on one huge batch.

``TaskRunner`` is Picard's ``run_task``: run a function on a small thread pool and always deliver
its result *or* its error back on the GUI thread.
"""

from __future__ import annotations

import itertools
import json
import logging
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QProcess, QRunnable, QThreadPool, QTimer, Signal, Slot

from integritas_gui.engine_process import encode, update_from_wire
from integritas_gui.gui.status_text import FINISHED_STATES
from integritas_gui.sandbox_process import ENGINE_MODE, child_command

log = logging.getLogger(__name__)

FLUSH_INTERVAL_MS = 100
MAX_BATCH = 250  # updates handed over at once; a backlog drains in further short steps
LINES_PER_TURN = 1  # protocol lines parsed per event-loop turn (each holds up to 250 updates)
RESTART_DELAY_MS = 300
MAX_RESTARTS = 5  # within RESTART_WINDOW_S; past that the window stops trying and says so
RESTART_WINDOW_S = 60.0
SHUTDOWN_TIMEOUT_MS = 20000


class EngineError(Exception):
    """A command the engine could not carry out; ``message`` is for people."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class EngineBridge(QObject):
    """Runs the engine process; emits ``updates`` (a list of JobUpdates) on the GUI thread.

    ``config`` returns the ``start`` command's fields (settings, service) each time a child starts.
    Commands take ``on_done(result)`` / ``on_error(exc)``, called on the GUI thread; a command not
    answered when a child dies is sent again to the next one."""

    updates = Signal(list)
    state_changed = Signal(str, str)  # "ready", "restarting" or "failed"; a sentence for people
    folder_changed = Signal(dict)  # a watched folder's new state or message (engine_process.folder_to_wire)
    reverify_checked = Signal(dict)  # one file re-verified: {"request", "check", "done", "total"}

    def __init__(self, config: Callable[[], dict], parent: QObject | None = None, *,
                 interval_ms: int = FLUSH_INTERVAL_MS, max_batch: int = MAX_BATCH,
                 command: list[str] | None = None):
        super().__init__(parent)
        self.max_batch = max_batch
        self.state = "starting"
        self.pid: int | None = None
        self.restarts = 0
        self.ever_ready = False
        self.fatal: str | None = None  # why the engine cannot start with this configuration
        self.ready_info: dict = {}  # what the engine's "ready" said it is (service, node, workers)
        self._config = config
        self._command = command or child_command(ENGINE_MODE)
        self._stopped = False
        self._lock = threading.Lock()  # receive() may be called from any thread
        self._pending: dict[int, Any] = {}
        self._unfinished: set[int] = set()  # jobs whose last update was not final
        self._requests: dict[int, tuple[dict, Callable | None, Callable | None]] = {}
        self._answers: dict[int, tuple[bool, Any]] = {}  # for calls that wait (wait_idle)
        self._ids = itertools.count(1)
        self._deaths: deque[float] = deque()
        self._fatal: str | None = None
        self._process: QProcess | None = None
        self._watch_options: dict | None = None  # watch_start's arguments once the window watches
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.flush)
        self._timer.start()
        self._start()

    # ---- the child process ---------------------------------------------------------------------
    def _start(self) -> None:
        process = QProcess(self)
        process.setProgram(self._command[0])
        process.setArguments(self._command[1:])
        process.readyReadStandardOutput.connect(self._read)
        process.readyReadStandardError.connect(self._read_errors)
        process.finished.connect(self._finished)
        process.errorOccurred.connect(self._failed_to_start)
        self._process = process
        self._fatal = None
        process.start()
        self._write({"cmd": "start", **self._config()})
        if self.restarts:
            # What was in flight goes on from the history; jobs that finished while their last
            # updates died with the old child are announced again.
            self._write({"cmd": "resume", "announce": sorted(self._unfinished)})
            if self._watch_options is not None:
                self._write({"cmd": "watch_start", **self._watch_options})
        for message, _, _ in self._requests.values():
            self._write(message)  # unanswered by the child that died

    def _write(self, message: dict) -> None:
        self._process.write(encode(message).encode("utf-8"))

    @Slot()
    def _read(self) -> None:
        process = self._process
        if process is None:
            return
        for _ in range(LINES_PER_TURN):
            if not process.canReadLine():
                return
            self._read_line(process)
        if process.canReadLine():
            QTimer.singleShot(0, self, self._read)  # the rest after the event loop has run

    def _read_all(self) -> None:
        while self._process.canReadLine():
            self._read_line(self._process)

    def _read_line(self, process: QProcess) -> None:
        line = bytes(process.readLine().data()).decode("utf-8", "replace")
        try:
            message = json.loads(line)
        except ValueError:
            log.warning("engine: %s", line.rstrip())
            return
        self._handle(message)

    @Slot()
    def _read_errors(self) -> None:
        if self._process is None:
            return
        text = bytes(self._process.readAllStandardError().data()).decode("utf-8", "replace")
        for line in text.splitlines():
            if line.strip():
                log.warning("engine: %s", line)

    def _handle(self, message: dict) -> None:
        event = message.get("event")
        if event == "updates":
            updates = [update_from_wire(job) for job in message["jobs"]]
            for update in updates:
                if update.state in FINISHED_STATES:
                    self._unfinished.discard(update.job_id)
                else:
                    self._unfinished.add(update.job_id)
            with self._lock:
                for update in updates:
                    self._pending.pop(update.job_id, None)
                    self._pending[update.job_id] = update
        elif event == "reply":
            request = self._requests.pop(message.get("id"), None)
            if request is None:
                return
            ok = "error" not in message
            value = message.get("result") if ok else EngineError(message["error"])
            if request[0]["cmd"] == "wait_idle":
                self._answers[message["id"]] = (ok, value)
                return
            callback = request[1] if ok else request[2]
            if callback is not None:
                callback(value)
            elif not ok:
                log.warning("Engine command %s failed: %s", request[0]["cmd"], value.message)
        elif event == "folder":
            self.folder_changed.emit(message["folder"])
        elif event == "reverify":
            self.reverify_checked.emit({k: v for k, v in message.items() if k != "event"})
        elif event == "ready":
            self.pid = message.get("pid")
            self.ready_info = {k: v for k, v in message.items() if k != "event"}
            restarted = self.state == "restarting"
            self.state = "ready"
            self.ever_ready = True
            log.info("Engine ready (pid %s)", self.pid)
            self.state_changed.emit("ready", self.tr(
                "The engine was restarted; unfinished work goes on.") if restarted else "")
        elif event in ("fatal", "error"):
            log.error("Engine: %s", message.get("message"))
            if event == "fatal":
                self._fatal = self.fatal = message.get("message")

    @Slot(int, QProcess.ExitStatus)
    def _finished(self, code: int, status: QProcess.ExitStatus) -> None:
        if self.sender() is not self._process:
            return
        self._read_all()
        if self._stopped:
            return
        how = ("it crashed" if status == QProcess.ExitStatus.CrashExit else f"exit code {code}")
        log.error("The engine process stopped unexpectedly (%s)", how)
        self._lost(self.tr("The engine stopped unexpectedly ({how}).").format(how=how))

    @Slot(QProcess.ProcessError)
    def _failed_to_start(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart and self.sender() is self._process:
            log.error("The engine process could not start: %s", self._process.errorString())
            if not self._stopped:
                self._lost(self.tr("The engine could not start ({error}).").format(
                    error=self._process.errorString()))

    def _lost(self, why: str) -> None:
        now = time.monotonic()
        self._deaths.append(now)
        while self._deaths and now - self._deaths[0] > RESTART_WINDOW_S:
            self._deaths.popleft()
        old, self._process = self._process, None
        if old is not None:
            old.deleteLater()
        if self._fatal or len(self._deaths) > MAX_RESTARTS:
            self.state = "failed"
            detail = self._fatal or self.tr("it stopped {n} times in a minute").format(n=len(self._deaths))
            self.state_changed.emit("failed", self.tr(
                "The engine cannot run: {detail}. Nothing new is processed; the log has details. "
                "Restart the app to try again.").format(detail=detail))
            return
        self.state = "restarting"
        self.restarts += 1
        self.state_changed.emit("restarting", why + " " + self.tr(
            "Restarting it; nothing is lost, unfinished work resumes."))
        QTimer.singleShot(RESTART_DELAY_MS, self, self._restart_now)

    def _restart_now(self) -> None:
        if not self._stopped and self._process is None:
            self._start()

    # ---- commands ------------------------------------------------------------------------------
    def _send(self, cmd: str, on_done: Callable | None = None, on_error: Callable | None = None,
              **args: Any) -> int:
        request = next(self._ids)
        message = {"cmd": cmd, "id": request, **args}
        self._requests[request] = (message, on_done, on_error)
        if self._process is not None and not self._stopped:
            self._write(message)
        return request

    def add_files(self, kind: str, paths, *, report: bool = False, send_file_details: bool = False,
                  restamp: bool = False, on_done=None, on_error=None) -> int:
        """Queue files and folders (the child walks them); ``on_done`` gets one job id per file."""
        return self._send("add_files", on_done, on_error, kind=kind, paths=[str(p) for p in paths],
                          report=report, send_file_details=send_file_details, restamp=restamp)

    def add_hash(self, kind: str, sha3_256: str, *, report: bool = False, on_done=None,
                 on_error=None) -> int:
        return self._send("add_hash", on_done, on_error, kind=kind, sha3_256=sha3_256, report=report)

    def cancel(self, job_ids, on_error=None) -> int:
        return self._send("cancel", None, on_error, job_ids=list(job_ids))

    def cancel_all(self, on_error=None) -> int:
        return self._send("cancel_all", None, on_error)

    def retry(self, job_ids, on_error=None) -> int:
        return self._send("retry", None, on_error, job_ids=list(job_ids))

    def resume(self, on_done=None, on_error=None) -> int:
        return self._send("resume", on_done, on_error)

    def set_report_path(self, job_id: int, path: str, on_done=None, on_error=None) -> int:
        return self._send("set_report_path", on_done, on_error, job_id=job_id, path=path)

    def watch_start(self, *, settle: float | None = None, poll: float | None = None, on_done=None,
                    on_error=None) -> int:
        """The engine watches the stored folders; ``on_done`` gets their list."""
        self._watch_options = {"settle": settle, "poll": poll}
        return self._send("watch_start", on_done, on_error, **self._watch_options)

    def watch_list(self, on_done=None, on_error=None) -> int:
        return self._send("watch_list", on_done, on_error)

    def watch_add(self, path: str, *, recursive: bool = False, include=(), exclude=(), hidden: bool = False,
                  restamp_changed: bool = True, on_done=None, on_error=None) -> int:
        return self._send("watch_add", on_done, on_error, path=str(path), recursive=recursive,
                          include=list(include), exclude=list(exclude), hidden=hidden,
                          restamp_changed=restamp_changed)

    def watch_pause(self, path: str, paused: bool = True, on_done=None, on_error=None) -> int:
        return self._send("watch_pause", on_done, on_error, path=str(path), paused=paused)

    def watch_remove(self, path: str, on_done=None, on_error=None) -> int:
        return self._send("watch_remove", on_done, on_error, path=str(path))

    def reverify(self, folders=(), *, quick: bool = False, on_done=None, on_error=None) -> int:
        """The engine re-hashes the stamped files; each result comes as ``reverify_checked`` with
        this request's id, then ``on_done({"checked", "total", "cancelled"})``."""
        return self._send("reverify", on_done, on_error, folders=[str(f) for f in folders], quick=quick)

    def reverify_cancel(self, request: int, on_error=None) -> int:
        return self._send("reverify_cancel", None, on_error, request=request)

    def import_files(self, paths, on_done=None, on_error=None) -> int:
        """The engine imports the files; ``on_done`` gets a dict per file (ImportResult's fields
        and its ``message``)."""
        return self._send("import_files", on_done, on_error, paths=[str(p) for p in paths])

    def probe_service(self, base_url: str, api_key: str | None, proxy: str | None, timeout: float,
                      on_done=None, on_error=None) -> int:
        """The engine tests a connection with these settings; ``on_done`` gets ``{"verdict", "words"}``."""
        return self._send("probe_service", on_done, on_error, base_url=base_url, api_key=api_key,
                          proxy=proxy, timeout=timeout)

    def wait_idle(self, timeout: float | None = None, *, include_pending: bool = True) -> bool:
        """Block until the engine has no work (for tests and benchmarks; never from a slot)."""
        request = self._send("wait_idle", timeout=timeout, include_pending=include_pending)
        deadline = None if timeout is None else time.monotonic() + timeout + 10
        while request not in self._answers:
            if deadline is not None and time.monotonic() > deadline or self._process is None:
                return False
            self._process.waitForReadyRead(100)
            self._read_all()
        ok, value = self._answers.pop(request)
        return bool(ok and value)

    def receive(self, update: Any) -> None:
        """Hand the widgets an update as if the engine had sent it (any thread)."""
        with self._lock:
            self._pending[update.job_id] = update

    # ---- handing updates to the widgets --------------------------------------------------------
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

    def pending_requests(self) -> int:
        """Commands sent and not answered yet."""
        return len(self._requests)

    @property
    def backlog(self) -> int:
        with self._lock:
            return len(self._pending)

    def stop(self, timeout_ms: int = SHUTDOWN_TIMEOUT_MS) -> None:
        """Ask the child to finish (interrupted jobs stay resumable) and wait for it; kill it if it
        does not end in time."""
        if self._stopped:
            return
        self._stopped = True
        self._timer.stop()
        process, self._process = self._process, None
        if process is None:
            return
        if process.state() != QProcess.ProcessState.NotRunning:
            process.write(encode({"cmd": "shutdown", "id": 0}).encode("utf-8"))
            process.closeWriteChannel()
            if not process.waitForFinished(timeout_ms):
                log.error("The engine did not stop within %d s; killing it", timeout_ms // 1000)
                process.kill()
                process.waitForFinished(5000)
        process.deleteLater()


class _TaskSignals(QObject):
    done = Signal(object)
    failed = Signal(object, str)  # exception, formatted traceback


class _Task(QRunnable):
    def __init__(self, func: Callable[[], Any], signals: _TaskSignals):
        super().__init__()
        self.setAutoDelete(True)
        self._func = func
        self._signals = signals

    def run(self) -> None:
        try:
            result = self._func()
        except BaseException as exc:  # delivered to on_error on the GUI thread
            self._signals.failed.emit(exc, traceback.format_exc())
        else:
            self._signals.done.emit(result)


class TaskRunner(QObject):
    """A small private thread pool; results and errors come back as calls on the GUI thread."""

    def __init__(self, parent: QObject | None = None, max_threads: int = 2):
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max_threads)
        self._live: set[_TaskSignals] = set()
        self._closed = False

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
            if on_done is not None and not self._closed:
                on_done(result)

        def failed(exc: BaseException, details: str) -> None:
            self._live.discard(signals)
            if self._closed:
                return
            if on_error is not None:
                on_error(exc)
            else:  # nobody expected a failure here: that is a bug, so the crash handler shows it
                log.error("Background task failed:\n%s", details)
                sys.excepthook(type(exc), exc, exc.__traceback__)

        signals.done.connect(finished)
        signals.failed.connect(failed)
        self.pool.start(_Task(func, signals))

    @property
    def busy(self) -> bool:
        return bool(self._live)

    def wait(self, timeout_ms: int = -1) -> bool:
        return self.pool.waitForDone(timeout_ms)

    def close(self, timeout_ms: int = -1) -> bool:
        """Wait for the running tasks; results still on their way are dropped (their widgets may
        be gone by the time they arrive)."""
        done = self.wait(timeout_ms)
        self._closed = True
        return done
