"""The history store: committed transitions, migrations, search, resume lists, damaged databases."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from types import SimpleNamespace

import pytest

from integritas_gui.core.errors import StoreError
from integritas_gui.core.history import History
from integritas_gui.core.history_db import quarantine
from integritas_gui.core.model import ChainRecord


def digest(path="/data/report.pdf", size=10, seg=("11" * 32, "22" * 32)):
    return SimpleNamespace(path=path, size=size, mtime_ns=123, sha3_256="ab" * 32, blake3="cd" * 32,
                           segment_size=65536, segments=seg, segments_root="ef" * 32)


def test_transitions_are_committed_and_visible_to_another_connection(tmp_path):
    db = tmp_path / "h.sqlite3"
    history = History(db)
    job_id = history.add_job("stamp", path="/data/report.pdf", name="report.pdf")
    history.update(job_id, state="hashing")
    history.save_digest(job_id, digest())
    history.update(job_id, state="submitting", attempts=1)
    # A separate process-like connection sees every committed step (nothing held in a transaction).
    other = sqlite3.connect(db)
    state, sha3, attempts = other.execute("SELECT state, sha3_256, attempts FROM jobs").fetchone()
    assert (state, sha3, attempts) == ("submitting", "ab" * 32, 1)
    assert history.segments(job_id) == ("11" * 32, "22" * 32)
    assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_records_are_kept_once_and_newest_block_first(tmp_path):
    history = History(tmp_path / "h.sqlite3")
    job_id = history.add_job("verify", sha3_256="ab" * 32, state="hashed")
    rec = dict(block_number=5, block_date="2026-01-01T00:00:00.000Z", txpow_id="0x1",
               transaction_id="0x2", matched_hash="ab" * 32)
    history.add_records(job_id, [ChainRecord(**rec), ChainRecord(**rec),
                                 ChainRecord(**{**rec, "block_number": 9, "txpow_id": "0x3"})])
    assert [r.block_number for r in history.get_job(job_id).records] == [9, 5]


def test_unfinished_lists_interrupted_and_pending_jobs_only(tmp_path):
    history = History(tmp_path / "h.sqlite3")
    ids = history.add_jobs("stamp", [{"path": f"/f{i}"} for i in range(6)])
    for job_id, state in zip(ids, ["queued", "hashing", "submitting", "pending", "confirmed", "failed"]):
        history.update(job_id, state=state)
    assert [j.state for j in history.unfinished()] == ["queued", "hashing", "submitting", "pending"]


def test_search_by_name_path_hash_prefix_kind_and_outcome(tmp_path):
    history = History(tmp_path / "h.sqlite3")
    a = history.add_job("stamp", path="/docs/contract 100%.pdf", name="contract 100%.pdf")
    b = history.add_job("verify", path="/img/photo.jpg", name="photo.jpg")
    history.save_digest(b, digest(path="/img/photo.jpg"))
    history.update(b, state="done", outcome="no match")
    assert [j.id for j in history.search("100%")] == [a]  # LIKE wildcards are literal
    assert [j.id for j in history.search("abababab")] == [b]
    assert [j.id for j in history.search("0xABABAB")] == [b]
    assert [j.id for j in history.search(kind="stamp")] == [a]
    assert [j.id for j in history.search(outcome="no match")] == [b]
    assert history.count() == 2 and history.count("photo") == 1
    assert [j.id for j in history.search()] == [b, a]  # newest first


def test_latest_stamps_for_paths_skips_failed_attempts(tmp_path):
    history = History(tmp_path / "h.sqlite3")
    first = history.add_job("stamp", path="/a")
    history.update(first, state="confirmed")
    retry = history.add_job("stamp", path="/a")
    history.update(retry, state="failed", error="boom")
    found = history.latest_stamps_for_paths(["/a", "/b"])
    assert list(found) == ["/a"] and found["/a"].id == first


def test_a_newer_schema_is_refused_with_a_plain_message(tmp_path):
    db = tmp_path / "h.sqlite3"
    History(db).close()
    conn = sqlite3.connect(db)
    conn.execute("UPDATE schema_version SET version = 99")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="newer Integritas Desktop"):
        History(db)


def test_a_damaged_database_gives_a_plain_message_and_can_be_moved_aside(tmp_path):
    db = tmp_path / "h.sqlite3"
    db.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(StoreError, match="damaged"):
        History(db)
    moved = quarantine(db)
    assert moved.exists() and not db.exists()
    assert History(db).count() == 0


def test_a_database_locked_by_another_process_gives_a_plain_message(tmp_path):
    db = tmp_path / "h.sqlite3"
    History(db).close()
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sqlite3,sys,time; c=sqlite3.connect(sys.argv[1], isolation_level=None);"
         "c.execute('BEGIN EXCLUSIVE'); print('locked', flush=True); time.sleep(30)", str(db)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        history = History(db, busy_timeout=0.2)
        with pytest.raises(StoreError, match="in use by another program"):
            history.add_job("stamp", path="/x")
    finally:
        holder.kill()
        holder.wait()


def test_utc_now_is_iso_utc_with_milliseconds_and_agrees_with_the_clock():
    import re
    import time
    from datetime import datetime, timezone

    from integritas_gui.core.history import utc_now

    stamps = []
    for sample in range(3):  # across a second boundary the cached date part must move on
        before = datetime.now(timezone.utc)
        stamp = utc_now()
        after = datetime.now(timezone.utc)
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", stamp)
        parsed = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
        assert before.replace(microsecond=before.microsecond // 1000 * 1000) <= parsed <= after
        stamps.append(stamp)
        if sample == 0:  # to just past the next whole second: the later samples are in another one
            time.sleep(1.0 - time.time() % 1.0 + 0.01)
    assert stamps == sorted(stamps) and stamps[0][:19] != stamps[-1][:19]
