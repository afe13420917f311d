"""The local history: every stamp, check and verification, in one SQLite database.

A *job* is one action (``stamp``, ``check`` or ``verify``) on one file or pasted hash. Its state moves

    queued -> hashing -> hashed -> submitting -> pending -> confirmed      (stamp)
    queued -> hashing -> hashed -> submitting -> done                      (check, verify)

or to ``failed`` (with ``error``) or ``cancelled``. Every transition is committed before the next
step starts, so a crash loses nothing: on restart, ``unfinished()`` lists what to pick up again.

WAL mode with ``synchronous=NORMAL`` survives the app being killed at any moment (a power cut may
lose the last transitions, never corrupt the file). Each thread gets its own connection, closed
when the thread ends, so short-lived worker threads leave no open files behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import sqlite3
import threading
import time
from dataclasses import fields, replace
from typing import Any, Callable, Iterable, Iterator, Sequence

from integritas_gui.core.errors import Cancelled, StoreError
from integritas_gui.core.hexhash import is_hex, normalise_hash_lenient
from integritas_gui.core.history_db import HistoryDatabase, utc_now
from integritas_gui.core.history_node import NodeTables
from integritas_gui.core.history_schema import TEXT_INDEX
from integritas_gui.core.history_watch import WatchTables
from integritas_gui.core.model import FINAL_STATES, RECORD_FIELDS, ChainRecord, Job

KINDS = ("stamp", "check", "verify")
ACTIVE_STATES = ("queued", "hashing", "hashed", "submitting")
STATES = ACTIVE_STATES + ("pending",) + FINAL_STATES

# Columns a caller may set through update(); anything else is a programming error.
_UPDATABLE = {
    "state", "outcome", "error", "error_kind", "size", "mtime_ns", "sha3_256", "blake3",
    "segment_size", "segment_count", "segments_root", "response", "block_number", "block_date",
    "report_path", "receipt_path", "receipt_check", "submitted_at", "confirmed_at", "attempts",
    "options", "base_url",
}

IMPORT_CHUNK = 500  # imported jobs per write transaction: a few ms of the write lock at a time

# Below this many matches a filtered page is read through the indexes and sorted; above it, walking
# the jobs newest first finds a page sooner.
_INDEXED_PAGE_LIMIT = 5000


def _decode_json(text: str | None) -> Any:
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


_JOB_COLUMNS = frozenset(f.name for f in fields(Job)) - {"records"}


def _record_from_row(row: Sequence[Any]) -> ChainRecord:
    return ChainRecord(*row)


def _record_row(job_id: int, record: ChainRecord) -> tuple:
    return (job_id, *(getattr(record, name) for name in RECORD_FIELDS))


def _job_from_row(row: sqlite3.Row) -> Job:
    data = dict(row)
    data["options"] = _decode_json(data.get("options")) or {}
    data["response"] = _decode_json(data.get("response"))
    data["receipt_check"] = _decode_json(data.get("receipt_check"))
    return Job(**data)


class History(NodeTables, WatchTables, HistoryDatabase):
    """The history store callers use: jobs, records, search, imports and bulk reads here; the node
    and watched-folder tables mixed in; connections and the write lock from HistoryDatabase."""

    # ---- writing -------------------------------------------------------------------------------
    def new_batch(self, kind: str) -> int:
        with self._writing():
            cur = self.db.execute(
                "INSERT INTO batches (kind, created_at) VALUES (?, ?)", (kind, utc_now())
            )
            return cur.lastrowid

    def add_jobs(self, kind: str, entries: Sequence[dict[str, Any]], batch_id: int | None = None) -> list[int]:
        """Insert many jobs in one transaction. Each entry may set path, name, size, sha3_256,
        state, error, error_kind, options, base_url. Returns the new ids in order."""
        if kind not in KINDS:
            raise ValueError(f"unknown job kind {kind!r}")
        now = utc_now()
        ids: list[int] = []
        with self._writing():
            db = self.db
            db.execute("BEGIN IMMEDIATE")
            try:
                for entry in entries:
                    cur = db.execute(
                        "INSERT INTO jobs (batch_id, kind, path, name, size, sha3_256, state, error,"
                        " error_kind, options, base_url, created_at, updated_at)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            batch_id, kind, entry.get("path"), entry.get("name"), entry.get("size"),
                            entry.get("sha3_256"), entry.get("state", "queued"), entry.get("error"),
                            entry.get("error_kind"), json.dumps(entry.get("options") or {}),
                            entry.get("base_url"), now, now,
                        ),
                    )
                    ids.append(cur.lastrowid)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return ids

    def add_job(self, kind: str, **entry: Any) -> int:
        return self.add_jobs(kind, [entry], batch_id=entry.pop("batch_id", None))[0]

    def update(self, job_id: int, **changes: Any) -> None:
        """Commit a transition. dict values (response, options, receipt_check) are stored as JSON."""
        unknown = set(changes) - _UPDATABLE
        if unknown:
            raise ValueError(f"cannot update {sorted(unknown)}")
        values = []
        for key, value in changes.items():
            if isinstance(value, (dict, list)):
                value = json.dumps(value, separators=(",", ":"))
            values.append(value)
        assignments = ", ".join(f"{key} = ?" for key in changes)
        with self._writing():
            self.db.execute(
                f"UPDATE jobs SET {assignments}, updated_at = ? WHERE id = ?",
                (*values, utc_now(), job_id),
            )

    def save_digest(self, job_id: int, digest: Any, state: str = "hashed") -> None:
        """Store a FileDigest (hashes and segment list) and move the job on, in one transaction."""
        raw_segments = b"".join(bytes.fromhex(s) for s in digest.segments)
        with self._writing():
            db = self.db
            db.execute("BEGIN IMMEDIATE")
            try:
                db.execute(
                    "UPDATE jobs SET size = ?, mtime_ns = ?, ctime_ns = ?, sha3_256 = ?, blake3 = ?,"
                    " segment_size = ?, segment_count = ?, segments_root = ?, state = ?, error = NULL,"
                    " error_kind = NULL, updated_at = ? WHERE id = ?",
                    (
                        digest.size, digest.mtime_ns, getattr(digest, "ctime_ns", None),
                        digest.sha3_256, digest.blake3,
                        digest.segment_size, len(digest.segments), digest.segments_root, state,
                        utc_now(), job_id,
                    ),
                )
                db.execute(
                    "INSERT OR REPLACE INTO segments (job_id, digests) VALUES (?, ?)",
                    (job_id, raw_segments),
                )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def add_records(self, job_id: int, records: Iterable[ChainRecord]) -> None:
        """Attach on-chain records; the same record twice is kept once."""
        rows = [_record_row(job_id, rec) for rec in records]
        if not rows:
            return
        with self._writing():
            self.db.executemany(
                "INSERT OR IGNORE INTO records (job_id, block_number, block_date, txpow_id,"
                " transaction_id, matched_hash) VALUES (?, ?, ?, ?, ?, ?)",
                rows,
            )

    def delete(self, job_ids: Iterable[int]) -> None:
        ids = list(job_ids)
        with self._writing():
            db = self.db
            db.execute("BEGIN IMMEDIATE")  # one transaction, not one per job
            try:
                db.executemany("DELETE FROM jobs WHERE id = ?", [(i,) for i in ids])
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    # ---- importing -----------------------------------------------------------------------------
    def import_jobs(self, rows: Iterable[dict[str, Any]], *, cancel: threading.Event | None = None,
                    progress: Callable[[int], None] | None = None,
                    chunk: int = IMPORT_CHUNK) -> tuple[int, int]:
        """Insert imported jobs: rows of job columns (the original dates and outcomes kept), plus
        ``records`` (ChainRecords) and ``segments`` (hex digests). A job already there (same
        kind, hash, path and start time) is skipped. Returns (imported, skipped).

        The rows are first read whole into a temporary table of this thread's connection, so a
        damaged row anywhere (the reader raises) stops the import before anything is written.
        They then go in oldest first (by their original id: exports list the newest first),
        ``chunk`` rows per transaction under the write lock, so other writers (the engine) take
        their turn in between instead of waiting out the busy timeout. An import that stops
        part-way (cancelled, a write failed) removes the jobs it had inserted."""
        def check_cancel() -> None:
            if cancel is not None and cancel.is_set():
                raise Cancelled("Import cancelled.")

        db = self.db
        inserted: list[int] = []
        imported = skipped = 0
        try:
            with self._errors():
                columns = {row[1] for row in db.execute("PRAGMA table_info(jobs)")} - {"id"}
                db.execute("CREATE TEMP TABLE IF NOT EXISTS import_stage"
                           " (seq INTEGER PRIMARY KEY, original_id INTEGER, row BLOB NOT NULL)")
                db.execute("CREATE TEMP TABLE IF NOT EXISTS import_queue (n INTEGER PRIMARY KEY, row BLOB NOT NULL)")
                db.execute("DELETE FROM temp.import_stage")
                db.execute("DELETE FROM temp.import_queue")
                staged = []
                for row in rows:
                    check_cancel()
                    original = row.get("id")
                    staged.append((original if isinstance(original, int) else None,
                                   pickle.dumps(row, pickle.HIGHEST_PROTOCOL)))
                    if len(staged) == 1000:
                        self._stage(staged)
                self._stage(staged)
                db.execute("INSERT INTO temp.import_queue (row) SELECT row FROM temp.import_stage"
                           " ORDER BY original_id IS NULL, original_id, seq")
                db.execute("DELETE FROM temp.import_stage")
            last = 0
            while True:
                check_cancel()
                with self._errors():
                    queued = db.execute("SELECT n, row FROM temp.import_queue WHERE n > ? ORDER BY n LIMIT ?",
                                        (last, chunk)).fetchall()
                if not queued:
                    break
                last = queued[-1][0]
                done = self._insert_imported([pickle.loads(row) for _, row in queued], columns)
                inserted.extend(done)
                imported += len(done)
                skipped += len(queued) - len(done)
                if progress is not None:
                    progress(imported)
                time.sleep(0)  # let a writer woken by the lock's release take it before the next chunk
        except BaseException:
            self._remove_imported(inserted)
            raise
        finally:
            with contextlib.suppress(sqlite3.Error):
                db.execute("DELETE FROM temp.import_stage")
                db.execute("DELETE FROM temp.import_queue")
        return imported, skipped

    def _stage(self, staged: list[tuple[int | None, bytes]]) -> None:
        """Rows of an import into this connection's temporary table (touches no shared file)."""
        if staged:
            db = self.db
            db.execute("BEGIN")
            try:
                db.executemany("INSERT INTO temp.import_stage (original_id, row) VALUES (?, ?)", staged)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            staged.clear()

    def _already_there(self, row: dict[str, Any]) -> bool:
        """The same job imported before: same kind, hash, path and start time."""
        # "+kind" keeps SQLite on the hash / path / date index rather than the far wider kind index.
        if row.get("sha3_256"):
            sql, params = "sha3_256 = ? AND +kind = ?", [row["sha3_256"], row["kind"]]
        elif row.get("path"):
            sql, params = "path = ? AND kind = ?", [row["path"], row["kind"]]
        else:
            sql, params = "created_at = ? AND +kind = ?", [row["created_at"], row["kind"]]
        found = self.db.execute(f"SELECT path, sha3_256, created_at FROM jobs WHERE {sql}", params).fetchall()
        return any(path == row.get("path") and sha3 == row.get("sha3_256") and created == row["created_at"]
                   for path, sha3, created in found)

    def _insert_imported(self, rows: list[dict[str, Any]], columns: set[str]) -> list[int]:
        """One chunk of an import in one transaction; the ids of the jobs inserted (not skipped)."""
        ids: list[int] = []
        with self._writing():
            db = self.db
            db.execute("BEGIN IMMEDIATE")
            try:
                for row in rows:
                    if self._already_there(row):
                        continue
                    values = {k: v for k, v in row.items() if k in columns and v is not None}
                    values.setdefault("updated_at", row["created_at"])
                    job_id = db.execute(
                        f"INSERT INTO jobs ({', '.join(values)}) VALUES ({', '.join('?' * len(values))})",
                        list(values.values()),
                    ).lastrowid
                    records = [_record_row(job_id, rec) for rec in row.get("records") or ()]
                    if records:
                        db.executemany(
                            "INSERT OR IGNORE INTO records (job_id, block_number, block_date, txpow_id,"
                            " transaction_id, matched_hash) VALUES (?, ?, ?, ?, ?, ?)",
                            records,
                        )
                    if row.get("segments"):
                        db.execute("INSERT OR REPLACE INTO segments (job_id, digests) VALUES (?, ?)",
                                   (job_id, b"".join(bytes.fromhex(s) for s in row["segments"])))
                    ids.append(job_id)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return ids

    def _remove_imported(self, job_ids: list[int]) -> None:
        """Take out what a stopped import had inserted (best effort: the import's own error is what
        the caller hears about)."""
        for start in range(0, len(job_ids), IMPORT_CHUNK):
            with contextlib.suppress(StoreError):
                self.delete(job_ids[start:start + IMPORT_CHUNK])

    # ---- reading -------------------------------------------------------------------------------
    def get_job(self, job_id: int, *, with_records: bool = True) -> Job | None:
        with self._errors():
            row = self.db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                return None
            job = _job_from_row(row)
            return replace(job, records=self.records(job_id)) if with_records else job

    def records(self, job_id: int) -> tuple[ChainRecord, ...]:
        with self._errors():
            rows = self.db.execute(
                "SELECT block_number, block_date, txpow_id, transaction_id, matched_hash"
                " FROM records WHERE job_id = ? ORDER BY block_number DESC, id",
                (job_id,),
            ).fetchall()
        return tuple(_record_from_row(row) for row in rows)

    def segments(self, job_id: int) -> tuple[str, ...]:
        with self._errors():
            row = self.db.execute("SELECT digests FROM segments WHERE job_id = ?", (job_id,)).fetchone()
        if row is None:
            return ()
        raw = bytes(row[0])
        return tuple(raw[i:i + 32].hex() for i in range(0, len(raw), 32))

    def jobs(self, job_ids: Iterable[int]) -> list[Job]:
        """The jobs with these ids (without records), in the order given; unknown ids are skipped."""
        ids = list(job_ids)
        found: dict[int, Job] = {}
        with self._errors():
            for start in range(0, len(ids), 500):  # well under SQLite's limit on bound parameters
                chunk = ids[start:start + 500]
                marks = ",".join("?" * len(chunk))
                for row in self.db.execute(f"SELECT * FROM jobs WHERE id IN ({marks})", chunk):
                    found[row["id"]] = _job_from_row(row)
        return [found[i] for i in ids if i in found]

    def unfinished(self, kind: str | None = None) -> list[Job]:
        """Jobs a crash or quit interrupted, oldest first: active states and pending stamps."""
        sql = "SELECT * FROM jobs WHERE state IN (?, ?, ?, ?, ?)"
        params: list[Any] = [*ACTIVE_STATES, "pending"]
        if kind:
            sql += " AND kind = ?"
            params.append(kind)
        with self._errors():
            rows = self.db.execute(sql + " ORDER BY id", params).fetchall()
        return [_job_from_row(row) for row in rows]

    def latest_for_path(self, path: str, kind: str, *, states: Sequence[str] | None = None) -> Job | None:
        sql = "SELECT * FROM jobs WHERE path = ? AND kind = ?"
        params: list[Any] = [path, kind]
        if states:
            sql += f" AND state IN ({', '.join('?' * len(states))})"
            params.extend(states)
        with self._errors():
            row = self.db.execute(sql + " ORDER BY id DESC LIMIT 1", params).fetchone()
        return _job_from_row(row) if row else None

    def latest_stamps_for_paths(self, paths: Sequence[str]) -> dict[str, Job]:
        """For each path, its newest stamp job that did not fail or get cancelled (one query per
        500 paths: used to skip files a batch already stamped when it is run again)."""
        found: dict[str, Job] = {}
        with self._errors():
            for start in range(0, len(paths), 500):
                chunk = list(paths[start:start + 500])
                rows = self.db.execute(
                    "SELECT * FROM jobs WHERE id IN (SELECT MAX(id) FROM jobs WHERE kind = 'stamp'"
                    f" AND state NOT IN ('failed', 'cancelled') AND path IN ({', '.join('?' * len(chunk))})"
                    " GROUP BY path)",
                    chunk,
                ).fetchall()
                for row in rows:
                    found[row["path"]] = _job_from_row(row)
        return found

    def stamps_of_hash(self, sha3_256: str) -> list[Job]:
        with self._errors():
            rows = self.db.execute(
                "SELECT * FROM jobs WHERE sha3_256 = ? AND kind = 'stamp' ORDER BY id DESC", (sha3_256,)
            ).fetchall()
        return [_job_from_row(row) for row in rows]

    def count_by_state(self, job_ids: Sequence[int] | None = None) -> dict[str, int]:
        with self._errors():
            if job_ids is None:
                rows = self.db.execute("SELECT state, COUNT(*) FROM jobs GROUP BY state").fetchall()
            else:
                counts: dict[str, int] = {}
                for start in range(0, len(job_ids), 500):
                    chunk = list(job_ids[start:start + 500])
                    for state, n in self.db.execute(
                        f"SELECT state, COUNT(*) FROM jobs WHERE id IN ({', '.join('?' * len(chunk))})"
                        " GROUP BY state",
                        chunk,
                    ):
                        counts[state] = counts.get(state, 0) + n
                return counts
        return {state: n for state, n in rows}

    # ---- search (history view, CLI) ------------------------------------------------------------
    @property
    def has_text_index(self) -> bool:
        found = getattr(self, "_has_text_index", None)
        if found is None:
            with self._errors():
                found = self.db.execute(
                    "SELECT 1 FROM sqlite_master WHERE name = ?", (TEXT_INDEX,)
                ).fetchone() is not None
            self._has_text_index = found
        return found

    @staticmethod
    def _filters(kind: str | None, outcome: str | None, since: str | None, until: str | None,
                 state: str | None) -> tuple[list[str], list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if kind and outcome:  # both sides of the OR then use the (kind, outcome) index
            clauses.append("((jobs.kind = ? AND jobs.outcome = ?)"
                           " OR (jobs.kind = ? AND jobs.outcome IS NULL AND jobs.state = ?))")
            params.extend([kind, outcome, kind, outcome])
        elif kind:
            clauses.append("jobs.kind = ?")
            params.append(kind)
        elif outcome:
            clauses.append("(jobs.outcome = ? OR (jobs.outcome IS NULL AND jobs.state = ?))")
            params.extend([outcome, outcome])
        if state:
            clauses.append("jobs.state = ?")
            params.append(state)
        if since:
            clauses.append("jobs.created_at >= ?")
            params.append(since)
        if until:
            clauses.append("jobs.created_at < ?")
            params.append(until)
        return clauses, params

    @staticmethod
    def _hash_prefix(needle: str) -> str | None:
        bare = normalise_hash_lenient(needle)
        return bare if bare and len(bare) >= 6 and is_hex(bare) else None

    def _text_query(self, needle: str) -> str | None:
        """The text-index query for ``needle`` (every trigram of it), else None: use LIKE alone."""
        if len(needle) < 3 or not self.has_text_index:
            return None
        grams = dict.fromkeys(needle[i:i + 3] for i in range(len(needle) - 2))
        return " ".join('"' + gram.replace('"', '""') + '"' for gram in grams)

    @staticmethod
    def _like(needle: str) -> tuple[str, list[Any]]:
        like = "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        return "(jobs.name LIKE ? ESCAPE '\\' OR jobs.path LIKE ? ESCAPE '\\')", [like, like]

    def _where(self, text: str | None, kind: str | None, outcome: str | None,
               since: str | None, until: str | None, state: str | None = None) -> tuple[str, list[Any]]:
        clauses, params = self._filters(kind, outcome, since, until, state)
        needle = (text or "").strip()
        if needle:
            bare = self._hash_prefix(needle)
            query = self._text_query(needle)
            text_clause, text_params = self._like(needle)
            if query:
                text_clause = (f"(jobs.id IN (SELECT rowid FROM {TEXT_INDEX} WHERE {TEXT_INDEX} MATCH ?)"
                               f" AND {text_clause})")
                text_params = [query, *text_params]
            if bare:  # a hash prefix uses the hash index; names may also contain hex-looking text
                text_clause = f"(jobs.sha3_256 >= ? AND jobs.sha3_256 < ? OR {text_clause})"
                text_params = [bare, bare + "g", *text_params]
            clauses.insert(0, text_clause)
            params[:0] = text_params
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

    def page(self, text: str | None = None, *, kind: str | None = None, outcome: str | None = None,
             since: str | None = None, until: str | None = None, state: str | None = None,
             before_id: int | None = None, limit: int = 200) -> list[Job]:
        """Newest first, only ids below ``before_id``: keyset paging that stays fast at 100,000 jobs.

        ``text`` matches a name or path anywhere, or a hash prefix (as ``search``)."""
        clauses, params = self._filters(kind, outcome, since, until, state)
        if before_id is not None:
            clauses.append("jobs.id < ?")
            params.append(before_id)
        needle = (text or "").strip()
        query = self._text_query(needle) if needle else None
        with self._errors():
            if query:
                # Walk the text index newest first: stops after one page, however common the text.
                where = "".join(f" AND {c}" for c in clauses)
                like_clause, like_params = self._like(needle)
                rows = self.db.execute(
                    f"SELECT jobs.* FROM {TEXT_INDEX} JOIN jobs ON jobs.id = {TEXT_INDEX}.rowid"
                    f" WHERE {TEXT_INDEX} MATCH ? AND {like_clause}{where}"
                    f" ORDER BY {TEXT_INDEX}.rowid DESC LIMIT ?",
                    (query, *like_params, *params, limit),
                ).fetchall()
                bare = self._hash_prefix(needle)
                if bare:
                    rows += self.db.execute(
                        f"SELECT * FROM jobs WHERE sha3_256 >= ? AND sha3_256 < ?{where}"
                        " ORDER BY id DESC LIMIT ?",
                        (bare, bare + "g", *params, limit),
                    ).fetchall()
                    unique = {row["id"]: row for row in rows}
                    rows = [unique[i] for i in sorted(unique, reverse=True)[:limit]]
            else:
                where, text_params = self._where(needle or None, kind, outcome, since, until, state)
                if before_id is not None:
                    where += (" AND" if where else " WHERE") + " jobs.id < ?"
                    text_params.append(before_id)
                few = None
                if where and not needle:  # through the indexes, unordered: cheap when matches are few
                    few = [row[0] for row in self.db.execute(
                        f"SELECT jobs.id FROM jobs{where} LIMIT ?", (*text_params, _INDEXED_PAGE_LIMIT + 1)
                    )]
                if few is not None and len(few) <= _INDEXED_PAGE_LIMIT:
                    chosen = sorted(few, reverse=True)[:limit]
                    found = {row["id"]: row for row in self.db.execute(
                        f"SELECT * FROM jobs WHERE id IN ({', '.join('?' * len(chosen))})", chosen)}
                    rows = [found[i] for i in chosen if i in found]
                else:  # many matches: walk newest first and stop after one page, no sorting
                    rows = self.db.execute(
                        f"SELECT * FROM jobs NOT INDEXED{where} ORDER BY id DESC LIMIT ?",
                        (*text_params, limit),
                    ).fetchall()
        return [_job_from_row(row) for row in rows]

    def search(self, text: str | None = None, *, kind: str | None = None, outcome: str | None = None,
               since: str | None = None, until: str | None = None, state: str | None = None,
               limit: int = 200, offset: int = 0) -> list[Job]:
        """Newest first. ``text`` matches a name or path anywhere, or a hash prefix."""
        if offset == 0:
            return self.page(text, kind=kind, outcome=outcome, since=since, until=until, state=state,
                             limit=limit)
        where, params = self._where(text, kind, outcome, since, until, state)
        with self._errors():
            rows = self.db.execute(
                f"SELECT * FROM jobs{where} ORDER BY id DESC LIMIT ? OFFSET ?", (*params, limit, offset)
            ).fetchall()
        return [_job_from_row(row) for row in rows]

    def count(self, text: str | None = None, *, kind: str | None = None, outcome: str | None = None,
              since: str | None = None, until: str | None = None, state: str | None = None) -> int:
        where, params = self._where(text, kind, outcome, since, until, state)
        with self._errors():
            return self.db.execute(f"SELECT COUNT(*) FROM jobs{where}", params).fetchone()[0]

    def iter_all(self, *, batch: int = 1000) -> Iterator[Job]:
        """Every job, newest first, read in pages (exports of 100,000 entries stay small in memory)."""
        last_id = None
        while True:
            with self._errors():
                if last_id is None:
                    rows = self.db.execute("SELECT * FROM jobs ORDER BY id DESC LIMIT ?", (batch,)).fetchall()
                else:
                    rows = self.db.execute(
                        "SELECT * FROM jobs WHERE id < ? ORDER BY id DESC LIMIT ?", (last_id, batch)
                    ).fetchall()
            if not rows:
                return
            for row in rows:
                yield _job_from_row(row)
            last_id = rows[-1]["id"]


    # ---- bulk reads (exports) and the stamped files (re-verify) --------------------------------
    def job_ids_before(self, before_id: int | None, limit: int) -> list[int]:
        """Up to ``limit`` job ids below ``before_id`` (all when None), newest first."""
        with self._errors():
            if before_id is None:
                rows = self.db.execute("SELECT id FROM jobs ORDER BY id DESC LIMIT ?", (limit,))
            else:
                rows = self.db.execute("SELECT id FROM jobs WHERE id < ? ORDER BY id DESC LIMIT ?",
                                       (before_id, limit))
            return [row[0] for row in rows]

    def _in_list(self, sql: str, job_ids: Sequence[int]) -> list[tuple]:
        """Plain tuples of ``sql`` with ``{marks}`` bound to ``job_ids`` (at most 500 at a time)."""
        found: list[tuple] = []
        with self._errors():
            cursor = self.db.cursor()
            cursor.row_factory = None  # plain tuples: exports read 100,000 rows
            for start in range(0, len(job_ids), 500):
                chunk = list(job_ids[start:start + 500])
                found += cursor.execute(sql.format(marks=", ".join("?" * len(chunk))), chunk).fetchall()
        return found

    def job_tuples(self, job_ids: Sequence[int], columns: Sequence[str]) -> list[tuple]:
        """``columns`` of these jobs as tuples, newest first (column names are the caller's constants)."""
        unknown = set(columns) - _JOB_COLUMNS
        if unknown:
            raise ValueError(f"not job columns: {sorted(unknown)}")
        rows = self._in_list(f"SELECT {', '.join(columns)} FROM jobs WHERE id IN ({{marks}})", job_ids)
        return sorted(rows, key=lambda row: row[columns.index("id")] if "id" in columns else 0, reverse=True)

    def records_of_jobs(self, job_ids: Sequence[int]) -> dict[int, list[ChainRecord]]:
        """The on-chain records of many jobs, newest block first (one query per 500 jobs)."""
        found: dict[int, list[ChainRecord]] = {}
        rows = self._in_list(f"SELECT job_id, {', '.join(RECORD_FIELDS)} FROM records"
                             " WHERE job_id IN ({marks}) ORDER BY job_id, block_number DESC, id", job_ids)
        for row in rows:
            found.setdefault(row[0], []).append(_record_from_row(row[1:]))
        return found

    def segments_hex_of_jobs(self, job_ids: Sequence[int]) -> dict[int, str]:
        """The segment hashes of many jobs as concatenated hex."""
        rows = self._in_list("SELECT job_id, digests FROM segments WHERE job_id IN ({marks})", job_ids)
        return {row[0]: bytes(row[1]).hex() for row in rows}

    def stamped_files(self, folders: Sequence[str] = (), *, batch: int = 200) -> Iterator[Job]:
        """The newest confirmed or pending stamp of each file path, newest first; with ``folders``,
        only the paths equal to or inside one of them."""
        where = ("kind = 'stamp' AND state IN ('confirmed', 'pending') AND path IS NOT NULL"
                 " AND sha3_256 IS NOT NULL")
        params: list[Any] = []
        if folders:
            tests = []
            for folder in folders:
                inside = folder.rstrip("/\\") + os.sep
                tests.append("path = ? OR substr(path, 1, ?) = ?")
                params += [folder, len(inside), inside]
            where += " AND (" + " OR ".join(tests) + ")"
        with self._errors():
            ids = [row[0] for row in self.db.execute(
                f"SELECT MAX(id) FROM jobs WHERE {where} GROUP BY path ORDER BY 1 DESC", params)]
        for start in range(0, len(ids), batch):
            yield from self.jobs(ids[start:start + batch])
