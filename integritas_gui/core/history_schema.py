"""The history database's schema: the migrations that build it, applied in order, one
transaction each, and the trigram text index of names and paths (migration 2)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from integritas_gui.core.errors import StoreError


# Each migration is SQL text (statements split on ";") or a function of the connection.
MIGRATIONS: list[Any] = [
    # 1: the first schema
    """
    CREATE TABLE jobs (
        id            INTEGER PRIMARY KEY,
        batch_id      INTEGER,
        kind          TEXT NOT NULL CHECK (kind IN ('stamp', 'check', 'verify')),
        path          TEXT,
        name          TEXT,
        size          INTEGER,
        mtime_ns      INTEGER,
        sha3_256      TEXT,
        blake3        TEXT,
        segment_size  INTEGER,
        segment_count INTEGER,
        segments_root TEXT,
        state         TEXT NOT NULL,
        outcome       TEXT,
        error         TEXT,
        error_kind    TEXT,
        attempts      INTEGER NOT NULL DEFAULT 0,
        options       TEXT,
        base_url      TEXT,
        response      TEXT,
        block_number  INTEGER,
        block_date    TEXT,
        report_path   TEXT,
        receipt_path  TEXT,
        receipt_check TEXT,
        created_at    TEXT NOT NULL,
        updated_at    TEXT NOT NULL,
        submitted_at  TEXT,
        confirmed_at  TEXT
    );
    CREATE INDEX jobs_by_hash ON jobs (sha3_256);
    CREATE INDEX jobs_by_path ON jobs (path, kind);
    CREATE INDEX jobs_by_state ON jobs (state);
    CREATE INDEX jobs_by_kind ON jobs (kind, outcome);
    CREATE INDEX jobs_by_created ON jobs (created_at);
    CREATE TABLE segments (
        job_id  INTEGER PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
        digests BLOB NOT NULL
    );
    CREATE TABLE records (
        id             INTEGER PRIMARY KEY,
        job_id         INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
        block_number   INTEGER,
        block_date     TEXT,
        txpow_id       TEXT,
        transaction_id TEXT,
        matched_hash   TEXT,
        UNIQUE (job_id, txpow_id, transaction_id)
    );
    CREATE INDEX records_by_job ON records (job_id);
    CREATE TABLE batches (
        id         INTEGER PRIMARY KEY,
        kind       TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    """,
    # 2: fast history search (see _migration_2)
    lambda db: _migration_2(db),
    # 3: the status-change time of a hashed file, so an unchanged file is known without reading it
    "ALTER TABLE jobs ADD COLUMN ctime_ns INTEGER",
    # 4: stamps sent and confirmed through the user's own Minima node (core/node_evidence.py)
    """
    CREATE TABLE node_sends (
        job_id      INTEGER PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
        sha3_256    TEXT NOT NULL,
        node_url    TEXT NOT NULL,
        state       TEXT NOT NULL,
        tip_before  INTEGER,
        unmined_id  TEXT,
        at          TEXT NOT NULL
    );
    CREATE TABLE node_evidence (
        id             INTEGER PRIMARY KEY,
        sha3_256       TEXT NOT NULL,
        node_url       TEXT NOT NULL,
        transaction_id TEXT NOT NULL,
        txpow_id       TEXT,
        block_number   INTEGER,
        block_date     TEXT,
        confirmations  INTEGER,
        tip            INTEGER,
        node_version   TEXT,
        checked_at     TEXT NOT NULL,
        UNIQUE (sha3_256, transaction_id)
    );
    CREATE INDEX node_evidence_by_hash ON node_evidence (sha3_256);
    CREATE TABLE node_checks (
        sha3_256   TEXT PRIMARY KEY,
        node_url   TEXT NOT NULL,
        status     TEXT NOT NULL,
        message    TEXT,
        checked_at TEXT NOT NULL
    );
    """,
    # 5: watched folders and what was last seen of each file in them (core.watch)
    """
    CREATE TABLE watch_folders (
        id              INTEGER PRIMARY KEY,
        path            TEXT NOT NULL UNIQUE,
        recursive       INTEGER NOT NULL DEFAULT 0,
        include         TEXT NOT NULL DEFAULT '[]',
        exclude         TEXT NOT NULL DEFAULT '[]',
        hidden          INTEGER NOT NULL DEFAULT 0,
        restamp_changed INTEGER NOT NULL DEFAULT 1,
        paused          INTEGER NOT NULL DEFAULT 0,
        state           TEXT NOT NULL DEFAULT 'new',
        message         TEXT,
        created_at      TEXT NOT NULL,
        updated_at      TEXT NOT NULL
    );
    CREATE TABLE watch_files (
        folder_id INTEGER NOT NULL REFERENCES watch_folders (id) ON DELETE CASCADE,
        path      TEXT NOT NULL,
        size      INTEGER,
        mtime_ns  INTEGER,
        ctime_ns  INTEGER,
        sha3_256  TEXT,
        PRIMARY KEY (folder_id, path)
    ) WITHOUT ROWID
    """,
]

TEXT_INDEX = "jobs_text"
def _words(row: str) -> str:
    """What the text index holds for a job: its path, and its name when the path lacks it."""
    return (f"CASE WHEN {row}.path IS NULL THEN {row}.name WHEN {row}.name IS NULL"
            f" OR instr({row}.path, {row}.name) THEN {row}.path ELSE {row}.path || char(10) || {row}.name END")


_TEXT_INDEX_STATEMENTS = (
    # A trigram index over names and paths: "contains" searches without reading every job. It keeps
    # no copy of the text and no positions (small, cheap to write), so a match is confirmed by LIKE.
    "CREATE VIRTUAL TABLE jobs_text USING fts5(words, content='', detail=none, tokenize='trigram')",
    f"INSERT INTO jobs_text (rowid, words) SELECT id, {_words('jobs')} FROM jobs",
    "CREATE TRIGGER jobs_text_insert AFTER INSERT ON jobs BEGIN"
    f" INSERT INTO jobs_text (rowid, words) VALUES (new.id, {_words('new')}); END",
    "CREATE TRIGGER jobs_text_delete AFTER DELETE ON jobs BEGIN"
    f" INSERT INTO jobs_text (jobs_text, rowid, words) VALUES ('delete', old.id, {_words('old')}); END",
    "CREATE TRIGGER jobs_text_update AFTER UPDATE OF name, path ON jobs BEGIN"
    f" INSERT INTO jobs_text (jobs_text, rowid, words) VALUES ('delete', old.id, {_words('old')});"
    f" INSERT INTO jobs_text (rowid, words) VALUES (new.id, {_words('new')}); END",
)


def _migration_2(db: sqlite3.Connection) -> None:
    db.execute("CREATE INDEX jobs_by_outcome ON jobs (outcome, state)")
    db.execute("CREATE INDEX jobs_by_result ON jobs (kind, outcome, state)")
    try:
        db.execute("SAVEPOINT text_index")
        for statement in _TEXT_INDEX_STATEMENTS:
            db.execute(statement)
        db.execute("RELEASE text_index")
    except sqlite3.OperationalError as exc:  # an SQLite built without FTS5: searches scan instead
        db.execute("ROLLBACK TO text_index")
        db.execute("RELEASE text_index")
        if "fts5" not in str(exc) and "trigram" not in str(exc):
            raise


def migrate(db: sqlite3.Connection, path: Path) -> None:
    """Bring the database at ``path`` (open as ``db``) up to the newest schema."""
    db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    row = db.execute("SELECT version FROM schema_version").fetchone()
    current = row[0] if row else 0
    if current > len(MIGRATIONS):
        raise StoreError(
            f"The history database {path} was written by a newer Integritas Desktop. "
            "Update the app to open it."
        )
    for version in range(current, len(MIGRATIONS)):
        db.execute("BEGIN IMMEDIATE")
        try:  # statement by statement: executescript() would commit half-way
            migration = MIGRATIONS[version]
            if callable(migration):
                migration(db)
            else:
                for statement in migration.split(";"):
                    if statement.strip():
                        db.execute(statement)
            db.execute("DELETE FROM schema_version")
            db.execute("INSERT INTO schema_version (version) VALUES (?)", (version + 1,))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
