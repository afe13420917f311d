"""The real main window against the real in-process sandbox: drop, stamp, follow, verify, report."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QGuiApplication
from PySide6.QtWidgets import QApplication

from integritas_gui.gui.queue_model import BLOCK, STATUS
from tests.sandbox_fixture import closed_port

WAIT_MS = 20_000


def make_file(folder: Path, name: str, size: int = 200_000, seed: int = 1) -> Path:
    path = folder / name
    path.write_bytes(bytes((i * 31 + seed * 7 + i // 251) % 256 for i in range(size)))
    return path


def drop(window, paths) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    centre = window.rect().center()
    enter = QDragEnterEvent(centre, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    event = QDropEvent(QPointF(centre), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, event)
    assert event.isAccepted()


def row_for_path(window, path):
    for row in window.model.rows():
        if row.path == str(path):
            return row
    return None


def wait_row(qtbot, window, path, states, kind=None, timeout=WAIT_MS):
    found = {}

    def ready():
        for row in window.model.rows():
            if row.path == str(path) and row.state in states and (kind is None or row.kind == kind):
                found["row"] = row
                return True
        return False

    qtbot.waitUntil(ready, timeout=timeout)
    return found["row"]


def show_details(qtbot, window, job_id, state):
    assert window.queue_page.select_job(job_id)
    qtbot.waitUntil(lambda: window.queue_page.detail_panel.details is not None
                    and window.queue_page.detail_panel.details.job_id == job_id
                    and window.queue_page.detail_panel.details.state == state, timeout=WAIT_MS)
    return window.queue_page.detail_panel


def wait_overall(qtbot, window, text):
    qtbot.waitUntil(lambda: text in window.queue_page.overall_label.text(), timeout=5000)


def status_cell(window, job_id):
    position = window.model.position_of(job_id)
    return window.model.index(position, STATUS).data()


def stamp_and_confirm(qtbot, window, path):
    window.add_paths([path], "stamp")
    return wait_row(qtbot, window, path, {"confirmed"}, kind="stamp")


def test_drop_stamp_confirmed_with_block_and_notification(qtbot, make_window, tmp_path):
    window = make_window()
    assert window.trial_banner.isVisible()
    assert "Sandbox: nothing here is on a real blockchain" in window.trial_banner.title.text()
    assert window.queue_page.queue_stack.currentWidget() is window.queue_page.empty_queue
    files = [make_file(tmp_path, f"doc{i}.bin", 50_000 + i, seed=i) for i in range(3)]
    with qtbot.waitSignal(window.batch_confirmed, timeout=WAIT_MS) as confirmed:
        drop(window, files)
        qtbot.waitUntil(lambda: window.model.rowCount() == 3, timeout=WAIT_MS)
        assert window.queue_page.queue_stack.currentWidget() is window.queue_page.queue_view
        # While the stamps wait for a block, rows say so with the time elapsed.
        qtbot.waitUntil(lambda: any(r.state == "pending" for r in window.model.rows()) or
                        all(r.state == "confirmed" for r in window.model.rows()), timeout=WAIT_MS)
    assert confirmed.args == [3]
    for path in files:
        row = row_for_path(window, path)
        assert row.state == "confirmed" and row.block_number is not None
        text = status_cell(window, row.job_id)
        assert text.startswith(f"Confirmed in block {row.block_number:,} at ")
        assert window.model.index(window.model.position_of(row.job_id), BLOCK).data() == f"{row.block_number:,}"
    assert window.notifications[-1][0] == "Stamps confirmed"
    assert "3 files" in window.notifications[-1][1]
    wait_overall(qtbot, window, "3 confirmed")
    panel = show_details(qtbot, window, row.job_id, "confirmed")
    assert panel.banner.title.text() == "Confirmed on chain"
    assert panel.banner.symbol.text() == "\u2714"
    assert panel.hash_field.text().replace(" ", "") == row.sha3_256
    panel.copy_hash_button.click()
    assert QGuiApplication.clipboard().text() == row.sha3_256


def test_a_drop_is_walked_and_hashed_in_the_engine_process(qtbot, make_window, tmp_path):
    window = make_window()
    folder = tmp_path / "drop"
    folder.mkdir()
    files = [make_file(folder, f"small{i:02d}.bin", 2_000 + i, seed=i) for i in range(40)]
    before = set(threading.enumerate())  # earlier tests' threads may linger in this process
    window.add_paths([folder], "check")
    for path in files:
        wait_row(qtbot, window, path, {"done"}, kind="check")
    assert window.bridge.pid not in (None, os.getpid())
    started = [t.name for t in set(threading.enumerate()) - before]
    assert not [name for name in started if name.startswith(("hash", "net", "scheduler", "walk"))], (
        f"the window's process runs engine threads: {started}")


def test_pending_row_shows_elapsed_time(qtbot, make_window, tmp_path, monkeypatch):
    monkeypatch.setenv("INTEGRITAS_SANDBOX_BLOCK_TIME", "3")
    window = make_window()
    path = make_file(tmp_path, "slow.bin", 10_000)
    window.add_paths([path], "stamp")
    row = wait_row(qtbot, window, path, {"pending"})
    qtbot.waitUntil(lambda: "Pending on chain \u00b7 0:0" in status_cell(window, row.job_id), timeout=5000)
    wait_overall(qtbot, window, "pending on chain")


def test_verify_stamped_file_full_match_with_records_and_copy(qtbot, make_window, tmp_path):
    window = make_window()
    path = make_file(tmp_path, "contract.pdf", 150_000)
    stamped = stamp_and_confirm(qtbot, window, path)
    window.queue_page.select_job(stamped.job_id)
    window.act_verify.trigger()  # verifies the selected file
    row = wait_row(qtbot, window, path, {"done"}, kind="verify")
    assert row.outcome == "full match"
    assert status_cell(window, row.job_id) == "\u2714 Full match"
    panel = show_details(qtbot, window, row.job_id, "done")
    assert panel.banner.title.text() == "Full match" and panel.banner.symbol.text() == "\u2714"
    assert "anchored on the Minima blockchain once" in panel.banner.text.text()
    assert not panel.records_box.isHidden()
    assert panel.records.rowCount() == 1
    record = panel.records.records[0]
    assert record.block_number == stamped.block_number
    assert panel.records.item(0, 0).text() == f"{stamped.block_number:,}"
    assert record.txpow_id and record.transaction_id
    panel.copy_txpow_button.click()
    assert QGuiApplication.clipboard().text() == record.txpow_id
    panel.copy_txn_button.click()
    assert QGuiApplication.clipboard().text() == record.transaction_id
    assert panel.open_block_button.isEnabled() and panel.open_txn_button.isEnabled()
    assert not panel.segments_box.isHidden()
    data = panel.segment_map.bar.data
    assert data.file_size == 150_000 and data.matched == ((0, 150_000),)
    assert data.changed == ()  # a receipt (the stamp in this history) exists and nothing changed
    # Copy hash from the queue (Ctrl+C on the selection).
    window.queue_page.queue_view.setFocus()
    window.act_copy_hash.trigger()
    assert QGuiApplication.clipboard().text() == row.sha3_256


def test_verify_changed_file_marks_changed_segments(qtbot, make_window, tmp_path):
    window = make_window()
    path = make_file(tmp_path, "photo.raw", 5 * 65536 + 1000)
    stamp_and_confirm(qtbot, window, path)
    data = bytearray(path.read_bytes())
    data[2 * 65536 + 10] ^= 0xFF  # one byte in the third segment
    path.write_bytes(bytes(data))
    window.mode_buttons["verify"].setChecked(True)
    drop(window, [path])
    row = wait_row(qtbot, window, path, {"done"}, kind="verify")
    assert row.outcome == "no match"
    assert status_cell(window, row.job_id) == "\u2718 No match"
    panel = show_details(qtbot, window, row.job_id, "done")
    assert panel.banner.title.text() == "No match" and panel.banner.symbol.text() == "\u2718"
    assert "changed since it was stamped" in panel.banner.text.text()
    segments = panel.segment_map.bar.data
    assert segments.changed == ((2 * 65536, 65536),)
    assert segments.matched == ()
    assert "changed" in panel.segment_map.summary.text().lower()
    assert panel.records_box.isHidden()


def test_unknown_file_no_match_and_check_not_found(qtbot, make_window, tmp_path):
    window = make_window()
    path = make_file(tmp_path, "never-stamped.txt", 3_000, seed=9)
    window.add_paths([path], "verify")
    row = wait_row(qtbot, window, path, {"done"}, kind="verify")
    assert row.outcome == "no match"
    panel = show_details(qtbot, window, row.job_id, "done")
    assert panel.banner.title.text() == "No match"
    assert panel.records_box.isHidden()
    assert panel.segment_map.bar.data.changed is None  # no receipt known: nothing "changed"
    window.add_paths([path], "check")
    checked = wait_row(qtbot, window, path, {"done"}, kind="check")
    assert checked.outcome == "not found"
    assert status_cell(window, checked.job_id) == "\u2718 Not found on chain"


def test_report_download_open_and_save(qtbot, make_window, tmp_path):
    window = make_window()
    path = make_file(tmp_path, "evidence.bin", 20_000)
    stamped = stamp_and_confirm(qtbot, window, path)
    panel = show_details(qtbot, window, stamped.job_id, "confirmed")
    assert panel.report_button.isVisible()
    with qtbot.waitSignal(window.report_ready, timeout=WAIT_MS) as ready:
        panel.report_button.click()
    job_id, report_path = ready.args
    assert Path(report_path).read_bytes().startswith(b"%PDF")
    panel = show_details(qtbot, window, job_id, "done")
    assert panel.open_report_button.isVisible() and panel.save_report_button.isVisible()
    dest = tmp_path / "saved" / "my-report.pdf"
    dest.parent.mkdir()
    assert window.queue_page.save_report_as(report_path, str(dest)) == str(dest)
    assert dest.read_bytes() == Path(report_path).read_bytes()
    qtbot.waitUntil(lambda: window.services.history.get_job(job_id).report_path == str(dest), timeout=5000)
    assert window.settings.extra["last_report_dir"] == str(dest.parent)


def test_cancel_mid_hash_then_retry_and_remove(qtbot, make_window, tmp_path):
    window = make_window()
    big = tmp_path / "big.img"
    with open(big, "wb") as out:  # sparse: big to hash, nothing on disk
        out.truncate(3 * 1024**3)
    window.add_paths([big], "stamp")
    row = wait_row(qtbot, window, big, {"hashing"})
    qtbot.waitUntil(lambda: row.bytes_done > 0, timeout=WAIT_MS)
    wait_overall(qtbot, window, "Hashing")
    window.queue_page.select_job(row.job_id)
    assert window.queue_page.cancel_button.isEnabled()
    window.queue_page.cancel_button.click()
    wait_row(qtbot, window, big, {"cancelled"})
    assert status_cell(window, row.job_id) == "Cancelled"
    assert row.bytes_done < row.bytes_total
    qtbot.waitUntil(lambda: window.queue_page.retry_button.isEnabled(), timeout=5000)
    window.queue_page.retry_button.click()
    wait_row(qtbot, window, big, {"queued", "hashing"})
    window.queue_page.cancel_selected()
    wait_row(qtbot, window, big, {"cancelled"})
    window.queue_page.select_job(row.job_id)
    window.queue_page.remove_button.click()
    assert window.model.rowCount() == 0
    assert window.queue_page.queue_stack.currentWidget() is window.queue_page.empty_queue


def test_service_down_shown_next_to_the_file(qtbot, make_window, tmp_path, monkeypatch):
    monkeypatch.setenv("INTEGRITAS_API_KEY", "some-key-0001")
    window = make_window(base_url=f"http://127.0.0.1:{closed_port()}/core",
                         client_options={"max_retries": 1, "timeout": 2})
    assert window.trial_banner.isHidden()
    ok = make_file(tmp_path, "a.txt", 1000)
    window.add_paths([ok], "stamp")
    row = wait_row(qtbot, window, ok, {"failed"})
    text = status_cell(window, row.job_id)
    assert text == "\u2718 " + row.error and "could not connect" in text.lower()
    panel = show_details(qtbot, window, row.job_id, "failed")
    assert panel.banner.title.text() == "Failed" and panel.banner.text.text() == row.error
    assert panel.report_button.isHidden()  # nothing to report on a stamp that never left
    assert window.queue_page.retry_button.isEnabled()
    wait_overall(qtbot, window, "1 failed")


def test_bad_key_shown_next_to_the_file(qtbot, make_window, tmp_path, monkeypatch, sandbox):
    monkeypatch.setenv("INTEGRITAS_API_KEY", "wrong-key-999")
    window = make_window(base_url=sandbox.base_url)
    good = make_file(tmp_path, "a.txt", 1000)
    missing = tmp_path / "gone.txt"
    window.add_paths([good, missing], "stamp")
    row = wait_row(qtbot, window, good, {"failed"})
    assert "key" in row.error.lower()
    assert "wrong-key-999" not in row.error
    assert status_cell(window, row.job_id) == "\u2718 " + row.error
    gone = wait_row(qtbot, window, missing, {"failed"})
    assert gone.error and gone.error != row.error


def test_paste_paths_and_hash(qtbot, make_window, tmp_path):
    window = make_window()
    path = make_file(tmp_path, "pasted.txt", 500)
    QGuiApplication.clipboard().setText(f'"{path}"\n{"ab" * 32}\nnot a thing\n')
    window.mode_buttons["check"].setChecked(True)
    window.act_paste.trigger()
    wait_row(qtbot, window, path, {"done"}, kind="check")
    qtbot.waitUntil(lambda: any(r.path is None and r.state == "done" for r in window.model.rows()),
                    timeout=WAIT_MS)
    assert "neither an existing file nor a SHA3-256 hash" in window.statusBar().currentMessage()
    assert window.settings.drop_action == "check"


def test_privacy_toggle_is_remembered(qtbot, make_window):
    from integritas_gui.core.settings import load_settings

    window = make_window()
    assert not window.privacy_box.isChecked()
    window.privacy_box.setChecked(True)
    assert load_settings(window.services.settings_path).send_file_details is True


def test_menus_shortcuts_and_accessible_names(qtbot, make_window):
    window = make_window()
    titles = [a.text().replace("&", "") for a in window.menuBar().actions()]
    assert titles == ["File", "Edit", "Actions", "View", "Settings", "Help"]
    assert window.act_open_files.shortcut().toString() == "Ctrl+O"
    assert window.act_stamp.shortcut().toString() == "Ctrl+T"
    assert window.act_verify.shortcut().toString() == "Ctrl+E"
    assert window.act_copy_hash.shortcut().toString() == "Ctrl+C"
    for widget in (window.queue_page.queue_view, window.queue_page.overall_bar, window.queue_page.detail_panel, window.trial_banner):
        assert widget.accessibleName()


def test_dark_palette_restyles_banners(qtbot, make_window):
    from integritas_gui.gui.theme import dark_palette

    window = make_window()
    app = QApplication.instance()
    previous = app.palette()
    light = window.trial_banner.styleSheet()
    try:
        app.setPalette(dark_palette())
        qtbot.waitUntil(lambda: window.trial_banner.styleSheet() != light, timeout=3000)
        assert "#4a3700" in window.trial_banner.styleSheet()  # the dark trial tone
    finally:
        app.setPalette(previous)
