"""Watched folders: new and changed files are stamped through the engine, with no window needed.

A folder (recursive or not, include and exclude globs, hidden files off by default) is kept in the
history store with what was last seen of each of its files (size, mtime, ctime, SHA3). Change
notifications (watchdog: inotify, FSEvents, ReadDirectoryChangesW) say *where* to look; a periodic
rescan (a walk and a stat per file, no hashing of unchanged files) is the safety net, and the only
source where notifications fail (network drives, the inotify watch limit). A file is stamped once its
size and mtime have been stable for ``settle`` seconds; the engine hashes it and, with
``skip_if_stamped``, never sends a content this history already stamped (renames, touches, a
folder that went away and came back). Missing folders, lost permissions and unplugged drives are a
state and a plain message on the folder; the watching goes on and picks up when the folder is back.

Everything runs on one thread (plus watchdog's), idle between timed checks. No Qt.
"""

from __future__ import annotations

import collections
import dataclasses
import fnmatch
import functools
import logging
import os
import re
import stat as stat_module
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

from integritas_gui.core.display import count_noun
from integritas_gui.core.errors import BadInput
from integritas_gui.core.receipts import SIDECAR_SUFFIX

log = logging.getLogger(__name__)

DEFAULT_SETTLE = 3.0          # seconds a file's size and mtime must hold still before it is stamped
DEFAULT_RESCAN = 600.0        # safety-net rescan while change notifications work
FALLBACK_RESCAN = 30.0        # rescan interval of a folder without change notifications
DEFAULT_POLL = 2.0            # how often folder roots and the stored folder list are looked at
SUBMIT_CHUNK = 1000
MAX_UNSENT = 2000             # files handed to the engine and not sent yet: a 100,000-file first scan
                              # is fed in steps, so memory does not grow with the folder
# Never stamped: our own receipts next to files, and the usual names of files still being written.
ALWAYS_EXCLUDED = ("*" + SIDECAR_SUFFIX, "*.part", "*.partial", "*.crdownload", "*.tmp", "~$*",
                   ".~lock.*#", "*.swp")
FILE_PROBLEM_KINDS = ("file", "file_changed", "bad_input")

WATCHING, PAUSED, MISSING, UNREADABLE = "watching", "paused", "missing", "unreadable"


@dataclass(frozen=True)
class WatchFolder:
    id: int
    path: str
    recursive: bool = False
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    hidden: bool = False
    restamp_changed: bool = True
    paused: bool = False
    state: str = "new"
    message: str | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> "WatchFolder":
        return cls(id=row["id"], path=row["path"], recursive=bool(row["recursive"]),
                   include=tuple(row["include"]), exclude=tuple(row["exclude"]), hidden=bool(row["hidden"]),
                   restamp_changed=bool(row["restamp_changed"]), paused=bool(row["paused"]),
                   state=row["state"], message=row["message"])

    @property
    def options(self) -> tuple:
        return (self.recursive, self.include, self.exclude, self.hidden)

    @functools.cached_property
    def _excluded(self) -> "re.Pattern[str]":
        return _glob_pattern(ALWAYS_EXCLUDED + self.exclude)

    @functools.cached_property
    def _included(self) -> "re.Pattern[str] | None":
        return _glob_pattern(self.include) if self.include else None

    def wants_dir(self, name: str) -> bool:
        return (self.hidden or not name.startswith(".")) and not self._excluded.match(name)

    def wants_file(self, rel: str) -> bool:
        """Whether a file (its path relative to the folder) is watched. A glob matches the file
        name (``*.pdf``) or the path under the folder (``drafts/*``)."""
        rel = rel.replace("\\", "/")
        name = rel.rsplit("/", 1)[-1]
        if not self.hidden and (name.startswith(".") or rel.startswith(".") or "/." in rel):
            return False
        if not self.recursive and "/" in rel:
            return False
        if self._excluded.match(name) or (name != rel and self._excluded.match(rel)):
            return False
        return self._included is None or bool(self._included.match(name) or self._included.match(rel))


def _glob_pattern(patterns: Iterable[str]) -> "re.Pattern[str]":
    """One regular expression for a set of globs (fnmatch rules; case-blind where the OS is)."""
    flags = re.IGNORECASE if os.path.normcase("A") == "a" else 0
    return re.compile("|".join(fnmatch.translate(p) for p in patterns) or "(?!)", flags)


def _hidden_on_windows(st: os.stat_result) -> bool:
    return bool(getattr(st, "st_file_attributes", 0) & getattr(stat_module, "FILE_ATTRIBUTE_HIDDEN", 0))


# ---- the stored list of folders (usable without a running watcher, e.g. `integritas watch --list`) --
def normal_path(path: str | os.PathLike) -> str:
    return os.path.abspath(os.path.expanduser(os.fspath(path)))


def list_folders(history) -> list[WatchFolder]:
    return [WatchFolder.from_row(row) for row in history.watch_folders()]


def find_folder(history, path: str | os.PathLike) -> WatchFolder | None:
    wanted = normal_path(path)
    return next((f for f in list_folders(history) if f.path == wanted), None)


def add_folder(history, path: str | os.PathLike, *, recursive: bool = False, include: Iterable[str] = (),
               exclude: Iterable[str] = (), hidden: bool = False, restamp_changed: bool = True) -> WatchFolder:
    """Store a folder to watch (or replace the options of one already stored)."""
    folder = normal_path(path)
    if not os.path.exists(folder):
        raise BadInput(f"{folder} does not exist. Check the path, or plug in the drive it is on.")
    if not os.path.isdir(folder):
        raise BadInput(f"{folder} is not a folder. Watch the folder it is in, or stamp it with "
                       "`integritas stamp`.")
    history.save_watch_folder(folder, recursive=int(recursive), include=tuple(include),
                              exclude=tuple(exclude), hidden=int(hidden), restamp_changed=int(restamp_changed))
    return find_folder(history, folder)


def _stored(history, path: str | os.PathLike) -> WatchFolder:
    found = find_folder(history, path)
    if found is None:
        raise BadInput(f"{normal_path(path)} is not a watched folder. `integritas watch --list` shows them.")
    return found


def set_paused(history, path: str | os.PathLike, paused: bool) -> WatchFolder:
    folder = _stored(history, path)
    history.update_watch_folder(folder.id, paused=int(paused),
                                **({"state": PAUSED, "message": None} if paused else {}))
    return _stored(history, path)


def remove_folder(history, path: str | os.PathLike) -> WatchFolder:
    """Stop watching a folder; its files' history stays."""
    folder = _stored(history, path)
    history.delete_watch_folder(folder.id)
    return folder


# ---- the watcher ---------------------------------------------------------------------------------
@dataclass
class _Live:
    """A folder being watched in this process."""

    folder: WatchFolder
    files: dict[str, tuple]         # path -> (size, mtime_ns, ctime_ns, sha3 or None)
    watch: Any = None               # watchdog's ObservedWatch, None without notifications
    next_rescan: float = 0.0
    scanned: bool = False


class FolderWatcher:
    """Watches the stored folders (``only``: just these paths) and stamps through ``engine``.

    ``on_folder(folder)`` is called when a folder's state or message changes; ``on_scan(folder,
    files, changed, seconds)`` after each full scan of a folder; ``on_submit(paths)`` when files are
    handed to the engine. All run on the watcher's thread."""

    def __init__(self, history, engine, *, settle: float = DEFAULT_SETTLE, rescan: float = DEFAULT_RESCAN,
                 fallback_rescan: float = FALLBACK_RESCAN, poll: float = DEFAULT_POLL,
                 notifications: bool = True, only: Iterable[str] | None = None,
                 on_folder: Callable[[WatchFolder], None] | None = None,
                 on_submit: Callable[[list[str]], None] | None = None,
                 on_scan: Callable[[WatchFolder, int, int, float], None] | None = None):
        self.history = history
        self.engine = engine
        self.settle = settle
        self.rescan_interval = rescan
        self.fallback_rescan = fallback_rescan
        self.poll = poll
        self.only = {normal_path(p) for p in only} if only is not None else None
        self.on_folder = on_folder
        self.on_submit = on_submit
        self.on_scan = on_scan
        self._live: dict[int, _Live] = {}
        self._pending: dict[str, list] = {}     # path -> [folder_id, size, mtime_ns, stable_since]
        self._ready: collections.deque = collections.deque()  # (folder_id, path, stat): settled
        self._unsent: set[int] = set()          # job ids handed over, not sent (nor finished) yet
        self._events: list[tuple[int, Any]] = []
        self._jobs: dict[int, tuple[int, str]] = {}   # job id -> (folder id, path)
        self._hashes: list[tuple[int, str, str]] = []
        self._forget: list[tuple[int, str]] = []
        self._wake = threading.Condition()
        self._stopping = threading.Event()
        self._resync = threading.Event()        # refresh(): re-read the stored folders now
        self._thread: threading.Thread | None = None
        self._synced = False                    # the stored folders were read once
        self._observer = None
        self._notifications = notifications
        engine.subscribe(self._on_update)

    # ---- life cycle ----------------------------------------------------------------------------
    def start(self) -> None:
        if self._notifications:
            try:
                from watchdog.observers import Observer

                self._observer = Observer()
                self._observer.daemon = True
                self._observer.start()
            except Exception as exc:  # no notifications on this system: rescans alone
                log.warning("Change notifications unavailable (%s); folders are rescanned instead", exc)
                self._observer = None
        self._thread = threading.Thread(target=self._run, name="watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self.wake()
        if self._thread:
            self._thread.join(timeout=10)
        if self._observer is not None:
            try:
                self._observer.stop()
                self._observer.join(timeout=5)
            except Exception:
                log.debug("watchdog observer did not stop cleanly", exc_info=True)
        self._flush()

    def wake(self) -> None:
        with self._wake:
            self._wake.notify_all()

    def refresh(self) -> None:
        """Re-read the stored folders now (one was added, paused or removed), not at the next poll."""
        self._resync.set()
        self.wake()

    def idle(self) -> bool:
        """Every live folder scanned once, nothing waiting to settle or to be handed over."""
        with self._wake:
            return (self._synced and not self._pending and not self._ready and not self._events
                    and all(l.scanned for l in self._live.values()))

    def folders(self) -> list[WatchFolder]:
        return [l.folder for l in list(self._live.values())]

    # ---- the thread ----------------------------------------------------------------------------
    def _run(self) -> None:
        next_poll = 0.0
        while not self._stopping.is_set():
            try:
                now = time.monotonic()
                if now >= next_poll or self._resync.is_set():
                    self._resync.clear()
                    self._sync_folders()
                    self._synced = True
                    self._prune_unsent()
                    next_poll = now + self.poll
                self._handle_events()
                for live in list(self._live.values()):
                    if time.monotonic() >= live.next_rescan and not self._stopping.is_set():
                        self._rescan(live)
                self._check_pending()
                self._hand_over_ready()
                self._flush()
            except Exception:  # a bug must not end the watching: log it, carry on at the next tick
                log.exception("Watched folders: unexpected error")
            with self._wake:
                if self._events or self._stopping.is_set() or self._resync.is_set():
                    continue
                if self._ready and len(self._unsent) < MAX_UNSENT:
                    continue
                due = [next_poll] + [l.next_rescan for l in self._live.values()]
                timeout = min(due) - time.monotonic()
                if self._pending or self._ready:
                    timeout = min(timeout, max(0.05, min(1.0, self.settle / 4)))
                if timeout > 0:
                    self._wake.wait(timeout)

    # ---- folders -------------------------------------------------------------------------------
    def _sync_folders(self) -> None:
        """Follow the stored list (another process may add, pause or remove), and each root's health."""
        stored = {f.id: f for f in list_folders(self.history)
                  if self.only is None or f.path in self.only}
        for folder_id in list(self._live):
            if folder_id not in stored:
                self._drop(self._live.pop(folder_id))
        for folder_id, folder in stored.items():
            live = self._live.get(folder_id)
            if live is None:
                live = self._live[folder_id] = _Live(folder, self.history.watched_files(folder_id))
                live.folder = self._check_root(live, announce=True)
                if live.folder.state == WATCHING:
                    self._start_notifications(live)
                continue
            changed = folder.options != live.folder.options or folder.paused != live.folder.paused
            # settings from the store, the state as this watcher last saw it (its changes are announced)
            live.folder = dataclasses.replace(folder, state=live.folder.state, message=live.folder.message)
            if changed:
                self._drop(live)
                live.next_rescan = 0.0
                live.scanned = False
            before = live.folder.state
            live.folder = self._check_root(live)
            if live.folder.state == WATCHING and (live.watch is None or before != WATCHING):
                if before != WATCHING:
                    live.next_rescan = 0.0  # back (replugged, permission restored, resumed): catch up
                    live.scanned = False
                self._start_notifications(live)

    def _prune_unsent(self) -> None:
        """A safety net under the engine's updates: forget jobs the history shows as sent or done."""
        with self._wake:
            if not (self._ready and self._unsent):
                return
            ids = list(self._unsent)
        unsent_states = ("queued", "hashing", "hashed", "submitting")
        moved_on = {j.id for j in self.history.jobs(ids) if j.state not in unsent_states}
        with self._wake:
            self._unsent -= moved_on

    def _check_root(self, live: _Live, *, announce: bool = False) -> WatchFolder:
        folder = live.folder
        if folder.paused:
            state, message = PAUSED, None
        else:
            try:
                st = os.stat(folder.path)
                if not stat_module.S_ISDIR(st.st_mode):
                    state, message = MISSING, f"{folder.path} is no longer a folder."
                elif not os.access(folder.path, os.R_OK | os.X_OK):
                    state, message = UNREADABLE, (f"{folder.path} cannot be read (permission denied). "
                                                  "Watching goes on once it can be read again.")
                else:
                    state, message = WATCHING, live.folder.message if folder.state == WATCHING else None
            except FileNotFoundError:
                state, message = MISSING, (f"{folder.path} is not there (removed, renamed, or its drive is "
                                           "unplugged). Watching goes on when it is back.")
            except OSError as exc:
                state, message = MISSING, (f"{folder.path} cannot be reached ({exc.strerror or exc}). "
                                           "Watching goes on when it is back.")
        if state != WATCHING and live.watch is not None:
            self._drop(live)
        return self._set_state(live, state, message, announce=announce)

    def _set_state(self, live: _Live, state: str, message: str | None, *, announce: bool = False) -> WatchFolder:
        """Record a folder's state; announce it when it changed (or ``announce``: first seen here)."""
        folder = live.folder
        if (folder.state, folder.message) == (state, message) and not announce:
            return folder
        if (folder.state, folder.message) != (state, message):
            self.history.update_watch_folder(folder.id, state=state, message=message)
        live.folder = folder = dataclasses.replace(folder, state=state, message=message)
        log.info("Watched folder %s: %s %s", folder.path, state, message or "")
        if self.on_folder:
            try:
                self.on_folder(folder)
            except Exception:
                log.exception("on_folder failed")
        return folder

    def _start_notifications(self, live: _Live) -> None:
        if live.watch is not None:
            return
        if self._observer is None:
            if self._notifications:
                self._set_state(live, WATCHING, "Change notifications are not available: this folder is "
                                f"checked every {self.fallback_rescan:g} s.")
            return
        from watchdog.events import (DirCreatedEvent, DirDeletedEvent, DirMovedEvent, FileAttribEvent,
                                     FileClosedEvent, FileCreatedEvent, FileDeletedEvent,
                                     FileModifiedEvent, FileMovedEvent, FileSystemEventHandler)

        watcher, folder_id = self, live.folder.id

        class Handler(FileSystemEventHandler):
            def dispatch(self, event) -> None:
                with watcher._wake:
                    watcher._events.append((folder_id, event))
                    watcher._wake.notify_all()

        kinds = [FileCreatedEvent, FileModifiedEvent, FileClosedEvent, FileMovedEvent, FileDeletedEvent,
                 FileAttribEvent, DirCreatedEvent, DirDeletedEvent, DirMovedEvent]
        try:
            live.watch = self._observer.schedule(Handler(), live.folder.path, recursive=live.folder.recursive,
                                                 event_filter=kinds)
        except Exception as exc:  # inotify watch limit, a network drive, ...: rescans alone
            reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            self._set_state(live, WATCHING, f"Change notifications are not available here ({reason}): "
                            f"this folder is checked every {self.fallback_rescan:g} s.")

    def _drop(self, live: _Live) -> None:
        """Stop notifications and forget what was waiting to settle (the stored file states stay)."""
        if live.watch is not None and self._observer is not None:
            try:
                self._observer.unschedule(live.watch)
            except Exception:
                log.debug("unschedule failed", exc_info=True)
        live.watch = None
        with self._wake:
            for path in [p for p, entry in self._pending.items() if entry[0] == live.folder.id]:
                del self._pending[path]
            self._events = [(fid, e) for fid, e in self._events if fid != live.folder.id]
            self._ready = collections.deque(r for r in self._ready if r[0] != live.folder.id)

    # ---- scanning ------------------------------------------------------------------------------
    def _walk(self, live: _Live, top: str,
              problems: list[tuple[str, str]]) -> Iterator[tuple[str, os.stat_result]]:
        """The wanted files under ``top`` with their stat; ``problems`` collects (path, reason) of
        entries that cannot be read (an unreadable root raises)."""
        folder = live.folder
        stack = [top]
        windows = sys.platform == "win32"
        root_length = len(folder.path.rstrip(os.sep)) + 1
        while stack:
            directory = stack.pop()
            try:
                with os.scandir(directory) as entries:
                    items = list(entries)
            except OSError as exc:
                if directory == folder.path:
                    raise
                problems.append((directory, exc.strerror or str(exc)))
                continue
            for entry in items:
                try:
                    if entry.is_symlink():
                        continue  # links are not followed: no loops, nothing outside the folder
                    if entry.is_dir():
                        if folder.recursive and folder.wants_dir(entry.name):
                            stack.append(entry.path)
                        continue
                    if not entry.is_file():
                        continue
                    rel = entry.path[root_length:]
                    if not folder.wants_file(rel):
                        continue
                    st = entry.stat()
                    if windows and not folder.hidden and _hidden_on_windows(st):
                        continue
                    yield entry.path, st
                except FileNotFoundError:
                    continue  # removed while the folder was read: nothing to report
                except OSError as exc:
                    problems.append((entry.path, exc.strerror or str(exc)))

    def _rescan(self, live: _Live, top: str | None = None) -> None:
        folder = live.folder
        interval = self.rescan_interval if live.watch is not None else min(self.rescan_interval,
                                                                            self.fallback_rescan)
        live.next_rescan = time.monotonic() + interval
        if folder.state != WATCHING:
            live.scanned = True
            return
        started = time.perf_counter()
        problems: list[tuple[str, str]] = []
        seen: set[str] = set()
        changed = len(self._pending)
        top = top or folder.path
        try:
            for path, st in self._walk(live, top, problems):
                seen.add(path)
                self._consider(live, path, st)
                if self._stopping.is_set():
                    return
        except OSError:
            live.folder = self._check_root(live)  # the folder itself went away mid-scan
            live.scanned = True
            return
        prefix = top.rstrip(os.sep) + os.sep
        unreadable = tuple(p for p, _ in problems)
        gone = [p for p in live.files if p.startswith(prefix) and p not in seen and not p.startswith(unreadable)]
        self._forget_files(live, gone)
        if top == folder.path:
            seconds = time.perf_counter() - started
            message = folder.message if folder.message and "notifications" in folder.message else None
            if problems:
                path, reason = problems[0]
                message = (f"{count_noun(len(problems), 'item')} could not be read, e.g. {path} ({reason}). "
                           "They are tried again at the next check.")
            self._set_state(live, WATCHING, message)
            live.scanned = True
            if self.on_scan:
                self.on_scan(live.folder, len(seen), len(self._pending) - changed, seconds)

    def _consider(self, live: _Live, path: str, st: os.stat_result | None = None) -> None:
        """A file that may be new or changed: wait for it to settle unless it is as last seen."""
        if st is None:
            try:
                st = os.stat(path)
            except OSError:
                return
            if not stat_module.S_ISREG(st.st_mode):
                return
        known = live.files.get(path)
        if known is not None and known[:3] == (st.st_size, st.st_mtime_ns, st.st_ctime_ns):
            return
        with self._wake:
            if path in self._pending:
                return
            old = time.time_ns() - st.st_mtime_ns > self.settle * 1e9
            since = time.monotonic() - (self.settle if old else 0)
            self._pending[path] = [live.folder.id, st.st_size, st.st_mtime_ns, since]

    def _forget_files(self, live: _Live, paths: list[str]) -> None:
        if not paths:
            return
        for path in paths:
            live.files.pop(path, None)
        self.history.forget_watched_files(live.folder.id, paths)

    # ---- events --------------------------------------------------------------------------------
    def _handle_events(self) -> None:
        with self._wake:
            events, self._events = self._events, []
        for folder_id in {f for f, _ in events}:  # a folder removed or unplugged: no file events apply
            live = self._live.get(folder_id)
            if live is not None and not os.path.isdir(live.folder.path):
                live.folder = self._check_root(live)
        for folder_id, event in events:
            live = self._live.get(folder_id)
            if live is None or live.folder.state != WATCHING:
                continue
            src = os.fsdecode(event.src_path)
            dest = os.fsdecode(getattr(event, "dest_path", "") or "")
            kind = event.event_type
            if src == live.folder.path and kind in ("deleted", "moved"):
                live.folder = self._check_root(live)
                continue
            # Deletions change nothing here: what was seen of a file stays until a full rescan of a
            # present folder finds it gone, so a folder deleted and restored is not hashed again.
            if event.is_directory:
                if kind == "created":
                    self._rescan_under(live, src)
                elif kind == "moved":
                    self._moved_dir(live, src, dest)
                continue
            if kind == "moved":
                self._moved_file(live, src, dest)
            elif self._inside(live, src):
                self._consider(live, src)

    def _inside(self, live: _Live, path: str) -> bool:
        folder = live.folder
        if not path.startswith(folder.path.rstrip(os.sep) + os.sep):
            return False
        return folder.wants_file(os.path.relpath(path, folder.path))

    def _rescan_under(self, live: _Live, directory: str) -> None:
        rel = os.path.relpath(directory, live.folder.path)
        if live.folder.recursive and all(live.folder.wants_dir(p) for p in rel.split(os.sep)):
            due = live.next_rescan
            self._rescan(live, directory)
            live.next_rescan = due

    def _moved_file(self, live: _Live, src: str, dest: str) -> None:
        """A rename keeps what is known of the file (no hashing) when its size and mtime hold."""
        known = live.files.get(src)
        self._forget_files(live, [src] if known else [])
        if not dest or not self._inside(live, dest):
            return
        try:
            st = os.stat(dest)
        except OSError:
            return
        if known and known[:2] == (st.st_size, st.st_mtime_ns):
            live.files[dest] = (st.st_size, st.st_mtime_ns, st.st_ctime_ns, known[3])
            self.history.save_watched_files(live.folder.id, [(dest, *live.files[dest])])
        else:
            self._consider(live, dest, st)

    def _moved_dir(self, live: _Live, src: str, dest: str) -> None:
        prefix = src + os.sep
        moved = {p: v for p, v in live.files.items() if p.startswith(prefix)}
        self._forget_files(live, list(moved))
        if dest and dest.startswith(live.folder.path.rstrip(os.sep) + os.sep):
            rows = [(dest + p[len(src):], *v) for p, v in moved.items()]
            for path, *values in rows:
                live.files[path] = tuple(values)
            self.history.save_watched_files(live.folder.id, rows)
            self._rescan_under(live, dest)

    # ---- settling and handing over -------------------------------------------------------------
    def _check_pending(self) -> None:
        now = time.monotonic()
        with self._wake:
            entries = list(self._pending.items())
        for path, entry in entries:
            folder_id, size, mtime, since = entry
            try:
                st = os.stat(path)
            except OSError:
                with self._wake:
                    self._pending.pop(path, None)  # gone before it settled
                continue
            if (st.st_size, st.st_mtime_ns) != (size, mtime):
                entry[1:] = [st.st_size, st.st_mtime_ns, now]
                continue
            if now - since >= self.settle:
                with self._wake:
                    self._pending.pop(path, None)
                    self._ready.append((folder_id, path, st))

    def _hand_over_ready(self) -> None:
        """Settled files go to the engine in chunks, as far as the engine keeps up sending them."""
        while not self._stopping.is_set():
            with self._wake:
                room = min(SUBMIT_CHUNK, MAX_UNSENT - len(self._unsent), len(self._ready))
                if room <= 0:
                    return
                taken = [self._ready.popleft() for _ in range(room)]
            by_folder: dict[int, list[tuple[str, os.stat_result]]] = {}
            for folder_id, path, st in taken:
                by_folder.setdefault(folder_id, []).append((path, st))
            for folder_id, files in by_folder.items():
                live = self._live.get(folder_id)
                if live is not None and live.folder.state == WATCHING:
                    self._hand_over(live, files)

    def _hand_over(self, live: _Live, files: list[tuple[str, os.stat_result]]) -> None:
        rows: list[tuple] = []
        submit: list[str] = []
        for path, st in files:
            known = live.files.get(path)
            row = (path, st.st_size, st.st_mtime_ns, st.st_ctime_ns, None)
            if known is not None and known[3] and not live.folder.restamp_changed:
                rows.append(row)  # changed, but this folder stamps each file once
                continue
            submit.append(path)
            rows.append(row)
        for path, *values in rows:
            live.files[path] = tuple(values)
        self.history.save_watched_files(live.folder.id, rows)
        if not submit:
            return
        ids = self.engine.add_files("stamp", submit, skip_if_stamped=True)
        with self._wake:  # read under the lock: updates before it are in the rows, later ones wait
            for job in self.history.jobs(ids):
                if not job.path:
                    continue
                target = (live.folder.id, job.path)
                if job.sha3_256:  # hashed already, or an earlier job of the same file reused
                    self._hashes.append((*target, job.sha3_256))
                if job.state == "failed" and job.error_kind not in FILE_PROBLEM_KINDS:
                    self._forget.append(target)
                elif job.state not in ("confirmed", "cancelled", "failed"):
                    self._jobs[job.id] = target
                    if job.state != "pending":
                        self._unsent.add(job.id)
        if self.on_submit:
            self.on_submit(submit)

    def _on_update(self, update) -> None:
        """Engine updates (worker threads): remember hashes, retry what failed for a passing reason."""
        with self._wake:
            target = self._jobs.get(update.job_id)
            if target is None:
                return
            if update.sha3_256 and update.state in ("hashed", "submitting", "pending", "confirmed", "cancelled"):
                self._hashes.append((*target, update.sha3_256))
            if update.state in ("pending", "confirmed", "cancelled", "failed") and update.job_id in self._unsent:
                self._unsent.discard(update.job_id)
                if self._ready:
                    self._wake.notify_all()
            if update.state in ("confirmed", "cancelled", "failed"):
                self._jobs.pop(update.job_id, None)
                if update.state == "failed":
                    job = self.history.get_job(update.job_id, with_records=False)
                    if job is None or job.error_kind not in FILE_PROBLEM_KINDS:
                        self._forget.append(target)  # e.g. the service was unreachable: next rescan

    def _flush(self) -> None:
        with self._wake:
            hashes, self._hashes = self._hashes, []
            forget, self._forget = self._forget, []
        if hashes:
            latest = {(f, p): s for f, p, s in hashes}
            for (folder_id, path), sha3 in latest.items():
                live = self._live.get(folder_id)
                if live and path in live.files:
                    live.files[path] = (*live.files[path][:3], sha3)
            self.history.set_watched_hashes([(f, p, s) for (f, p), s in latest.items()])
        for folder_id, path in forget:
            live = self._live.get(folder_id)
            if live:
                self._forget_files(live, [path])
