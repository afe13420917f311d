"""The engine mode: ``integritas-gui --engine`` runs the engine in a child process of the window.

The child walks folders, hashes, talks HTTP and writes the history; the window only draws and
reads. They speak JSON lines over the child's stdin (commands) and stdout (events); the protocol
is described in docs/architecture.md. Nothing here imports Qt.

Commands are handled one at a time in the order they arrive, except ``add_files``, whose folder
walk runs on a thread of its own (so a cancel is never stuck behind a long walk). Job updates are
coalesced per job and written ten times a second, at most ``MAX_UPDATES_PER_LINE`` to a line.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import queue
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TextIO

log = logging.getLogger(__name__)

PROTOCOL_VERSION = 1
FLUSH_INTERVAL_S = 0.1  # job updates are written at most ten times a second
MAX_UPDATES_PER_LINE = 250
ENGINE_LOG_NAME = "engine.log"

# Commands the window sends (besides the first line, "start").
COMMANDS = ("add_files", "add_hash", "cancel", "cancel_all", "retry", "resume", "set_report_path",
            "wait_idle", "watch_start", "watch_list", "watch_add", "watch_pause", "watch_remove",
            "reverify", "reverify_cancel", "import_files", "probe_service", "shutdown")
# On threads of their own, so a long one never holds up the others.
SLOW_COMMANDS = ("add_files", "wait_idle", "reverify", "import_files", "probe_service")


_REQUIRED = ("job_id", "kind", "path", "state")


def update_to_wire(update: Any) -> dict[str, Any]:
    """A JobUpdate as a JSON object, optional fields at their defaults left out."""
    wire = {}
    for name in _FIELDS:
        value = getattr(update, name)
        if name in _REQUIRED or value is not None and value != 0:
            wire[name] = value
    return wire


def _field_names() -> tuple[str, ...]:
    from integritas_gui.core.engine import JobUpdate

    return tuple(f.name for f in dataclasses.fields(JobUpdate))


_FIELDS = _field_names()


def folder_to_wire(folder: Any) -> dict[str, Any]:
    """A core.watch.WatchFolder as a JSON object (the window's Watched folders tab shows these)."""
    wire = dataclasses.asdict(folder)
    wire["include"], wire["exclude"] = list(folder.include), list(folder.exclude)
    return wire


def update_from_wire(data: dict[str, Any]) -> Any:
    from integritas_gui.core.engine import JobUpdate

    return JobUpdate(**data)


def encode(message: dict[str, Any]) -> str:
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")) + "\n"


class Outbox:
    """Everything the child writes to stdout: replies at once, job updates coalesced per job and
    flushed every ``FLUSH_INTERVAL_S`` by a thread of its own."""

    def __init__(self, stream: TextIO):
        self._stream = stream
        self._write_lock = threading.Lock()
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._pending: dict[int, Any] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="outbox", daemon=True)
        self._thread.start()

    def send(self, message: dict[str, Any]) -> None:
        line = encode(message)
        with self._write_lock:
            try:
                self._stream.write(line)
                self._stream.flush()
            except (OSError, ValueError):  # the window is gone: stdin's end-of-file stops us
                pass

    def update(self, update: Any) -> None:
        """Engine subscriber (any thread): only the newest update of each job is kept."""
        with self._lock:
            self._pending.pop(update.job_id, None)  # re-inserted last: order of last change
            self._pending[update.job_id] = update

    def flush(self) -> None:
        with self._flush_lock:  # one flush at a time: an older batch never follows a newer one
            with self._lock:
                batch, self._pending = list(self._pending.values()), {}
            for start in range(0, len(batch), MAX_UPDATES_PER_LINE):
                chunk = batch[start:start + MAX_UPDATES_PER_LINE]
                self.send({"event": "updates", "jobs": [update_to_wire(u) for u in chunk]})

    def _run(self) -> None:
        while not self._stop.wait(FLUSH_INTERVAL_S):
            try:
                self.flush()
            except Exception:  # a bug: log it, keep the updates flowing
                log.exception("Could not send job updates")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.flush()


class EngineHost:
    """Runs one engine for the window: executes its commands, reports back through ``Outbox``."""

    def __init__(self, services: Any, outbox: Outbox):
        self.services = services
        self.engine = services.engine
        self.history = services.history
        self.outbox = outbox
        self.engine.subscribe(outbox.update)
        self._slow = ThreadPoolExecutor(4, thread_name_prefix="walk")
        self._walk_cancels: set[threading.Event] = set()
        self._walk_lock = threading.Lock()
        self.watcher = None  # a core.watch.FolderWatcher once the window asks for watching
        self._reverify_cancels: dict[Any, threading.Event] = {}

    # ---- commands (one method per command name) ------------------------------------------------
    def do_add_files(self, kind: str, paths: list[str], report: bool = False,
                     send_file_details: bool = False, restamp: bool = False) -> list[int]:
        cancel = threading.Event()
        with self._walk_lock:
            self._walk_cancels.add(cancel)
        try:
            return self.engine.add_files(kind, paths, report=report, send_file_details=send_file_details,
                                         restamp=restamp, cancel=cancel)
        finally:
            with self._walk_lock:
                self._walk_cancels.discard(cancel)

    def do_add_hash(self, kind: str, sha3_256: str, report: bool = False) -> int:
        return self.engine.add_hash(kind, sha3_256, report=report)

    def do_cancel(self, job_ids: list[int]) -> None:
        for job_id in job_ids:
            self.engine.cancel(int(job_id))

    def do_cancel_all(self) -> None:
        self._stop_walks()
        self.engine.cancel_all()

    def _stop_walks(self) -> None:
        with self._walk_lock:
            for cancel in self._walk_cancels:
                cancel.set()

    def do_retry(self, job_ids: list[int]) -> None:
        for job_id in job_ids:
            self.engine.retry(int(job_id))

    def do_resume(self, announce: list[int] = ()) -> list[int]:
        """Announce every unfinished job as the history has it (and the jobs in ``announce``: the
        window's unfinished rows), then pick them up again. After a restart this is what makes it
        lossless: updates that died with the old process are sent again."""
        from integritas_gui.core.engine import JobUpdate

        for job in self.history.jobs([int(i) for i in announce]) if announce else ():
            self.outbox.update(JobUpdate.of(job))
        for job in self.history.unfinished():
            self.outbox.update(JobUpdate.of(job))
        return self.engine.resume_unfinished()

    def do_wait_idle(self, timeout: float | None = None, include_pending: bool = True) -> bool:
        """True once no job is being worked on (tests and benchmarks wait for this)."""
        idle = self.engine.wait_idle(timeout, include_pending=include_pending)
        self.outbox.flush()  # the updates up to now go out before the answer
        return idle

    def do_set_report_path(self, job_id: int, path: str) -> None:
        self.history.update(int(job_id), report_path=path)

    # ---- watched folders: the watcher runs here; the window only shows them ---------------------
    def do_watch_start(self, settle: float | None = None, poll: float | None = None) -> list[dict]:
        """Watch the stored folders (once; later calls just list them). Each change of a folder's
        state or message is sent as a ``folder`` event; its stamps are ordinary job updates."""
        from integritas_gui.core import watch

        if self.watcher is None:
            options = {k: v for k, v in (("settle", settle), ("poll", poll)) if v is not None}
            self.watcher = watch.FolderWatcher(self.history, self.engine, on_folder=self._folder_changed,
                                               **options)
            self.watcher.start()
        return self.do_watch_list()

    def do_watch_list(self) -> list[dict]:
        from integritas_gui.core import watch

        return [folder_to_wire(f) for f in watch.list_folders(self.history)]

    def do_watch_add(self, path: str, recursive: bool = False, include: list[str] = (),
                     exclude: list[str] = (), hidden: bool = False, restamp_changed: bool = True) -> dict:
        from integritas_gui.core import watch

        folder = watch.add_folder(self.history, path, recursive=recursive, include=include,
                                  exclude=exclude, hidden=hidden, restamp_changed=restamp_changed)
        self._folders_changed()
        return folder_to_wire(folder)

    def do_watch_pause(self, path: str, paused: bool = True) -> dict:
        from integritas_gui.core import watch

        folder = watch.set_paused(self.history, path, bool(paused))
        self._folders_changed()
        return folder_to_wire(folder)

    def do_watch_remove(self, path: str) -> dict:
        from integritas_gui.core import watch

        folder = watch.remove_folder(self.history, path)
        self._folders_changed()
        return folder_to_wire(folder)

    # ---- history tab: re-verify and import run here; the window only shows their results ---------
    def do_reverify(self, request: Any = None, folders: list[str] = (), quick: bool = False) -> dict:
        """Re-hash the stamped files: one ``reverify`` event per file (``check``: the FileCheck
        fields, ``done``, ``total``), then the reply ``{"checked": n, "cancelled": bool}``."""
        from dataclasses import asdict

        from integritas_gui.core.errors import Cancelled
        from integritas_gui.core.reverify import reverify

        cancel = self._reverify_cancels.setdefault(request, threading.Event())
        total = [0]
        checked = 0
        try:
            for check in reverify(self.history, folders, quick=bool(quick), cancel=cancel,
                                  progress=lambda done, count: total.__setitem__(0, count)):
                checked += 1
                self.outbox.send({"event": "reverify", "request": request, "check": asdict(check),
                                  "done": checked, "total": total[0]})
        except Cancelled:
            return {"checked": checked, "total": total[0], "cancelled": True}
        finally:
            self._reverify_cancels.pop(request, None)
        return {"checked": checked, "total": total[0], "cancelled": False}

    def do_reverify_cancel(self, request: Any = None) -> None:
        """Stop the re-verification started by ``request`` (every one when not given)."""
        for key, cancel in list(self._reverify_cancels.items()):
            if request is None or key == request:
                cancel.set()

    def do_import_files(self, paths: list[str]) -> list[dict]:
        """Import receipts, v1 proofs, exports or Edge Studio ZIPs; per file what was imported and
        the plain message the window shows."""
        from dataclasses import asdict

        from integritas_gui.core.history_export import import_files

        return [dict(asdict(result), message=result.message) for result in import_files(self.history, paths)]

    # ---- settings dialog: "Test connection" with the settings typed in, not yet saved ------------
    def do_probe_service(self, base_url: str, api_key: str | None = None, proxy: str | None = None,
                         timeout: float = 10) -> dict:
        """One check of a probe hash at ``base_url``: ``{"verdict", "words"}`` (never the key)."""
        from integritas_gui.core.service_probe import probe_service

        verdict, words = probe_service(base_url, api_key, proxy, float(timeout))
        return {"verdict": verdict, "words": words}

    def _folders_changed(self) -> None:
        if self.watcher is not None:
            self.watcher.refresh()

    def _folder_changed(self, folder: Any) -> None:
        self.outbox.send({"event": "folder", "folder": folder_to_wire(folder)})

    # ---- dispatch ------------------------------------------------------------------------------
    def handle(self, message: dict[str, Any]) -> None:
        request = message.get("id")
        name = message.get("cmd")
        args = {k: v for k, v in message.items() if k not in ("id", "cmd")}
        method = getattr(self, f"do_{name}", None) if name in COMMANDS else None
        if method is None:
            self.reply(request, error=f"Unknown command {name!r}.")
            return
        if name == "reverify":
            args["request"] = request  # its events and its cancel name the request
            self._reverify_cancels[request] = threading.Event()  # a cancel sent right after it counts
        if name in SLOW_COMMANDS:
            self._slow.submit(self._call, request, method, args)
        else:
            self._call(request, method, args)

    def _call(self, request: Any, method, args: dict[str, Any]) -> None:
        try:
            result = method(**args)
        except Exception as exc:
            message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
            if not hasattr(exc, "message"):
                log.exception("Command failed")
            self.reply(request, error=message)
        else:
            self.reply(request, result=result)

    def reply(self, request: Any, *, result: Any = None, error: str | None = None) -> None:
        if request is None:
            if error:
                self.outbox.send({"event": "error", "message": error})
            return
        if error is not None:
            self.outbox.send({"event": "reply", "id": request, "error": error})
        else:
            self.outbox.send({"event": "reply", "id": request, "result": result})

    def close(self) -> None:
        self._stop_walks()
        self.do_reverify_cancel()
        if self.watcher is not None:
            self.watcher.stop()
        self.services.shutdown()  # first: a wait_idle in progress returns once the engine stops
        self._slow.shutdown(wait=True, cancel_futures=True)


def start_engine_services(config: dict[str, Any]) -> Any:
    """The engine's session (session.py) as the window's ``start`` line asks for it: the window's
    settings and overrides, and its trial sandbox and simulated node when it runs them."""
    from integritas_gui.core.paths import app_dirs
    from integritas_gui.core.secrets import SecretStore
    from integritas_gui.core.settings import Settings, load_settings
    from integritas_gui.session import Overrides, RunningSandbox, open_session

    dirs = app_dirs().create()
    known = {f.name for f in dataclasses.fields(Settings)} - {"extra"}
    given = config.get("settings")
    settings = (Settings(**{k: v for k, v in given.items() if k in known}) if given is not None
                else load_settings(dirs.settings_file))
    sandbox = config.get("sandbox")
    return open_session(dirs, settings, SecretStore(dirs.config),
                        overrides=Overrides.from_wire(config.get("overrides")),
                        settings_path=dirs.settings_file,
                        sandbox=RunningSandbox(**sandbox) if sandbox else None)


def describe(session: Any) -> dict[str, Any]:
    """What the ``ready`` event tells the window about the engine it got."""
    client = session.client
    return {"base_url": session.base_url, "trial": session.trial, "block_time": session.block_time,
            "hash_workers": session.engine.hash_workers,
            "node_url": getattr(getattr(client, "node", None), "base_url", None),
            "stamp_with_node": bool(getattr(client, "stamp_with_node", False))}


def _read_commands(stream: TextIO, into: "queue.Queue[dict | None]") -> None:
    for line in stream:
        line = line.strip()
        if not line:
            continue
        try:
            message = json.loads(line)
            if not isinstance(message, dict):
                raise ValueError("not an object")
        except ValueError:
            log.warning("Ignoring a line that is not a JSON object: %.80s", line)
            continue
        into.put(message)
    into.put(None)  # end of file: the window has gone


def run(stdin: TextIO, stdout: TextIO) -> int:
    """Serve one window until it sends ``shutdown`` or closes our stdin. Returns the exit code."""
    outbox = Outbox(stdout)
    commands: queue.Queue[dict | None] = queue.Queue()
    threading.Thread(target=_read_commands, args=(stdin, commands), name="stdin", daemon=True).start()
    first = commands.get()
    if first is None:
        return 0
    if first.get("cmd") != "start":
        outbox.send({"event": "fatal", "message": "The first command must be 'start'."})
        return 2
    try:
        services = start_engine_services(first)
    except Exception as exc:
        log.exception("The engine could not start")
        outbox.send({"event": "fatal", "message": getattr(exc, "message", None) or str(exc)})
        outbox.close()
        return 1
    host = EngineHost(services, outbox)
    outbox.send({"event": "ready", "protocol": PROTOCOL_VERSION, "pid": os.getpid(), **describe(services)})
    log.info("Engine ready for %s (pid %d)", services.base_url, os.getpid())
    try:
        while (message := commands.get()) is not None and message.get("cmd") != "shutdown":
            host.handle(message)
    finally:
        host.close()  # shutdown, or the window went away without a word: stop cleanly all the same
        outbox.close()
    if message is not None:
        outbox.send({"event": "reply", "id": message.get("id"), "result": None})
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry of the engine mode. Stdout carries the protocol only: anything else that prints goes
    to stderr, which the window copies into its log."""
    from integritas_gui.core.logsetup import setup_logging
    from integritas_gui.core.paths import app_dirs

    # File descriptors, not sys.std*: a windowed frozen build may leave those None.
    protocol_out = os.fdopen(os.dup(1), "w", encoding="utf-8", newline="\n")
    os.dup2(2, 1)
    sys.stdout = sys.stderr = sys.stderr or open(2, "w", encoding="utf-8", closefd=False)
    stdin = open(0, "r", encoding="utf-8", closefd=False)
    dirs = app_dirs().create()
    setup_logging(dirs.logs, file_name=ENGINE_LOG_NAME)
    return run(stdin, protocol_out)
