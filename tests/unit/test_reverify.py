"""core.reverify against a real history made by real stamps on the sandbox, and real files."""

from __future__ import annotations

import os
import threading

import pytest

from integritas_gui.core.engine import ConfirmPolicy, Engine
from integritas_gui.core.errors import Cancelled
from integritas_gui.core.history import History
from integritas_gui.core.paths import app_dirs
from integritas_gui.core.reverify import reverify
from tests.sandbox_fixture import TEST_BLOCK_TIME, fast_client

SEGMENT = 65536


@pytest.fixture
def stamped(sandbox, data_dir, tmp_path):
    """Files under two folders, stamped and confirmed through the engine; the history stays open."""
    dirs = app_dirs().create()
    history = History(dirs.history_db)
    client = fast_client(sandbox.base_url, sandbox.api_key)
    engine = Engine(history, client, confirm=ConfirmPolicy.for_block_time(TEST_BLOCK_TIME),
                    reports_dir=dirs.reports)
    files = {}
    for folder, name, size in (("work", "same.txt", 1000), ("work", "edited.bin", 5 * SEGMENT + 10),
                               ("work", "gone.txt", 300), ("work", "blocked.txt", 200),
                               ("photos", "beach.jpg", 3000)):
        path = tmp_path / folder / name
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(os.urandom(size))
        files[name] = path
    engine.add_files("stamp", [str(p) for p in files.values()])
    assert engine.wait_idle(timeout=30)
    engine.shutdown(wait=True)
    client.close()
    assert history.count(kind="stamp", outcome="confirmed") == len(files)
    yield history, files
    history.close()


def flip_byte(path, offset):
    with open(path, "r+b") as handle:
        handle.seek(offset)
        byte = handle.read(1)
        handle.seek(offset)
        handle.write(bytes([byte[0] ^ 0xFF]))


def test_every_status_with_the_changed_segments(stamped):
    history, files = stamped
    flip_byte(files["edited.bin"], 2 * SEGMENT + 5)  # the third segment
    flip_byte(files["edited.bin"], 3 * SEGMENT)  # and the fourth: one merged range
    files["gone.txt"].unlink()
    files["blocked.txt"].unlink()
    files["blocked.txt"].mkdir()  # something is there, but not a readable file
    progress = []
    checks = {os.path.basename(c.path): c for c in reverify(history, progress=lambda *p: progress.append(p))}
    assert {name: c.status for name, c in checks.items()} == {
        "same.txt": "match", "edited.bin": "changed", "gone.txt": "missing", "blocked.txt": "unreadable",
        "beach.jpg": "match"}
    assert checks["edited.bin"].changed_ranges == ((2 * SEGMENT, 2 * SEGMENT),)
    assert "bytes 131,072 to 262,143" in checks["edited.bin"].message
    assert checks["same.txt"].matches and not checks["same.txt"].quick
    assert checks["same.txt"].sha3_256 == history.get_job(checks["same.txt"].job_id).sha3_256
    assert progress == [(i, 5) for i in range(6)]


def test_a_moved_file_is_found_next_to_where_it_was(stamped):
    history, files = stamped
    files["same.txt"].rename(files["same.txt"].with_name("same (renamed).txt"))
    (check,) = [c for c in reverify(history) if c.path == str(files["same.txt"])]
    assert check.status == "moved" and check.new_path == str(files["same.txt"].with_name("same (renamed).txt"))


def test_only_the_files_within_the_given_folders(stamped, tmp_path):
    history, files = stamped
    photos = [c.path for c in reverify(history, [str(tmp_path / "photos")])]
    assert photos == [str(files["beach.jpg"])]
    assert [c.path for c in reverify(history, [str(files["same.txt"])])] == [str(files["same.txt"])]
    # "pho" is not a folder of theirs: a prefix of a name does not count
    assert list(reverify(history, [str(tmp_path / "pho")])) == []


def test_quick_trusts_unchanged_times_and_rehashes_anything_touched(stamped):
    history, files = stamped
    st = os.stat(files["edited.bin"])
    flip_byte(files["edited.bin"], 10)
    os.utime(files["edited.bin"], ns=(st.st_atime_ns, st.st_mtime_ns))  # same mtime; ctime moves
    checks = {os.path.basename(c.path): c for c in reverify(history, quick=True)}
    assert checks["same.txt"].status == "match" and checks["same.txt"].quick
    assert checks["edited.bin"].status == "changed" and not checks["edited.bin"].quick
    assert checks["edited.bin"].changed_ranges == ((0, SEGMENT),)
    # Without --quick the same unchanged file is read again.
    assert not next(c for c in reverify(history) if c.path == str(files["same.txt"])).quick


def test_cancel_stops_between_files(stamped):
    history, _files = stamped
    cancel = threading.Event()
    seen = []
    with pytest.raises(Cancelled):
        for check in reverify(history, cancel=cancel):
            seen.append(check)
            cancel.set()
    assert len(seen) == 1
