"""core.watch in-process: real folders, real SQLite, a real engine stamping on the sandbox."""

from __future__ import annotations

import os
import time

import pytest

from integritas_gui.core.engine import ConfirmPolicy, Engine
from integritas_gui.core.errors import BadInput
from integritas_gui.core.watch import FolderWatcher, WatchFolder, add_folder, list_folders, set_paused
from tests.sandbox_fixture import TEST_BLOCK_TIME, fast_client
from tests.sandbox_fixture import sandbox_stats as stats


@pytest.mark.parametrize("rel, options, wanted", [
    ("a.pdf", {}, True),
    ("sub/a.pdf", {}, False),                                  # top level only
    ("sub/a.pdf", {"recursive": True}, True),
    (".a.pdf", {}, False),
    (".a.pdf", {"hidden": True}, True),
    (".cache/a.pdf", {"recursive": True}, False),
    ("a.pdf", {"include": ("*.jpg",)}, False),
    ("sub/a.jpg", {"recursive": True, "include": ("*.jpg",)}, True),
    ("drafts/a.jpg", {"recursive": True, "exclude": ("drafts/*",)}, False),
    ("a.jpg", {"exclude": ("*.JPG",)}, os.path.normcase("A") == "A"),
    ("a.pdf.integritas.json", {}, False),                      # our own receipts, never
    ("download.crdownload", {}, False),
])
def test_which_files_a_folder_watches(rel, options, wanted):
    assert WatchFolder(1, "/w", **options).wants_file(rel) is wanted


@pytest.fixture
def running(history, sandbox):
    made = []

    def start(subscribe=None, **options):
        client = fast_client(sandbox.base_url, sandbox.api_key)
        engine = Engine(history, client, confirm=ConfirmPolicy.for_block_time(TEST_BLOCK_TIME))
        if subscribe:
            engine.subscribe(subscribe)
        watcher = FolderWatcher(history, engine, settle=0.3, poll=0.2, **options)
        watcher.start()
        made.append((watcher, engine, client))
        return watcher, engine

    yield start
    for watcher, engine, client in made:
        watcher.stop()
        engine.shutdown()
        client.close()


def wait_until(condition, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def stamped(history, path):
    return [j for j in history.search(os.path.basename(path), kind="stamp") if j.path == str(path)
            and j.state in ("pending", "confirmed")]


def test_without_notifications_the_rescan_finds_new_files(history, running, tmp_path):
    folder = tmp_path / "share"
    folder.mkdir()
    add_folder(history, folder)
    watcher, _ = running(notifications=False, rescan=0.5, fallback_rescan=0.5)
    wait_until(watcher.idle)
    (folder / "late.txt").write_text("arrived on a network share")
    wait_until(lambda: stamped(history, folder / "late.txt"))
    assert watcher.folders()[0].state == "watching"


def test_changed_files_stamped_once_when_restamping_is_off(history, running, sandbox, tmp_path):
    folder = tmp_path / "contracts"
    folder.mkdir()
    signed = folder / "signed.pdf"
    signed.write_bytes(b"first version")
    add_folder(history, folder, restamp_changed=False)
    watcher, engine = running()
    wait_until(lambda: stamped(history, signed))
    wait_until(lambda: history.watched_files(watcher.folders()[0].id)[str(signed)][3] is not None)
    sent = stats(sandbox)["submissions"]
    signed.write_bytes(b"second version, not stamped")
    time.sleep(1.0)
    wait_until(watcher.idle)
    engine.wait_idle(5)
    assert stats(sandbox)["submissions"] == sent
    assert len(stamped(history, signed)) == 1


def test_paused_folder_is_not_stamped_and_catches_up_on_resume(history, running, tmp_path):
    folder = tmp_path / "camera"
    folder.mkdir()
    add_folder(history, folder)
    set_paused(history, folder, True)
    watcher, _ = running()
    (folder / "img1.jpg").write_bytes(b"jpeg 1")
    time.sleep(1.0)
    assert watcher.folders()[0].state == "paused" and not stamped(history, folder / "img1.jpg")
    set_paused(history, folder, False)
    wait_until(lambda: stamped(history, folder / "img1.jpg"))
    assert list_folders(history)[0].state == "watching"


def test_adding_a_missing_path_or_a_file_is_bad_input(history, tmp_path):
    with pytest.raises(BadInput, match="does not exist"):
        add_folder(history, tmp_path / "nope")
    (tmp_path / "f").write_text("x")
    with pytest.raises(BadInput, match="not a folder"):
        add_folder(history, tmp_path / "f")
    assert list_folders(history) == []


def test_a_big_first_scan_is_fed_to_the_engine_in_steps(history, running, tmp_path, monkeypatch):
    import threading

    from integritas_gui.core import watch

    monkeypatch.setattr(watch, "MAX_UNSENT", 3)
    folder = tmp_path / "archive"
    folder.mkdir()
    for i in range(20):
        (folder / f"old {i}.txt").write_text(f"old file {i}")
    add_folder(history, folder)
    unsent, most, lock = set(), [0], threading.Lock()

    def follow(update):
        with lock:
            if update.state in ("queued", "hashing", "hashed", "submitting"):
                unsent.add(update.job_id)
            else:
                unsent.discard(update.job_id)
            most[0] = max(most[0], len(unsent))

    running(subscribe=follow)
    wait_until(lambda: len([j for j in history.search("old", kind="stamp") if j.state == "confirmed"]) == 20)
    assert 1 <= most[0] <= 3


def test_copies_arriving_together_are_sent_once(history, running, sandbox, tmp_path):
    folder = tmp_path / "inbox"
    folder.mkdir()
    add_folder(history, folder)
    watcher, engine = running()
    wait_until(watcher.idle)
    sent = stats(sandbox)["submissions"]
    for i in range(8):
        (folder / f"copy {i}.bin").write_bytes(b"the same scanned page" * 5000)
    wait_until(lambda: len([j for j in history.search("copy", kind="stamp") if j.finished or j.state == "pending"]) == 8)
    jobs = history.search("copy", kind="stamp")
    assert sorted(j.outcome or j.state for j in jobs).count("already stamped") == 7
    assert stats(sandbox)["submissions"] == sent + 1


def test_when_notifications_cannot_be_set_up_the_folder_is_rescanned(history, running, tmp_path, monkeypatch):
    from watchdog.observers import Observer

    def no_more_watches(*args, **kwargs):  # what inotify says past fs.inotify.max_user_watches
        raise OSError(28, "inotify watch limit reached")

    monkeypatch.setattr(Observer, "schedule", no_more_watches)
    folder = tmp_path / "nas"
    folder.mkdir()
    add_folder(history, folder)
    watcher, _ = running(fallback_rescan=0.5)
    wait_until(watcher.idle)
    (state,) = watcher.folders()
    assert state.state == "watching"
    assert "Change notifications are not available here (inotify watch limit reached)" in state.message
    (folder / "late.txt").write_text("found by the rescan")
    wait_until(lambda: stamped(history, folder / "late.txt"))
    assert state.message.endswith("this folder is checked every 0.5 s.")
