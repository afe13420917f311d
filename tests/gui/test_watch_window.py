"""The Watched folders tab against the sandbox: the engine process watches, the window shows."""

from __future__ import annotations

import os
import signal
import sys

import pytest

from integritas_gui.gui import watch_page
from tests.gui.test_main_window import WAIT_MS, make_file, wait_row


@pytest.fixture(autouse=True)
def quick_watching(monkeypatch):
    monkeypatch.setattr(watch_page, "WATCH_OPTIONS", {"settle": 0.3, "poll": 0.3})


def folder_row(page, path):
    return next((f for f in page.model.folders() if f["path"] == str(path)), None)


def wait_state(qtbot, page, path, state):
    qtbot.waitUntil(lambda: (folder_row(page, path) or {}).get("state") == state, timeout=WAIT_MS)
    return folder_row(page, path)


def window_watching_a_folder(qtbot, make_window, tmp_path):
    window = make_window()
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    window.watch_page.add_folder(str(inbox))
    wait_state(qtbot, window.watch_page, inbox, "watching")
    return window, inbox


def test_watch_a_folder_stamp_pause_and_a_removed_folder(qtbot, make_window, tmp_path):
    window = make_window()
    page = window.watch_page
    assert [window.tabs.tabText(i) for i in range(window.tabs.count())][-1] == "Watched folders"
    assert page.empty_label.isVisibleTo(page)
    window.act_watched.trigger()
    assert window.tabs.currentWidget() is page
    inbox = tmp_path / "inbox"
    inbox.mkdir()

    dialog = page.open_add_dialog()
    dialog.path_edit.setText(str(inbox))
    dialog.exclude_edit.setText("*.log")
    dialog.accept()
    folder = wait_state(qtbot, page, inbox, "watching")
    assert folder["recursive"] and folder["exclude"] == ["*.log"]
    assert "not *.log" in page.model.index(0, 1).data()
    assert not page.empty_label.isVisibleTo(page)

    # A file dropped into the folder on disk is stamped by the engine process and confirmed.
    contract = make_file(inbox, "contract.pdf", 30_000)
    make_file(inbox, "debug.log", 1_000, seed=3)
    wait_row(qtbot, window, contract, {"confirmed"}, kind="stamp")
    assert not any(row.path.endswith("debug.log") for row in window.model.rows())

    # Paused: a new file is left alone.
    assert page.select_path(str(inbox))
    assert page.pause_button.text() == "&Pause"
    page.pause_button.click()
    wait_state(qtbot, page, inbox, "paused")
    assert page.pause_button.text() == "&Resume"
    later = make_file(inbox, "later.pdf", 20_000, seed=2)
    qtbot.wait(1500)  # several settle and poll periods
    assert not any(row.path == str(later) for row in window.model.rows())
    page.pause_button.click()  # resumed: the rescan catches what came meanwhile
    wait_state(qtbot, page, inbox, "watching")
    wait_row(qtbot, window, later, {"confirmed"}, kind="stamp")

    # The folder goes away while watched: a plain message on it, nothing else.
    gone = tmp_path / "inbox-moved"
    inbox.rename(gone)
    folder = wait_state(qtbot, page, inbox, "missing")
    assert "is not there" in folder["message"] and "Watching goes on when it is back" in folder["message"]
    assert page.model.index(0, 2).data() == "\u26a0 Missing"
    assert page.model.index(0, 3).data() == folder["message"]

    # Stop watching it: gone from the list (the history keeps its stamps).
    page.select_path(str(inbox))
    page.remove_button.click()
    qtbot.waitUntil(lambda: folder_row(page, inbox) is None, timeout=WAIT_MS)
    assert page.empty_label.isVisibleTo(page)


def test_watching_a_folder_that_is_not_there_says_so(qtbot, make_window, tmp_path):
    window = make_window()
    window.watch_page.add_folder(str(tmp_path / "nowhere"))
    qtbot.waitUntil(lambda: "does not exist" in window.statusBar().currentMessage(), timeout=WAIT_MS)
    assert window.watch_page.model.rowCount() == 0


def test_watched_folders_come_back_after_a_restart(qtbot, make_window, tmp_path):
    folder = tmp_path / "scans"
    folder.mkdir()
    window = make_window()
    window.watch_page.add_folder(str(folder), recursive=False)
    wait_state(qtbot, window.watch_page, folder, "watching")
    window.shutdown()
    # Changed while the app was off: the next start rescans and stamps it.
    scan = make_file(folder, "scan-001.pdf", 25_000)
    again = make_window()
    wait_state(qtbot, again.watch_page, folder, "watching")
    wait_row(qtbot, again, scan, {"confirmed"}, kind="stamp")


def test_a_changed_file_is_stamped_again_unless_the_folder_says_once(qtbot, make_window, tmp_path):
    window = make_window()
    page = window.watch_page
    again, once = tmp_path / "again", tmp_path / "once"
    again.mkdir(), once.mkdir()
    page.add_folder(str(again))
    dialog = page.open_add_dialog()
    dialog.path_edit.setText(str(once))
    dialog.restamp_box.setChecked(False)
    dialog.accept()
    wait_state(qtbot, page, again, "watching")
    wait_state(qtbot, page, once, "watching")
    once_row = [f["path"] for f in page.model.folders()].index(str(once))
    assert "each file stamped once" in page.model.index(once_row, 1).data()

    def stamps(path):
        return [row for row in window.model.rows() if row.path == str(path) and row.kind == "stamp"]

    first, second = make_file(again, "draft.txt", 5_000), make_file(once, "draft.txt", 5_000, seed=2)
    for path in (first, second):
        wait_row(qtbot, window, path, {"confirmed"}, kind="stamp")
    first.write_bytes(b"edited " * 900)
    second.write_bytes(b"edited as well " * 900)
    qtbot.waitUntil(lambda: len(stamps(first)) == 2 and all(r.state == "confirmed" for r in stamps(first)),
                    timeout=WAIT_MS)
    qtbot.wait(1500)  # several settle and poll periods
    assert len(stamps(second)) == 1


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_watching_goes_on_after_the_engine_process_is_killed(qtbot, make_window, tmp_path):
    window, inbox = window_watching_a_folder(qtbot, make_window, tmp_path)
    first_pid = window.bridge.pid
    with qtbot.waitSignal(window.bridge.state_changed, timeout=10_000,
                          check_params_cb=lambda state, text: state == "restarting"):
        os.kill(first_pid, signal.SIGKILL)
    qtbot.waitUntil(lambda: window.bridge.state == "ready" and window.bridge.pid != first_pid, timeout=30_000)
    after = make_file(inbox, "after-restart.pdf", 12_000)
    wait_row(qtbot, window, after, {"confirmed"}, kind="stamp")  # the new engine watches again
