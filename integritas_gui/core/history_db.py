"""The history database file: one SQLite connection per thread (closed when the thread ends), the
write lock that queues this process's writers, sqlite3 errors told as plain StoreErrors, and the
schema brought up to date on open (core/history_schema.py). ``History`` builds on it."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from datetime import datetime
from pathlib import Path

from integritas_gui.core.errors import StoreError
from integritas_gui.core.history_schema import migrate

_utc_second: tuple[int, str] = (-1, "")  # the last whole second formatted, shared by all threads


def utc_now() -> str:
    """Now as ISO-8601 UTC with milliseconds, e.g. 2026-11-23T09:41:07.123Z (sorts as text).
    Every state change stamps one; the date and time part is formatted once per second."""
    global _utc_second
    now_ns = time.time_ns()
    second, millis = divmod(now_ns // 1_000_000, 1000)
    cached_second, text = _utc_second
    if cached_second != second:
        text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        _utc_second = (second, text)
    return f"{text}.{millis:03d}Z"


def _store_error(exc: sqlite3.Error, path: Path) -> StoreError:
    text = str(exc).lower()
    if "locked" in text or "busy" in text:
        return StoreError(
            f"The history database {path} is in use by another program. "
            "Close other copies of Integritas Desktop and try again."
        )
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        return StoreError(
            f"The history database {path} is damaged. Move it aside (the app can do this for you) "
            "and a new, empty history will be started; your files and receipts are not affected."
        )
    if "disk" in text and ("full" in text or "i/o" in text):
        return StoreError(f"Cannot write the history database {path}: the disk is full or failing.")
    if "readonly" in text or "unable to open" in text:
        return StoreError(f"Cannot open the history database {path}: check the folder's permissions.")
    return StoreError(f"The history database {path} could not be used: {exc}.")


def quarantine(path: str | os.PathLike) -> Path:
    """Move a damaged database (and its WAL files) aside so a fresh one can start. Returns the new name."""
    path = Path(path)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.damaged-{stamp}")
    path.rename(target)
    for suffix in ("-wal", "-shm"):
        side = path.with_name(path.name + suffix)
        if side.exists():
            side.rename(target.with_name(target.name + suffix))
    return target


class _StoreErrors:
    """Turns an sqlite3.Error raised inside ``with`` into a plain StoreError (one per History)."""

    __slots__ = ("history",)

    def __init__(self, history: "HistoryDatabase"):
        self.history = history

    def __enter__(self) -> "_StoreErrors":
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if isinstance(exc, sqlite3.Error):
            raise _store_error(exc, self.history.path) from exc
        return False


class _StoreWrite(_StoreErrors):
    """One write under the History's lock. Threads of this process queue on a lock that wakes the
    next writer as soon as it is free, instead of in SQLite's busy handler, which retries after
    sleeps of 1-100 ms (the busy timeout still covers other processes on the same file)."""

    __slots__ = ()

    def __enter__(self) -> "_StoreWrite":
        self.history._write_lock.acquire()
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        self.history._write_lock.release()
        return super().__exit__(exc_type, exc, tb)


class _ThreadConnection:
    """A thread's connection, held only by that thread's slot of the History's ``threading.local``:
    when the thread ends, Python drops the slot and this closes the connection."""

    __slots__ = ("conn", "registry", "lock")

    def __init__(self, conn: sqlite3.Connection, registry: set, lock: threading.RLock):
        self.conn, self.registry, self.lock = conn, registry, lock

    def __del__(self) -> None:
        with self.lock:
            self.registry.discard(self.conn)
        try:
            self.conn.close()
        except sqlite3.Error:
            pass


class HistoryDatabase:
    """Thread-safe access to the database file (one connection per thread, closed with it)."""

    def __init__(self, path: str | os.PathLike, *, busy_timeout: float = 5.0):
        self.path = Path(path)
        self._busy_timeout = busy_timeout
        self._local = threading.local()
        self._connections: set[sqlite3.Connection] = set()  # open ones, for close()
        self._connections_lock = threading.RLock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._guard = _StoreErrors(self)
        self._write_lock = threading.Lock()
        self._write_guard = _StoreWrite(self)
        with self._errors():
            migrate(self.db, self.path)

    # ---- connections ---------------------------------------------------------------------------
    def _errors(self) -> "_StoreErrors":
        return self._guard

    def _writing(self) -> "_StoreWrite":
        return self._write_guard

    @property
    def db(self) -> sqlite3.Connection:
        held = getattr(self._local, "held", None)
        if held is not None:
            return held.conn
        try:
            conn = sqlite3.connect(
                self.path, timeout=self._busy_timeout, isolation_level=None, check_same_thread=False,
            )
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
        except sqlite3.Error as exc:
            raise _store_error(exc, self.path) from exc
        with self._connections_lock:
            self._connections.add(conn)
        self._local.held = _ThreadConnection(conn, self._connections, self._connections_lock)
        return conn

    def close(self) -> None:
        with self._connections_lock:
            for conn in self._connections:
                try:
                    conn.close()
                except sqlite3.Error:
                    pass
            self._connections.clear()
        self._local = threading.local()

    @property
    def schema_version(self) -> int:
        return self.db.execute("SELECT version FROM schema_version").fetchone()[0]

    def integrity_check(self) -> str:
        with self._errors():
            return self.db.execute("PRAGMA integrity_check").fetchone()[0]
