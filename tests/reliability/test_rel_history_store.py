"""The history under a long session's load: connections of ended threads are closed (no descriptor
leak), and a large import shares the write lock with the engine's writes."""

from __future__ import annotations

import os
import sqlite3
import threading

import pytest

from integritas_gui.core.history import History

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts /proc/self/fd (Linux)")


def open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_reads_from_a_thousand_short_lived_threads_keep_the_descriptor_count_flat(tmp_path):
    history = History(tmp_path / "history.sqlite3")
    job_id = history.add_job("stamp", path="/data/a.txt", name="a.txt")
    try:
        def read() -> None:
            assert history.get_job(job_id).name == "a.txt"

        # one thread first: its WAL and shared-memory files stay open as long as any connection is
        warm = threading.Thread(target=read)
        warm.start()
        warm.join()
        before = open_descriptors()
        counts = []
        for n in range(1000):
            thread = threading.Thread(target=read)
            thread.start()
            thread.join()
            if n % 100 == 99:
                counts.append(open_descriptors())
        assert max(counts) <= before + 2, (before, counts)  # each leaked connection held 2 more
        assert history.count() == 1
    finally:
        history.close()
    assert history.integrity_check() == "ok"  # reopens on demand after close
    history.close()


def write_export(path, count: int) -> None:
    from integritas_gui.core.history_export import EXPORT_FIELDS, write_json

    def rows():
        for i in range(count, 0, -1):  # newest first, as exports are
            row = dict.fromkeys(EXPORT_FIELDS)
            row.update(id=i, kind="stamp", name=f"old-{i:06d}.pdf", path=f"/archive/old-{i:06d}.pdf",
                       size=1000 + i, sha3_256=f"{i:064x}", state="confirmed", block_number=1000 + i,
                       created_at=f"2025-01-01T00:00:{i % 60:02d}.{i % 1000:03d}Z",
                       records=[{"block_number": 1000 + i, "block_date": "2025-01-01T00:01:00.000Z",
                                 "txpow_id": f"0x{i:08x}", "transaction_id": f"t{i}", "matched_hash": None}])
            yield tuple(row[name] for name in EXPORT_FIELDS)

    with open(path, "w", encoding="utf-8") as out:
        assert write_json(rows(), out) == count


@pytest.mark.xdist_group("heavy")  # CPU-heavy or timed: one at a time (tests/conftest.py)
def test_a_100000_entry_import_while_a_batch_is_stamped_fails_nothing(tmp_path, sandbox):
    from integritas_gui.core.engine import ConfirmPolicy, Engine
    from integritas_gui.core.history_export import import_file
    from tests.reliability.conftest import assert_history_consistent, make_files
    from tests.sandbox_fixture import TEST_BLOCK_TIME, fast_client

    entries, files = 100_000, 200
    export = tmp_path / "export.json"
    write_export(export, entries)
    paths = make_files(tmp_path / "batch", files)
    history = History(tmp_path / "history.sqlite3")
    client = fast_client(sandbox.base_url, sandbox.api_key)
    engine = Engine(history, client, confirm=ConfirmPolicy.for_block_time(TEST_BLOCK_TIME))
    importing = threading.Event()
    results = []

    def run_import() -> None:
        results.append(import_file(history, export, progress=lambda done: importing.set()))
        importing.set()

    worker = threading.Thread(target=run_import)
    try:
        worker.start()
        assert importing.wait(60)  # the import is writing: the batch starts in the middle of it
        ids = engine.add_files("stamp", paths)
        assert worker.is_alive()
        assert engine.wait_idle(120)
        batch_done_during_import = worker.is_alive()  # its writes went in between the import's
        worker.join(300)
        assert not worker.is_alive()
    finally:
        engine.shutdown(wait=True)
        client.close()
    [result] = results
    assert (result.error, result.imported, result.skipped) == (None, entries, 0), result.message
    states = [job.state for job in history.jobs(ids)]
    assert states == ["confirmed"] * files, {s: states.count(s) for s in set(states)}
    assert history.count() == entries + files
    assert batch_done_during_import
    history.close()
    assert_history_consistent(tmp_path / "history.sqlite3", paths, "stamp", allowed=("confirmed",))


def test_an_import_cancelled_part_way_takes_its_committed_chunks_out_again(tmp_path):
    from integritas_gui.core.errors import Cancelled
    from integritas_gui.core.history_export import import_file

    export = tmp_path / "export.json"
    write_export(export, 3000)
    history = History(tmp_path / "history.sqlite3")
    kept = history.add_job("stamp", path="/data/kept.txt", name="kept.txt")
    cancel = threading.Event()
    seen = []

    def progress(done: int) -> None:
        seen.append(done)
        other = sqlite3.connect(tmp_path / "history.sqlite3")  # what another reader sees
        try:  # each chunk is committed before the next starts
            assert other.execute("SELECT COUNT(*) FROM jobs").fetchone()[0] == 1 + done
        finally:
            other.close()
        if done >= 1000:
            cancel.set()

    with pytest.raises(Cancelled):
        import_file(history, export, cancel=cancel, progress=progress)
    assert seen[:2] == [500, 1000]
    assert [job.id for job in history.search()] == [kept]
    assert import_file(history, export).imported == 3000  # nothing half-imported is skipped later
    history.close()
