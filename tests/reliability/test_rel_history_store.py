"""The history under a long session's load: connections of ended threads are closed (no descriptor
leak), and a large import shares the write lock with the engine's writes."""

from __future__ import annotations

import os
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
