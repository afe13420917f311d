"""A 10,000-row queue stays responsive: the GUI thread keeps ticking while updates pour in."""

from __future__ import annotations

import threading
import time

import pytest
from PySide6.QtCore import QElapsedTimer, QTimer
from PySide6.QtGui import QGuiApplication

from integritas_gui.core.engine import JobUpdate

ROWS = 10_000


@pytest.mark.xdist_group("heavy")  # CPU-heavy or timed: one at a time (tests/conftest.py)
def test_ten_thousand_rows_stay_responsive(qtbot, make_window, tmp_path):
    window = make_window()
    bridge = window.bridge
    gaps: list[int] = []
    clock = QElapsedTimer()
    clock.start()
    last = [clock.elapsed()]

    def beat():
        now = clock.elapsed()
        gaps.append(now - last[0])
        last[0] = now

    heartbeat = QTimer(window)
    heartbeat.setInterval(20)
    heartbeat.timeout.connect(beat)
    heartbeat.start()

    base = 10_000_000  # job ids far from the real history's
    paths = [str(tmp_path / f"f{i:05d}.bin") for i in range(ROWS)]

    def send(update):
        bridge.receive(update)
        if update.job_id % 250 == 0:
            # The engine commits to SQLite between updates, which lets other threads run; a pure
            # Python loop here would instead starve the GUI thread of the GIL (not the GUI's fault).
            time.sleep(0.001)

    def engine_like_reports():
        # What a folder drop of 10,000 files looks like from the engine: every job queued,
        # then hashing progress, hashed, submitted, and finally confirmed in a few blocks.
        for i in range(ROWS):
            send(JobUpdate(base + i, "stamp", paths[i], "queued", 0, 4096))
        for step in (1024, 2048, 4096):
            for i in range(ROWS):
                send(JobUpdate(base + i, "stamp", paths[i], "hashing", step, 4096))
            time.sleep(0.05)
        for state in ("hashed", "submitting", "pending"):
            for i in range(ROWS):
                send(JobUpdate(base + i, "stamp", paths[i], state, 4096, 4096,
                                         sha3_256=f"{i:064x}"))
            time.sleep(0.05)
        for i in range(ROWS):
            send(JobUpdate(base + i, "stamp", paths[i], "confirmed", 4096, 4096,
                                     sha3_256=f"{i:064x}", block_number=1000 + i // 2500,
                                     block_date="2026-01-21T10:00:00Z"))

    worker = threading.Thread(target=engine_like_reports)
    started = time.monotonic()
    worker.start()
    qtbot.waitUntil(lambda: not worker.is_alive() and window.model.rowCount() == ROWS
                    and window.model.count_in(("confirmed",)) == ROWS, timeout=60_000)
    fed = time.monotonic() - started
    assert window.model.rowCount() == ROWS
    assert window.notifications and "10000 files" in window.notifications[-1][1]

    # Scroll to the end and back, select everything, then clear the finished rows.
    view = window.queue_page.queue_view
    feeding_worst = max(gaps)
    view.scrollToBottom()
    qtbot.wait(50)
    view.scrollToTop()
    acted = time.monotonic()
    view.selectAll()
    window.queue_page.copy_hash()
    acted = time.monotonic() - acted
    assert len(QGuiApplication.clipboard().text().splitlines()) == ROWS
    qtbot.wait(50)
    cleared = time.monotonic()
    window.queue_page.clear_button.click()
    cleared = time.monotonic() - cleared
    qtbot.wait(100)
    heartbeat.stop()

    assert window.model.rowCount() == 0
    worst = max(gaps)
    print(f"fed {ROWS} rows x 8 updates in {fed:.2f} s; worst GUI gap while feeding {feeding_worst} ms, "
          f"overall {worst} ms; select all + copy {acted * 1000:.0f} ms; "
          f"clear {cleared * 1000:.0f} ms; {len(gaps)} beats; gaps {sorted(gaps)[-5:]}")
    # Generous: this guards against freezing, it is not a benchmark.
    assert len(gaps) > 10
    assert feeding_worst < 1000, f"the GUI thread stalled for {feeding_worst} ms while rows poured in"
    assert worst < 2000, f"the GUI thread stalled for {worst} ms"
    assert cleared < 1.5
