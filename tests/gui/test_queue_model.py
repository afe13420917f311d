"""The queue's cells are held by Qt and written only for the rows in view: rows scrolled into view
get theirs at once, changes to rows out of view show when they come into view, palette switches
redraw the bars."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from integritas_gui.core.engine import JobUpdate
from integritas_gui.gui.queue_model import BLOCK, JOB_ID_ROLE, NAME, PROGRESS, SIZE, STATUS, QueueModel
from integritas_gui.gui.queue_page import QueueView

ROWS = 2_000


def queued(i: int) -> JobUpdate:
    return JobUpdate(i, "stamp", f"/data/file{i:05d}.bin", "queued", 0, 4096)


def confirmed(i: int) -> JobUpdate:
    return JobUpdate(i, "stamp", f"/data/file{i:05d}.bin", "confirmed", 4096, 4096,
                     sha3_256=f"{i:064x}", block_number=1_900_000 + i)


def empty_view(qtbot) -> tuple[QueueModel, QueueView]:
    model = QueueModel()
    view = QueueView(model)
    qtbot.addWidget(view)
    view.resize(900, 400)
    view.show()
    qtbot.waitExposed(view)
    return model, view


def make_view(qtbot) -> tuple[QueueModel, QueueView]:
    model, view = empty_view(qtbot)
    model.apply_updates([queued(i) for i in range(ROWS)])
    model.position_of(ROWS - 1)  # shows every staged row now
    assert model.rowCount() == ROWS
    return model, view


def cell(model: QueueModel, row: int, column: int, role=Qt.ItemDataRole.DisplayRole):
    return model.index(row, column).data(role)


def test_rows_in_view_have_cells_and_rows_far_below_are_written_when_scrolled_to(qtbot):
    model, view = make_view(qtbot)
    assert cell(model, 0, NAME) == "file00000.bin"
    assert cell(model, 0, NAME, JOB_ID_ROLE) == 0
    assert cell(model, 0, SIZE) == "4 KiB"
    assert cell(model, 0, SIZE, Qt.ItemDataRole.TextAlignmentRole) is not None
    assert cell(model, 0, NAME, Qt.ItemDataRole.ToolTipRole) == "/data/file00000.bin"
    assert cell(model, 0, PROGRESS, Qt.ItemDataRole.DecorationRole) is not None  # the 0% bar
    assert cell(model, ROWS - 1, NAME) is None  # far out of view: not written yet

    view.scrollToBottom()
    qtbot.waitUntil(lambda: cell(model, ROWS - 1, NAME) == f"file{ROWS - 1:05d}.bin", timeout=2000)
    assert cell(model, ROWS - 1, STATUS)


def test_changes_out_of_view_show_when_the_rows_come_into_view(qtbot):
    model, view = make_view(qtbot)
    last = ROWS - 1
    model.apply_updates([confirmed(i) for i in range(ROWS)])
    assert model.count_in(("confirmed",)) == ROWS  # the model knows every row's state...
    assert cell(model, 0, BLOCK) == "1,900,000"  # ...rows in view show it at once...
    assert cell(model, last, BLOCK) is None  # ...rows out of view when they are scrolled to
    view.scrollToBottom()
    qtbot.waitUntil(lambda: cell(model, last, BLOCK) == f"{1_900_000 + last:,}", timeout=2000)
    assert "1,901,999" in cell(model, last, STATUS)
    assert cell(model, last, STATUS, Qt.ItemDataRole.ToolTipRole) == cell(model, last, STATUS)


def test_failed_rows_are_coloured_and_a_palette_switch_redraws_the_bars(qtbot):
    from integritas_gui.gui.theme import dark_palette

    model, view = make_view(qtbot)
    model.apply_updates([JobUpdate(3, "stamp", "/data/file00003.bin", "failed", 0, 4096,
                                   error="The file could not be read.")])
    assert cell(model, 3, STATUS, Qt.ItemDataRole.ForegroundRole) is not None
    assert cell(model, 3, PROGRESS, Qt.ItemDataRole.DecorationRole) is None  # no bar when failed
    assert cell(model, 4, STATUS, Qt.ItemDataRole.ForegroundRole) is None

    light_bar = cell(model, 0, PROGRESS, Qt.ItemDataRole.DecorationRole).toImage()
    app = QApplication.instance()
    previous = app.palette()
    try:
        app.setPalette(dark_palette())
        model.restyle()
        dark_bar = cell(model, 0, PROGRESS, Qt.ItemDataRole.DecorationRole).toImage()
    finally:
        app.setPalette(previous)
        model.restyle()
    assert dark_bar != light_bar


def test_removing_scattered_rows_keeps_cells_in_step_with_rows(qtbot):
    model, view = make_view(qtbot)
    model.apply_updates([confirmed(i) for i in range(0, ROWS, 2)])  # every other row finished
    model.remove_jobs(model.finished_job_ids())  # > 64 ranges: the model is rebuilt
    assert model.rowCount() == ROWS // 2
    for position in range(10):
        job_id = model.row(position).job_id
        assert job_id % 2 == 1
        assert cell(model, position, NAME) == f"file{job_id:05d}.bin"
        assert cell(model, position, NAME, JOB_ID_ROLE) == job_id


def test_new_rows_are_painted_without_a_change_signal_for_their_cells(qtbot):
    """Inserted rows get their cells with signals blocked: the repaint that rowsInserted causes
    must cover them, or they would show blank until something else repainted the table."""
    from PySide6.QtCore import QEvent, QObject

    model, view = empty_view(qtbot)
    painted = []

    class PaintLog(QObject):
        def eventFilter(self, watched, event):
            if event.type() == QEvent.Type.Paint:
                painted.append(event.region().boundingRect())
            return False

    log = PaintLog(view)
    view.viewport().installEventFilter(log)
    changed = []
    model.dataChanged.connect(lambda first, last, roles=(): changed.append((first.row(), last.row())))
    for batch in (range(0, 3), range(3, 6)):  # the first rows, then rows below them
        painted.clear()
        model.apply_updates([queued(i) for i in batch])
        model.position_of(batch[-1])
        assert cell(model, batch[-1], NAME) == f"file{batch[-1]:05d}.bin"
        qtbot.waitUntil(lambda: any(
            p.contains(view.visualRect(model.index(batch[-1], STATUS))) for p in painted), timeout=2000)
        assert all(any(p.contains(view.visualRect(model.index(i, NAME))) for p in painted) for i in batch)
    assert changed == []
