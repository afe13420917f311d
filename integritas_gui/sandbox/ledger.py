"""The sandbox's chain: a SQLite ledger of stamps and simulated Minima blocks.

Blocks are computed, not produced by a thread: block ``n`` is made at
``base_time + (n - base_height) * block_time``. A stamp is given the next block when it is submitted
and counts as on chain once that block's time has passed, so blocks "happen" whether or not requests
arrive, and a restart with the same database keeps its chain.
"""

from __future__ import annotations

import datetime as dt
import math
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass

START_HEIGHT = 1_900_000
MINIMA_SEND_ADDRESS = "0x29f774d99ae3e3494ee4a69f3a11a8248362506a9b9bc526f8c98ab6deca68f5"  # stamps pay it

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    id INTEGER PRIMARY KEY,
    hash TEXT NOT NULL,
    submitted_at REAL NOT NULL,
    block_number INTEGER NOT NULL,
    block_time REAL NOT NULL,
    txpow_id TEXT NOT NULL,
    transaction_id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS records_by_hash ON records (hash, block_time);
CREATE INDEX IF NOT EXISTS records_by_time ON records (block_time);
CREATE TABLE IF NOT EXISTS reports (
    token TEXT PRIMARY KEY,
    file_name TEXT NOT NULL,
    created REAL NOT NULL,
    pdf BLOB NOT NULL
);
"""


def random_id() -> str:
    """A Minima-style id: 0x + 64 upper-case hex."""
    return "0x" + secrets.token_hex(32).upper()


def iso_utc(timestamp: float) -> str:
    """ISO-8601 UTC with milliseconds and Z, like the service's blockDate."""
    moment = dt.datetime.fromtimestamp(timestamp, tz=dt.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass(frozen=True)
class Record:
    hash: str
    block_number: int
    block_date: str
    txpow_id: str
    transaction_id: str


class Ledger:
    """Thread-safe: one connection behind a lock (``:memory:`` cannot be shared otherwise)."""

    def __init__(self, db: str = ":memory:", *, block_time: float = 50.0, clock=time.time):
        if block_time <= 0:
            raise ValueError("block_time must be positive")
        self.block_time = float(block_time)
        self._clock = clock
        self._lock = threading.Lock()
        self._db = sqlite3.connect(db, check_same_thread=False, isolation_level=None)
        if db != ":memory:":
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        with self._lock:
            self._rebase()
            self.secret = self._meta("secret") or self._set_meta("secret", secrets.token_hex(32))

    # -- chain time -------------------------------------------------------------------------------

    def _meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def _set_meta(self, key: str, value: str) -> str:
        self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))
        return value

    def _rebase(self) -> None:
        """Continue an existing chain from its height now (the block time may have changed)."""
        now = self._clock()
        height = START_HEIGHT
        base_height, base_time, old_block_time = (
            self._meta("base_height"), self._meta("base_time"), self._meta("block_time"))
        if base_height and base_time and old_block_time:
            elapsed = max(0.0, now - float(base_time))
            height = int(base_height) + int(elapsed // float(old_block_time))
            last = self._db.execute("SELECT MAX(block_number) FROM records WHERE block_time <= ?",
                                    (now,)).fetchone()[0]
            height = max(height, last or 0)
        self.base_height, self.base_time = height, now
        self._set_meta("base_height", str(height))
        self._set_meta("base_time", repr(now))
        self._set_meta("block_time", repr(self.block_time))

    def height(self, now: float | None = None) -> int:
        now = self._clock() if now is None else now
        return self.base_height + int(max(0.0, now - self.base_time) // self.block_time)

    def next_block(self, now: float) -> tuple[int, float]:
        """The block a transaction submitted at ``now`` goes into, and when that block is made."""
        number = self.height(now) + 1
        when = self.base_time + (number - self.base_height) * self.block_time
        return number, when

    # -- stamps and lookups -----------------------------------------------------------------------

    def submit(self, digest: str, *, one_id: bool = False) -> Record:
        """Put a stamp of ``digest`` into the next block. The block's TxPoW id is shared by every
        stamp in that block (``txpowId``); each stamp has its own transaction id. ``one_id``: the
        first stamp of a block is the block itself (a private chain), so its two ids are one."""
        now = self._clock()
        number, when = self.next_block(now)
        with self._lock:
            row = self._db.execute("SELECT txpow_id FROM records WHERE block_number = ? LIMIT 1",
                                   (number,)).fetchone()
            transaction_id = random_id()
            block_id = row[0] if row else (transaction_id if one_id else self.block_id(number))
            self._db.execute(
                "INSERT INTO records (hash, submitted_at, block_number, block_time, txpow_id, "
                "transaction_id) VALUES (?, ?, ?, ?, ?, ?)",
                (digest, now, number, when, block_id, transaction_id),
            )
        return Record(digest, number, iso_utc(when), block_id, transaction_id)

    # -- the chain as a Minima node sees it (sandbox/node.py) ---------------------------------

    def block_id(self, number: int) -> str:
        """The TxPoW id of block ``number`` when no stamp names it: fixed per ledger."""
        import hashlib

        return "0x" + hashlib.sha3_256(f"{self.secret}:{number}".encode()).hexdigest().upper()

    def block_made_at(self, number: int) -> float:
        return self.base_time + (number - self.base_height) * self.block_time

    def records_in_blocks(self, first: int, last: int, digest: str | None = None) -> list[tuple]:
        """(hash, block_number, block_time, txpow_id, transaction_id) of stamps in blocks
        ``first``..``last``, oldest first; only those of ``digest`` when given."""
        query = ("SELECT hash, block_number, block_time, txpow_id, transaction_id FROM records "
                 "WHERE block_number BETWEEN ? AND ?")
        args: list = [first, last]
        if digest is not None:
            query += " AND hash = ?"
            args.append(digest)
        with self._lock:
            return self._db.execute(query + " ORDER BY block_number, id", args).fetchall()

    def record_by_id(self, txpow_id: str) -> tuple | None:
        """The stamp whose transaction id or block id is ``txpow_id`` (case-insensitive)."""
        wanted = "0x" + txpow_id.strip().lower().removeprefix("0x").upper()
        with self._lock:
            return self._db.execute(
                "SELECT hash, block_number, block_time, txpow_id, transaction_id FROM records "
                "WHERE transaction_id = ? OR txpow_id = ? ORDER BY id LIMIT 1", (wanted, wanted)
            ).fetchone()

    def confirmed(self, digest: str) -> list[Record]:
        """On-chain records of a hash, newest first."""
        now = self._clock()
        with self._lock:
            rows = self._db.execute(
                "SELECT hash, block_number, block_time, txpow_id, transaction_id FROM records "
                "WHERE hash = ? AND block_time <= ? ORDER BY block_number DESC, id DESC",
                (digest, now),
            ).fetchall()
        return [Record(h, n, iso_utc(t), tx, tr) for h, n, t, tx, tr in rows]

    def is_confirmed(self, digest: str) -> bool:
        now = self._clock()
        with self._lock:
            row = self._db.execute("SELECT 1 FROM records WHERE hash = ? AND block_time <= ? LIMIT 1",
                                   (digest, now)).fetchone()
        return row is not None

    def counts(self) -> dict[str, int]:
        now = self._clock()
        with self._lock:
            records, anchored = self._db.execute(
                "SELECT COUNT(*), COUNT(DISTINCT hash) FROM records WHERE block_time <= ?", (now,)
            ).fetchone()
            pending = self._db.execute("SELECT COUNT(*) FROM records WHERE block_time > ?",
                                       (now,)).fetchone()[0]
            total = self._db.execute("SELECT COUNT(*) FROM records").fetchone()[0]
        return {"records": records, "anchored_hashes": anchored, "pending": pending,
                "all_records": total, "block_height": self.height(now)}

    # -- reports ----------------------------------------------------------------------------------

    def save_report(self, file_name: str, pdf: bytes) -> str:
        token = secrets.token_urlsafe(18)
        with self._lock:
            self._db.execute("INSERT INTO reports (token, file_name, created, pdf) VALUES (?, ?, ?, ?)",
                             (token, file_name, self._clock(), pdf))
        return token

    def report(self, token: str) -> tuple[str, bytes] | None:
        with self._lock:
            row = self._db.execute("SELECT file_name, pdf FROM reports WHERE token = ?",
                                   (token,)).fetchone()
        return (row[0], bytes(row[1])) if row else None

    def close(self) -> None:
        with self._lock:
            self._db.close()


def seconds_until(timestamp: float, now: float) -> int:
    return max(0, math.ceil(timestamp - now))
