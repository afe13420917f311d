"""The tray and background running: its tooltip, menu and notifications, closing to the tray (asked
once), start at login from Settings. Offscreen has no real tray; where the platform's answer
matters it is set here, and the tray object's state and the close event are what is checked."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QSystemTrayIcon

from integritas_gui.core import autostart
from integritas_gui.core.settings import load_settings
from integritas_gui.gui import watch_page
from tests.gui.test_main_window import WAIT_MS, make_file, wait_row
from tests.gui.test_watch_window import wait_state, window_watching_a_folder


@pytest.fixture(autouse=True)
def quick_watching(monkeypatch, tmp_path):
    monkeypatch.setattr(watch_page, "WATCH_OPTIONS", {"settle": 0.3, "poll": 0.3})
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))  # start at login goes here


@pytest.fixture
def with_tray(monkeypatch, qapp):
    monkeypatch.setattr(QSystemTrayIcon, "isSystemTrayAvailable", staticmethod(lambda: True))
    yield
    qapp.setQuitOnLastWindowClosed(True)  # closing to the tray turned it off


def answer_question(qtbot, window, button_text):
    """Click a button of the tray's close question once it is shown."""
    def click():
        box = getattr(window.tray, "question", None)
        if box is None or not box.isVisible():
            QTimer.singleShot(50, click)
            return
        next(b for b in box.buttons() if b.text() == button_text).click()

    QTimer.singleShot(0, click)


def test_tooltip_menu_and_notifications_follow_the_work(qtbot, make_window, tmp_path, monkeypatch):
    monkeypatch.setenv("INTEGRITAS_SANDBOX_BLOCK_TIME", "60")  # stamps stay pending
    window = make_window()
    tray = window.tray
    assert tray.tooltip.endswith(": Idle")
    assert [a.text() for a in tray.menu.actions() if a.text()] == ["&Show window", "&Pause all watching", "&Quit"]
    assert not tray.pause_action.isEnabled()

    scans, notes = tmp_path / "scans", tmp_path / "notes"
    scans.mkdir(), notes.mkdir()
    window.watch_page.add_folder(str(scans))
    window.watch_page.add_folder(str(notes))
    wait_state(qtbot, window.watch_page, scans, "watching")
    wait_state(qtbot, window.watch_page, notes, "watching")
    paper = make_file(scans, "paper.pdf", 20_000)
    wait_row(qtbot, window, paper, {"pending"}, kind="stamp")
    qtbot.waitUntil(lambda: tray.tooltip.endswith("Watching 2 folders \u00b7 1 stamp pending"), timeout=WAIT_MS)

    # Pause all, then resume all, from the menu.
    tray.pause_action.trigger()
    wait_state(qtbot, window.watch_page, scans, "paused")
    wait_state(qtbot, window.watch_page, notes, "paused")
    qtbot.waitUntil(lambda: tray.pause_action.text() == "&Resume watching", timeout=WAIT_MS)
    assert "Watching" not in tray.tooltip
    tray.pause_action.trigger()
    wait_state(qtbot, window.watch_page, scans, "watching")
    wait_state(qtbot, window.watch_page, notes, "watching")

    # A folder that goes away is told once, in plain words.
    notes.rename(tmp_path / "notes-old")
    wait_state(qtbot, window.watch_page, notes, "missing")
    qtbot.wait(1000)  # several polls: still told once
    problems = [m for m in tray.messages if m[0] == "Watched folder needs attention"]
    assert len(problems) == 1 and "is not there" in problems[0][1]
    qtbot.waitUntil(lambda: "1 folder needs attention" in tray.tooltip, timeout=WAIT_MS)


def test_confirmed_batch_is_notified_through_the_tray(qtbot, make_window, tmp_path):
    window = make_window()
    with qtbot.waitSignal(window.batch_confirmed, timeout=WAIT_MS):
        window.add_paths([make_file(tmp_path, "a.bin", 10_000)], "stamp")
    assert window.tray.messages[-1][0] == "Stamps confirmed"


def test_close_asks_once_then_stays_in_the_tray_and_keeps_watching(qtbot, make_window, tmp_path, with_tray):
    window, inbox = window_watching_a_folder(qtbot, make_window, tmp_path)
    assert window.tray.available and window.tray.icon is not None

    answer_question(qtbot, window, "Keep running")
    window.close()
    assert not window.isVisible() and not window._closing
    assert window.settings.close_to_tray is True
    assert load_settings(window.services.settings_path).close_to_tray is True

    # Hidden, the engine goes on: a new file in the folder is stamped and confirmed.
    late = make_file(inbox, "late.pdf", 15_000)
    wait_row(qtbot, window, late, {"confirmed"}, kind="stamp")

    window.tray.show_action.trigger()
    assert window.isVisible()
    window.close()  # not asked again
    assert not window.isVisible() and window.tray.question.isHidden()
    window.tray.show_action.trigger()
    window.tray.quit_action.trigger()
    assert window._closing and not window.isVisible()


def test_close_answered_quit_closes_and_is_remembered(qtbot, make_window, tmp_path, with_tray):
    window, _ = window_watching_a_folder(qtbot, make_window, tmp_path)
    answer_question(qtbot, window, "Quit")
    window.close()
    assert window._closing and window.settings.close_to_tray is False


def test_nothing_going_on_or_no_tray_closes_without_asking(qtbot, make_window, tmp_path):
    window = make_window()
    assert window.tray.available is QSystemTrayIcon.isSystemTrayAvailable()
    window.close()
    assert window._closing and window.settings.close_to_tray is None
    assert not hasattr(window.tray, "question")


def test_start_at_login_and_close_to_tray_in_settings(qtbot, make_window, tmp_path):
    window = make_window()
    window.show_settings()
    dialog = window.settings_dialog
    assert not dialog.login_check.isChecked() and not dialog.tray_check.isChecked()
    dialog.login_check.setChecked(True)
    dialog.tray_check.setChecked(True)
    dialog.button_box.accepted.emit()
    entry = tmp_path / "xdg-config" / "autostart" / "integritas-desktop.desktop"
    assert autostart.autostart_file() == entry
    assert entry.is_file() and "--background" in entry.read_text()
    assert window.settings.close_to_tray is True

    window.show_settings()
    dialog = window.settings_dialog
    assert dialog.login_check.isChecked()
    dialog.login_check.setChecked(False)
    dialog.button_box.accepted.emit()
    assert not entry.exists()


@pytest.mark.parametrize("tray", [True, False], ids=["tray", "no-tray"])
def test_started_at_login_goes_to_the_tray_or_minimised(qtbot, data_dir, monkeypatch, tray):
    import sys

    from integritas_gui.__main__ import open_window, parse_args

    monkeypatch.setattr(QSystemTrayIcon, "isSystemTrayAvailable", staticmethod(lambda: tray))
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # the window's crash handler is put back
    monkeypatch.setattr("threading.excepthook", __import__("threading").excepthook)
    app, window = open_window(parse_args(["--sandbox", "--background"]))
    qtbot.addWidget(window)
    try:
        if tray:
            assert not window.isVisible() and not app.quitOnLastWindowClosed()
        else:
            assert window.isMinimized()
        assert window.bridge.wait_idle(30)  # the engine runs all the same
    finally:
        app.setQuitOnLastWindowClosed(True)
        window.shutdown()
