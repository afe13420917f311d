"""History search on the text index (migration 2): upgrade of an old database, sync on change, paging."""

from __future__ import annotations

import sqlite3

from integritas_gui.core.history import History
from integritas_gui.core.history_schema import MIGRATIONS


def make_version_1(path) -> None:
    db = sqlite3.connect(path)
    for statement in MIGRATIONS[0].split(";"):
        if statement.strip():
            db.execute(statement)
    db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    db.execute("INSERT INTO schema_version VALUES (1)")
    db.executemany(
        "INSERT INTO jobs (kind, path, name, sha3_256, state, created_at, updated_at)"
        " VALUES ('stamp', ?, ?, ?, 'confirmed', '2025-01-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z')",
        [(f"/old/Report {i}.pdf", f"Report {i}.pdf", f"{i:02d}" * 32) for i in range(50)],
    )
    db.commit()
    db.close()


def test_an_old_database_is_upgraded_and_searchable(tmp_path):
    path = tmp_path / "h.sqlite3"
    make_version_1(path)
    history = History(path)
    assert history.schema_version == len(MIGRATIONS) and history.has_text_index
    assert history.count("report 4") == 11  # "Report 4" and "Report 40".."49", case-insensitive
    assert [job.name for job in history.page("port 49")] == ["Report 49.pdf"]
    assert history.count("0x494949") == 1  # hash prefix


def test_the_text_index_follows_inserts_renames_and_deletes(tmp_path):
    history = History(tmp_path / "h.sqlite3")
    a = history.add_job("stamp", path="/data/holiday photo.jpg", name="holiday photo.jpg")
    b = history.add_job("verify", path="/data/invoice_2025%.pdf", name="invoice_2025%.pdf")
    assert [j.id for j in history.page("photo")] == [a]
    assert [j.id for j in history.page("_2025%")] == [b]  # LIKE wildcards are literal
    assert history.page("2025_") == []
    history.db.execute("UPDATE jobs SET path = '/data/beach.jpg', name = 'beach.jpg' WHERE id = ?", (a,))
    assert history.page("photo") == [] and [j.id for j in history.page("beach")] == [a]
    history.delete([a])
    assert history.page("beach") == [] and history.count() == 1
    assert history.db.execute("INSERT INTO jobs_text (jobs_text) VALUES ('integrity-check')") is not None


def test_paging_newest_first_with_filters(tmp_path):
    history = History(tmp_path / "h.sqlite3")
    ids = history.add_jobs("check", [{"path": f"/f/{i}.txt", "name": f"{i}.txt"} for i in range(30)])
    for job_id in ids[::3]:
        history.update(job_id, state="done", outcome="found")
    first = history.page(kind="check", outcome="found", limit=4)
    rest = history.page(kind="check", outcome="found", before_id=first[-1].id, limit=100)
    assert [j.id for j in first + rest] == sorted(ids[::3], reverse=True)
    texts = history.page(".txt", limit=7)
    assert [j.id for j in texts] == sorted(ids, reverse=True)[:7]
    assert [j.id for j in history.page(".txt", before_id=texts[-1].id, limit=100)] == sorted(ids, reverse=True)[7:]
