"""The watched-folder tables of the history (migration 5): each watched folder with its options and
state, and what was last seen of each file in it. ``History`` mixes these methods in; core/watch.py
uses them."""

from __future__ import annotations

import json
from typing import Any, Iterable

from integritas_gui.core.history_db import utc_now


class WatchTables:
    """The watched folders and their files, on a ``HistoryDatabase``."""

    _WATCH_COLUMNS = {"recursive", "include", "exclude", "hidden", "restamp_changed", "paused", "state",
                      "message"}

    def save_watch_folder(self, path: str, **values: Any) -> int:
        """Add a watched folder, or replace the options of the one with this path; returns its id."""
        values = {k: json.dumps(list(v)) if k in ("include", "exclude") else v for k, v in values.items()}
        unknown = set(values) - self._WATCH_COLUMNS
        if unknown:
            raise ValueError(f"cannot set {sorted(unknown)}")
        now = utc_now()
        columns = ", ".join(values)
        marks = ", ".join("?" * len(values))
        updates = ", ".join(f"{k} = excluded.{k}" for k in values)
        with self._writing():
            self.db.execute(
                f"INSERT INTO watch_folders (path, {columns}, created_at, updated_at)"
                f" VALUES (?, {marks}, ?, ?) ON CONFLICT (path) DO UPDATE SET {updates},"
                " updated_at = excluded.updated_at",
                (path, *values.values(), now, now),
            )
            return self.db.execute("SELECT id FROM watch_folders WHERE path = ?", (path,)).fetchone()[0]

    def update_watch_folder(self, folder_id: int, **values: Any) -> None:
        unknown = set(values) - self._WATCH_COLUMNS
        if unknown:
            raise ValueError(f"cannot set {sorted(unknown)}")
        assignments = ", ".join(f"{k} = ?" for k in values)
        with self._writing():
            self.db.execute(f"UPDATE watch_folders SET {assignments}, updated_at = ? WHERE id = ?",
                            (*values.values(), utc_now(), folder_id))

    def delete_watch_folder(self, folder_id: int) -> None:
        with self._writing():
            self.db.execute("DELETE FROM watch_folders WHERE id = ?", (folder_id,))

    def watch_folders(self) -> list[dict[str, Any]]:
        with self._errors():
            rows = self.db.execute("SELECT * FROM watch_folders ORDER BY path").fetchall()
        return [{**dict(row), "include": json.loads(row["include"]), "exclude": json.loads(row["exclude"])}
                for row in rows]

    def watched_files(self, folder_id: int) -> dict[str, tuple[int, int, int, str | None]]:
        """What was last seen of each file of a watched folder: path -> (size, mtime, ctime, sha3)."""
        with self._errors():
            rows = self.db.execute("SELECT path, size, mtime_ns, ctime_ns, sha3_256 FROM watch_files"
                                   " WHERE folder_id = ?", (folder_id,))
            return {row[0]: tuple(row[1:]) for row in rows}

    def save_watched_files(self, folder_id: int, rows: Iterable[tuple[str, int, int, int, str | None]]) -> None:
        """Record (path, size, mtime_ns, ctime_ns, sha3) of files of a watched folder, one transaction."""
        with self._writing():
            self.db.execute("BEGIN IMMEDIATE")
            try:
                self.db.executemany("INSERT OR REPLACE INTO watch_files VALUES (?, ?, ?, ?, ?, ?)",
                                    [(folder_id, *row) for row in rows])
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise

    def set_watched_hashes(self, rows: Iterable[tuple[int, str, str]]) -> None:
        """Attach hashes to recorded files: (folder_id, path, sha3)."""
        with self._writing():
            self.db.executemany("UPDATE watch_files SET sha3_256 = ? WHERE folder_id = ? AND path = ?",
                                [(sha3, folder, path) for folder, path, sha3 in rows])

    def forget_watched_files(self, folder_id: int, paths: Iterable[str]) -> None:
        with self._writing():
            self.db.executemany("DELETE FROM watch_files WHERE folder_id = ? AND path = ?",
                                [(folder_id, path) for path in paths])
