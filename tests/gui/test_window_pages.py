"""The window's pages and status bar as a new user meets them: Queue and History side by side from
the first start, and no status message that is no longer true."""

from __future__ import annotations

from PySide6.QtCore import Qt

from tests.gui.test_main_window import WAIT_MS, make_file, wait_row


def test_queue_and_history_are_tabs_from_the_first_start(qtbot, make_window, tmp_path):
    window = make_window()
    tabs = window.tabs
    assert [tabs.tabText(i) for i in range(tabs.count())] == ["Queue", "History", "Watched folders"]
    assert tabs.currentWidget() is window.queue_page
    assert not tabs.tabBar().isHidden()

    path = make_file(tmp_path, "contract.pdf", 40_000)
    window.add_paths([path], "stamp")
    wait_row(qtbot, window, path, {"confirmed"}, kind="stamp")

    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    qtbot.keyClick(window, Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier)
    assert tabs.currentWidget() is window.history_page
    history = window.history_view
    assert history is not None
    qtbot.waitUntil(history.isVisible, timeout=5000)
    qtbot.waitUntil(lambda: history.model.rowCount() == 1, timeout=WAIT_MS)

    qtbot.keyClick(window, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    assert tabs.currentWidget() is window.queue_page

    # The View menu still switches, and the History shows what finished since it was last shown.
    view_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&View")
    assert [a.text() for a in view_menu.actions()] == ["&Queue", "&History", "&Watched folders"]
    second = make_file(tmp_path, "second.pdf", 30_000, seed=2)
    window.add_paths([second], "stamp")
    wait_row(qtbot, window, second, {"confirmed"}, kind="stamp")
    window.act_history.trigger()
    assert tabs.currentWidget() is window.history_page and window.history_view is history
    qtbot.waitUntil(lambda: history.model.rowCount() == 2, timeout=WAIT_MS)


def test_confirmed_summary_leaves_the_status_bar_when_new_work_starts(qtbot, make_window, tmp_path):
    window = make_window()
    first = make_file(tmp_path, "first.bin", 40_000)
    with qtbot.waitSignal(window.batch_confirmed, timeout=WAIT_MS):
        window.add_paths([first], "stamp")
    assert window.statusBar().currentMessage().startswith("Stamps confirmed: 1 file")

    big = tmp_path / "footage.bin"
    with big.open("wb") as out:
        out.truncate(256 * 1024 * 1024)  # sparse: hashing it takes a while, the disk barely notices
    window.add_paths([big], "stamp")
    wait_row(qtbot, window, big, {"hashing"}, kind="stamp")
    assert "Stamps confirmed" not in window.statusBar().currentMessage()
