"""A report asked for a file the history already hashed: the file's status-change time is kept
(migration 3), and an unchanged file is not read again."""

from __future__ import annotations

import os
import sqlite3

from integritas_gui.core.engine import Engine
from integritas_gui.core.hashing import hash_file
from integritas_gui.core.history import History
from integritas_gui.core.history_schema import MIGRATIONS


def test_a_history_from_before_the_ctime_column_is_migrated_and_keeps_its_jobs(tmp_path):
    db_path = tmp_path / "old.sqlite3"
    History(db_path).close()
    db = sqlite3.connect(db_path)  # put it back as the previous version wrote it
    db.execute("ALTER TABLE jobs DROP COLUMN ctime_ns")
    for table in ("node_sends", "node_evidence", "node_checks",  # migration 4, after the column
                  "watch_files", "watch_folders"):  # migration 5
        db.execute(f"DROP TABLE {table}")
    db.execute("UPDATE schema_version SET version = 2")
    db.execute("INSERT INTO jobs (kind, path, size, mtime_ns, sha3_256, state, created_at, updated_at)"
               " VALUES ('stamp', '/old', 3, 1, ?, 'confirmed', 'x', 'x')", ("ab" * 32,))
    db.commit()
    db.close()
    history = History(db_path)
    assert history.schema_version == len(MIGRATIONS)
    [job] = history.search()
    assert (job.path, job.ctime_ns, job.sha3_256) == ("/old", None, "ab" * 32)
    history.close()


def test_a_hashed_file_keeps_its_status_change_time(tmp_path, sandbox_client):
    path = tmp_path / "doc.txt"
    path.write_bytes(b"kept\n" * 100)
    history = History(tmp_path / "h.sqlite3")
    engine = Engine(history, sandbox_client)
    try:
        [job_id] = engine.add_files("stamp", [path])
        assert engine.wait_idle(20, include_pending=False)
        job = history.get_job(job_id)
        assert job.ctime_ns == os.stat(path).st_ctime_ns and job.sha3_256 == hash_file(str(path)).sha3_256
        # A rewrite that restores size and modification time is another file to the engine.
        before = os.stat(path)
        path.write_bytes(b"KEPT\n" * 100)
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
        assert not engine._still_same_file(job)
    finally:
        engine.shutdown()
        history.close()


def test_a_report_request_cut_off_by_a_crash_is_not_sent_again_on_resume(tmp_path, sandbox, sandbox_client):
    from tests.sandbox_fixture import sandbox_stats

    history = History(tmp_path / "h.sqlite3")
    plain = history.add_job("verify", sha3_256="ab" * 32, state="submitting", options={"report": False})
    minting = history.add_job("verify", sha3_256="cd" * 32, state="submitting", options={"report": True})
    engine = Engine(history, sandbox_client)
    try:
        assert sorted(engine.resume_unfinished()) == [plain, minting]
        assert engine.wait_idle(20)
        assert history.get_job(plain).state == "done"  # a plain verification is asked again
        job = history.get_job(minting)
        assert job.state == "failed" and "may have made the report" in job.error
        assert "report list on integritas.technology" in job.error
        assert sandbox_stats(sandbox)["verifications"] == 1 and sandbox_stats(sandbox)["reports"] == 0
    finally:
        engine.shutdown()
        history.close()
