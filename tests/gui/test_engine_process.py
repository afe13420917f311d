"""The window's engine runs in a child process: killing it loses nothing and stamps nothing twice;
``integritas-gui FILE...`` opens the window with those files added."""

from __future__ import annotations

import os
import signal
import sqlite3
import sys

import pytest

from integritas_gui.core.history import History

FILES = 2_000
WAIT_MS = 240_000


def make_files(folder, count: int) -> list[str]:
    folder.mkdir()
    paths = []
    for i in range(count):
        path = folder / f"doc{i:05d}.txt"
        path.write_bytes(f"document {i}\n".encode() * (1 + i % 7))
        paths.append(str(path))
    return paths


def ledger_counts(data_dir) -> tuple[int, int]:
    with sqlite3.connect(data_dir / "sandbox-ledger.sqlite3") as db:
        return db.execute("SELECT COUNT(*), COUNT(DISTINCT hash) FROM records").fetchone()


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_sigkill_of_the_engine_mid_drop_restarts_it_and_the_batch_completes(qtbot, make_window,
                                                                          tmp_path, data_dir):
    window = make_window()
    paths = make_files(tmp_path / "drop", FILES)
    qtbot.waitUntil(lambda: window.bridge.state == "ready", timeout=30_000)
    first_pid = window.bridge.pid
    window.add_paths([tmp_path / "drop"], "stamp")
    qtbot.waitUntil(lambda: window.model.count_in(("pending", "confirmed")) >= 200, timeout=WAIT_MS)
    assert window.model.count_in(("confirmed",)) < FILES

    with qtbot.waitSignal(window.bridge.state_changed, timeout=10_000,
                          check_params_cb=lambda state, text: state == "restarting"):
        os.kill(first_pid, signal.SIGKILL)
    assert "The engine stopped unexpectedly" in window.statusBar().currentMessage()
    assert "Restarting it" in window.statusBar().currentMessage()
    qtbot.waitUntil(lambda: window.bridge.state == "ready", timeout=30_000)
    assert window.bridge.pid != first_pid
    assert "restarted" in window.engine_notices[-1][1]

    # The totals count a new row at once; the row itself is shown with the next insert.
    qtbot.waitUntil(lambda: window.model.rowCount() == FILES
                    and window.model.count_in(("confirmed",)) == FILES, timeout=WAIT_MS)
    history = History(data_dir / "history.sqlite3")
    try:
        stamps = history.latest_stamps_for_paths(paths)
        assert len(stamps) == FILES and {job.state for job in stamps.values()} == {"confirmed"}
        assert history.count(kind="stamp") == FILES
    finally:
        history.close()
    assert ledger_counts(data_dir) == (FILES, FILES), "a file was stamped twice (or not at all)"


@pytest.mark.parametrize("drop_action", [None, "verify"])
def test_files_on_the_command_line_open_the_window_with_them_added(qtbot, tmp_path, data_dir,
                                                                   monkeypatch, drop_action):
    """``integritas-gui FILE...``: the window opens with the files queued, stamped by default or
    with the drop action chosen in the settings."""
    from integritas_gui.__main__ import open_window, parse_args
    from integritas_gui.core.paths import app_dirs
    from integritas_gui.core.settings import Settings, save_settings

    monkeypatch.setenv("INTEGRITAS_SANDBOX_BLOCK_TIME", "0.2")
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # the window's crash handler is put back
    monkeypatch.setattr("threading.excepthook", __import__("threading").excepthook)
    if drop_action:
        save_settings(Settings(first_run_done=True, drop_action=drop_action), app_dirs().settings_file)
    (tmp_path / "docs").mkdir()
    for name in ("a.txt", "b.txt"):
        (tmp_path / "docs" / name).write_text(f"contents of {name}\n")
    monkeypatch.chdir(tmp_path / "docs")  # relative names, as typed in a terminal

    _, window = open_window(parse_args(["--sandbox", "a.txt", str(tmp_path / "docs" / "b.txt")]))
    qtbot.addWidget(window)
    try:
        kind = drop_action or "stamp"
        final = "confirmed" if kind == "stamp" else "done"
        qtbot.waitUntil(lambda: window.model.rowCount() == 2 and window.model.count_in((final,)) == 2,
                        timeout=60_000)
        rows = sorted(window.model.rows(), key=lambda r: r.path)
        assert [(r.path, r.kind) for r in rows] == [(str(tmp_path / "docs" / n), kind)
                                                     for n in ("a.txt", "b.txt")]
        assert window.trial_banner.isVisibleTo(window)
    finally:
        window.shutdown()


def test_a_service_the_engine_cannot_use_falls_back_to_the_sandbox_and_says_why(qtbot, make_window,
                                                                               monkeypatch, tmp_path):
    monkeypatch.setenv("INTEGRITAS_API_KEY", "key-for-a-bad-address")
    window = make_window(base_url="ftp://integritas.example/core")
    qtbot.waitUntil(lambda: window.services.trial and window.bridge.state == "ready", timeout=30_000)
    message = window.statusBar().currentMessage()
    assert "Could not connect with the new settings" in message and "https://" in message
    assert window.trial_banner.isVisibleTo(window)
    (tmp_path / "a.txt").write_text("still works\n")
    window.add_paths([tmp_path / "a.txt"], "check")
    qtbot.waitUntil(lambda: window.model.count_in(("done",)) == 1, timeout=30_000)
