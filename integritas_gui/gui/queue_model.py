"""The queue: one row per job, fed by batches of engine updates.

Built for 10,000+ rows: updates arrive coalesced (see ``adapter.EngineBridge``), new rows are
inserted in one ``insertRows`` per batch, the cells are held by Qt so paints never call Python, and
changed rows are announced in a few ``dataChanged`` runs, never with a model reset.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterable
from typing import Any

from PySide6.QtCore import QModelIndex, QPoint, QRect, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication, QPainter, QPalette, QPixmap, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QApplication, QStyle, QStyleOptionProgressBar

from integritas_gui.gui import status_text as st
from integritas_gui.gui import theme

NAME, ACTION, SIZE, PROGRESS, HASH, STATUS, BLOCK = range(7)
COLUMN_COUNT = 7

JOB_ID_ROLE = Qt.ItemDataRole.UserRole + 1  # on the Name cell

# New rows are shown at most this often (the first ones at once); see QueueModel._insert_staged.
INSERT_INTERVAL_MS = 500
# Cells are written for the rows the view shows and this many more above and below.
VISIBLE_MARGIN_ROWS = 10

# Changed rows closer than this are announced as one range (fewer signals, barely more repaint).
_CHANGED_RUN_GAP = 4
_MAX_CHANGED_RUNS = 32  # beyond this the gap doubles: each signal costs the GUI thread a GIL round trip
# QTableView repaints only the visible part of a dataChanged range of a few rows, but the whole
# viewport for a longer one (measured with Qt 6.12: 21 rows partial, 51 rows whole): long runs are
# announced in slices of this many rows.
_RUN_SLICE_ROWS = 16

# Removing more scattered ranges than this at once rebuilds the model instead (cheaper than
# thousands of beginRemoveRows on a Python list).
_MAX_REMOVE_RANGES = 64


_ALIGN_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)


def progress_pixmap(percent: int, size: QSize, palette: QPalette, ratio: float) -> QPixmap:
    """A native progress bar drawn once into a pixmap: the view shows it as the cell's decoration
    in C++, with no Python delegate called per cell (each Python call from a paint waits for the GIL
    while worker threads run)."""
    pixmap = QPixmap(size * ratio)
    pixmap.setDevicePixelRatio(ratio)
    pixmap.fill(Qt.GlobalColor.transparent)
    bar = QStyleOptionProgressBar()
    bar.rect = QRect(QPoint(0, 0), size)
    bar.minimum, bar.maximum, bar.progress = 0, 100, percent
    bar.text = f"{percent}%"
    bar.textVisible = True
    bar.textAlignment = Qt.AlignmentFlag.AlignCenter
    bar.state = QStyle.StateFlag.State_Enabled | QStyle.StateFlag.State_Horizontal
    bar.palette = palette
    painter = QPainter(pixmap)
    try:
        bar.fontMetrics = painter.fontMetrics()
        QApplication.style().drawControl(QStyle.ControlElement.CE_ProgressBar, bar, painter)
    finally:
        painter.end()
    return pixmap


class QueueRow:
    __slots__ = (
        "job_id", "kind", "path", "name", "state", "bytes_done", "bytes_total", "sha3_256",
        "outcome", "error", "error_kind", "block_number", "block_date", "pending_since", "contribution",
        "in_batch", "shown",
    )

    def __init__(self, job_id: int, kind: str, path: str | None):
        self.job_id = job_id
        self.kind = kind
        self.path = path
        self.name = os.path.basename(path) if path else ""
        self.state = "queued"
        self.bytes_done = 0
        self.bytes_total = 0
        self.sha3_256: str | None = None
        self.outcome: str | None = None
        self.error: str | None = None
        self.error_kind: str | None = None
        self.block_number: int | None = None
        self.block_date: str | None = None
        self.pending_since: float | None = None
        self.contribution = (0, 0)  # (bytes hashed, bytes to hash) counted in the overall bar
        self.in_batch = True  # part of the hashing batch the overall progress bar measures
        self.shown: tuple | None = None  # what the row's cells show (QueueModel._write)

    def merge(self, update: Any) -> None:
        """Take the newest values from a JobUpdate; fields it leaves empty keep what we knew."""
        if update.path and not self.path:
            self.path = update.path
            self.name = os.path.basename(update.path)
        if update.state != self.state:
            if update.state == "pending":
                self.pending_since = time.monotonic()
            if update.state != "failed":
                self.error = self.error_kind = None
        self.state = update.state
        if update.bytes_total:
            self.bytes_total = update.bytes_total
        if update.bytes_done or update.state in ("queued", "hashing"):
            self.bytes_done = update.bytes_done
        for field in ("sha3_256", "outcome", "error", "error_kind", "block_number", "block_date"):
            value = getattr(update, field, None)
            if value is not None:
                setattr(self, field, value)
        if not self.sha3_256 and not self.path:
            self.sha3_256 = getattr(update, "sha3_256", None)

    def hashing_contribution(self) -> tuple[int, int]:
        if self.path is None or self.state in ("failed", "cancelled"):
            return (0, 0)
        total = self.bytes_total
        if self.state in st.PAST_HASHING:
            return (total, total)
        if self.state == "hashing":
            return (min(self.bytes_done, total), total)
        return (0, total)

    def progress(self) -> int:
        if self.state in ("failed", "cancelled"):
            return -1
        if self.state in st.PAST_HASHING or self.path is None:
            return 100
        if self.state == "hashing" and self.bytes_total:
            return min(100, int(100 * self.bytes_done / self.bytes_total))
        return 0

    def status(self, now: float | None = None) -> str:
        pending_for = None
        if self.state == "pending" and self.pending_since is not None:
            pending_for = (now if now is not None else time.monotonic()) - self.pending_since
        return st.status_text(
            self.kind, self.state, bytes_done=self.bytes_done, bytes_total=self.bytes_total,
            outcome=self.outcome, error=self.error, block_number=self.block_number,
            block_date=self.block_date, pending_seconds=pending_for, error_kind=self.error_kind,
        )


class QueueModel(QStandardItemModel):
    """Rows appear when the engine first reports a job; removed rows never come back.

    The cells live in Qt (one QStandardItem per cell), so a paint reads them in C++ without calling
    Python: with a Python ``data()`` every cell and role of a repaint (~1,100 calls) waits for the
    GIL behind the hash and network threads. A QueueRow keeps the job's state; ``QueueRow.shown``
    holds what its cells show, and only cells whose value changed are written.
    """

    totals_changed = Signal()
    rows_placed = Signal()  # rows were added or removed and the rows in view have their cells

    def __init__(self, parent=None):
        super().__init__(0, COLUMN_COUNT, parent)
        self._rows: list[QueueRow] = []
        self._index: dict[int, int] = {}
        self._dismissed: set[int] = set()
        self.state_counts: Counter[tuple[str, str]] = Counter()  # (kind, state) -> rows
        self.hash_done = 0
        self.hash_total = 0
        self.confirmed_since_idle = 0  # stamps confirmed since the last time no stamp was active
        self._batch: list[int] = []  # job ids counted in hash_done / hash_total
        self._batch_waiting = 0  # rows of the batch still queued or hashing
        self._staged: dict[int, QueueRow] = {}  # job id -> new row counted in the totals, not shown yet
        self._last_insert = 0.0
        self._insert_timer = QTimer(self)
        self._insert_timer.setSingleShot(True)
        self._insert_timer.timeout.connect(self._insert_staged)
        self.progress_size = QSize(64, 16)  # the view sets its icon size to the same
        self._bars: dict[int, QPixmap] = {}  # percent -> progress bar for the palette and size
        self._visible = (0, -1)  # rows the view shows: the ones whose elapsed time is kept current
        self._placing = False  # rows are inserted but their cells not written yet
        self.setHorizontalHeaderLabels([
            self.tr("Name"), self.tr("Action"), self.tr("Size"), self.tr("Progress"),
            self.tr("Hash"), self.tr("Status"), self.tr("Block"),
        ])
        prototype = QStandardItem()  # what every cell starts as
        prototype.setFlags(Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEnabled)
        self.setItemPrototype(prototype)

    # ---- cells -----------------------------------------------------------------------------------
    def _write(self, row: QueueRow, position: int, now: float) -> bool:
        """Write the cells of ``row`` whose value changed (a new row: those with a value); True
        when any did. Written through the model (never through QStandardItem objects held in
        Python: Shiboken would keep each one's wrapper, and a removed row would leave it dangling)."""
        cells = _cells(row, now)
        old = row.shown
        if cells == old:
            return False
        indexes: dict[int, QModelIndex] = {}
        for slot, value in enumerate(cells):
            if old is None:
                if value is None or value is False or value == "":
                    continue
            elif value == old[slot]:
                continue
            column = _SLOT_COLUMNS[slot]
            index = indexes.get(column)
            if index is None:
                index = indexes[column] = self.index(position, column)
            _WRITERS[slot](self, index, value)
        row.shown = cells
        return True

    def _window(self) -> tuple[int, int]:
        first, last = self._visible
        return max(0, first - VISIBLE_MARGIN_ROWS), min(len(self._rows) - 1, last + VISIBLE_MARGIN_ROWS)

    def _refresh(self, positions: Iterable[int]) -> list[int]:
        """Rewrite the cells of those of these rows the view shows, without a signal per cell;
        returns the rows that changed (the caller announces them in runs). Rows out of view keep
        their old cells until they come into view (``_show_window``)."""
        low, high = self._window()
        now = time.monotonic()
        changed = []
        blocked = self.blockSignals(True)
        try:
            for position in positions:
                if low <= position <= high and self._write(self._rows[position], position, now):
                    changed.append(position)
        finally:
            self.blockSignals(blocked)
        return changed

    def _write_window(self) -> list[int]:
        """Write the cells of every row in view (and the margin); the rows that changed."""
        low, high = self._window()
        return self._refresh(range(low, high + 1))

    def _show_window(self) -> None:
        self._announce(self._write_window())

    def _announce(self, positions: list[int], first_column: int = 0,
                  last_column: int = COLUMN_COUNT - 1) -> None:
        # One dataChanged per run of nearby rows, not one over first..last: the view repaints only
        # what it shows of each range, and a range spanning the table would repaint all of it.
        for first, last in _runs(positions, _CHANGED_RUN_GAP, _MAX_CHANGED_RUNS):
            self.dataChanged.emit(self.index(first, first_column), self.index(last, last_column))

    def _progress_pixmap(self, percent: int) -> QPixmap:
        pixmap = self._bars.get(percent)
        if pixmap is None:
            palette = QGuiApplication.palette()
            screen = QGuiApplication.primaryScreen()
            ratio = screen.devicePixelRatio() if screen is not None else 1.0
            pixmap = self._bars[percent] = progress_pixmap(percent, self.progress_size, palette, ratio)
        return pixmap

    def set_progress_size(self, size: QSize) -> None:
        if size != self.progress_size:
            self.progress_size = QSize(size)
            self.restyle()

    def restyle(self) -> None:
        """Draw the palette-dependent cells again (progress bars, the failed colour)."""
        self._bars = {}
        for row in self._rows:
            if row.shown is not None:
                row.shown = _BLANK
        self._show_window()

    # ---- feeding -------------------------------------------------------------------------------
    def apply_updates(self, updates: Iterable[Any]) -> None:
        """Merge a batch of JobUpdates: new jobs are staged for one insert, changed rows rewritten."""
        staged = self._staged
        staged_before = len(staged)
        changed: set[int] = set()
        for update in updates:
            job_id = update.job_id
            if job_id in self._dismissed:
                continue
            position = self._index.get(job_id)
            if position is not None:
                self._merge(self._rows[position], update)
                changed.add(position)
                continue
            waiting = staged.get(job_id)
            if waiting is not None:
                self._merge(waiting, update)
                continue
            row = QueueRow(job_id, update.kind, update.path)
            self.state_counts[(row.kind, row.state)] += 1
            self._batch.append(job_id)
            self._batch_waiting += 1
            self._merge(row, update)
            staged[job_id] = row
        if changed:
            self._announce(self._refresh(sorted(changed)))
        added = len(staged) > staged_before
        if staged:
            if time.monotonic() - self._last_insert >= INSERT_INTERVAL_MS / 1000:
                self._insert_staged()
            elif not self._insert_timer.isActive():
                self._insert_timer.start(INSERT_INTERVAL_MS)
        if changed or added:
            self._close_batch_if_hashed()
            self.totals_changed.emit()

    def _insert_staged(self) -> None:
        """Show the staged new rows. A big drop appears in a few inserts at most INSERT_INTERVAL_MS
        apart, each one rowsInserted for the view (blank rows: only those in view get cells)."""
        self._insert_timer.stop()
        rows = list(self._staged.values())
        if not rows:
            return
        self._staged = {}
        self._last_insert = time.monotonic()
        self._append(rows)
        self._close_batch_if_hashed()
        self.totals_changed.emit()

    def _append(self, rows: list[QueueRow]) -> None:
        start = len(self._rows)
        self._rows.extend(rows)
        for offset, row in enumerate(rows):
            self._index[row.job_id] = start + offset
            row.shown = None
        self._placing = True
        try:
            self.insertRows(start, len(rows))  # one rowsInserted; cells are written before any paint
        finally:
            self._placing = False
        # No dataChanged: the view repaints all it shows after rowsInserted, and each signal sent
        # from Python lets the worker threads take the GIL from the GUI thread.
        self._write_window()
        self.rows_placed.emit()

    def _merge(self, row: QueueRow, update: Any) -> None:
        old_state = row.state
        row.merge(update)
        if row.state != old_state:
            self.state_counts[(row.kind, old_state)] -= 1
            self.state_counts[(row.kind, row.state)] += 1
            if row.kind == "stamp" and row.state == "confirmed":
                self.confirmed_since_idle += 1
        waiting_now = row.state in ("queued", "hashing")
        if not row.in_batch and waiting_now:  # retried after its batch had finished hashing
            row.in_batch = True
            self._batch.append(row.job_id)
            self._batch_waiting += 1
        elif row.in_batch:
            self._batch_waiting += waiting_now - (old_state in ("queued", "hashing"))
        if row.in_batch:
            old_done, old_total = row.contribution
            done, total = row.hashing_contribution()
            row.contribution = (done, total)
            self.hash_done += done - old_done
            self.hash_total += total - old_total

    def _close_batch_if_hashed(self) -> None:
        """When nothing is left to hash, the next drop starts the overall bar from zero."""
        if self._batch_waiting > 0 or not self._batch:
            return
        for job_id in self._batch:
            position = self._index.get(job_id)
            row = self._rows[position] if position is not None else self._staged.get(job_id)
            if row is not None:
                row.in_batch = False
                row.contribution = (0, 0)
        self._batch = []
        self.hash_done = self.hash_total = 0

    def set_visible_rows(self, first: int, last: int) -> None:
        """The rows the view shows (after a scroll, resize, insert or removal): rows coming into
        view get their cells, and tick_pending keeps their elapsed times current. Inserts and
        removals write the rows in view themselves, so an unchanged range needs nothing."""
        if (first, last) == self._visible:
            return
        self._visible = (first, last)
        if not self._placing:  # the view may resize while rows are being inserted
            self._show_window()

    def tick_pending(self) -> None:
        """Refresh the elapsed time shown on pending rows in view (about once a second)."""
        if self.count_in(("pending",)):
            self._show_window()

    # ---- reading -------------------------------------------------------------------------------
    def row(self, position: int) -> QueueRow:
        return self._rows[position]

    def row_for_job(self, job_id: int) -> QueueRow | None:
        position = self._index.get(job_id)
        if position is None:
            return self._staged.get(job_id)
        return self._rows[position]

    def position_of(self, job_id: int) -> int | None:
        """The job's row; a row still staged is shown now (it is about to be selected)."""
        if job_id in self._staged:
            self._insert_staged()
        return self._index.get(job_id)

    def rows(self) -> list[QueueRow]:
        return list(self._rows)

    def count_in(self, states: Iterable[str], kind: str | None = None) -> int:
        wanted = set(states)
        return sum(n for (k, s), n in self.state_counts.items()
                   if s in wanted and (kind is None or k == kind))

    def active_count(self, kind: str | None = None) -> int:
        return self.count_in(st.ACTIVE_STATES, kind)

    # ---- removing ------------------------------------------------------------------------------
    def remove_jobs(self, job_ids: Iterable[int]) -> None:
        job_ids = set(job_ids)
        positions = sorted({self._index[j] for j in job_ids if j in self._index})
        if not positions:
            return
        ranges: list[list[int]] = []
        for position in positions:
            if ranges and ranges[-1][1] == position - 1:
                ranges[-1][1] = position
            else:
                ranges.append([position, position])
        for position in positions:
            self._forget(self._rows[position])
        if len(ranges) > _MAX_REMOVE_RANGES:
            removed = set(positions)
            kept = [row for position, row in enumerate(self._rows) if position not in removed]
            self.removeRows(0, len(self._rows))
            self._rows = []
            self._append(kept)
        else:
            for start, end in reversed(ranges):
                self.removeRows(start, end - start + 1)
                del self._rows[start:end + 1]
            self._show_window()
            self.rows_placed.emit()
        self._index = {row.job_id: i for i, row in enumerate(self._rows)}
        self._batch = [j for j in self._batch if j not in job_ids]
        self._close_batch_if_hashed()
        self.totals_changed.emit()

    def _forget(self, row: QueueRow) -> None:
        self._dismissed.add(row.job_id)
        self.state_counts[(row.kind, row.state)] -= 1
        if row.in_batch:
            done, total = row.contribution
            self.hash_done -= done
            self.hash_total -= total
            if row.state in ("queued", "hashing"):
                self._batch_waiting -= 1

    def finished_job_ids(self) -> list[int]:
        return [r.job_id for r in self._rows if r.state in ("confirmed", "done", "cancelled")]

    def job_ids_in(self, states: Iterable[str]) -> list[int]:
        wanted = set(states)
        return [r.job_id for r in self._rows if r.state in wanted]


def _cells(row: QueueRow, now: float) -> tuple:
    """What the row shows, one value per entry of _SLOT_COLUMNS."""
    size_known = row.bytes_total or row.state not in ("failed", "cancelled")
    return (
        row.job_id,
        row.name or (st.tr("Hash ") + (row.sha3_256 or "")[:12]),
        row.path or row.sha3_256,
        st.kind_text(row.kind),
        st.human_size(row.bytes_total) if row.path and size_known else "",
        st.tr("{count} bytes").format(count=f"{row.bytes_total:,}") if row.bytes_total else None,
        row.progress(),
        row.sha3_256[:12] + "\u2026" if row.sha3_256 else "",
        row.sha3_256,
        row.status(now),
        row.state == "failed",
        st.block_text(row.block_number),
    )


# Roles as plain values: reading a member of a Qt enum class costs about a microsecond each time.
_DISPLAY = Qt.ItemDataRole.DisplayRole
_TOOLTIP = Qt.ItemDataRole.ToolTipRole
_DECORATION = Qt.ItemDataRole.DecorationRole
_ACCESSIBLE = Qt.ItemDataRole.AccessibleTextRole
_FOREGROUND = Qt.ItemDataRole.ForegroundRole
_ALIGNMENT = Qt.ItemDataRole.TextAlignmentRole


def _set(role: Qt.ItemDataRole):
    return lambda model, index, value: model.setData(index, value, role)


def _set_right_aligned(model: QueueModel, index: QModelIndex, value: str) -> None:
    model.setData(index, value, _DISPLAY)
    model.setData(index, _ALIGN_RIGHT, _ALIGNMENT)


def _set_progress(model: QueueModel, index: QModelIndex, percent: int) -> None:
    model.setData(index, model._progress_pixmap(percent) if percent >= 0 else None, _DECORATION)
    model.setData(index, f"{percent}%" if percent >= 0 else "", _ACCESSIBLE)


def _set_status(model: QueueModel, index: QModelIndex, text: str) -> None:
    model.setData(index, text, _DISPLAY)
    model.setData(index, text, _TOOLTIP)


def _set_failed(model: QueueModel, index: QModelIndex, failed: bool) -> None:
    # With the cross symbol in the text: never colour alone.
    model.setData(index, theme.tone("bad").accent if failed else None, _FOREGROUND)


# (column, writer) per value of _cells, in the same order.
_SLOTS = (
    (NAME, _set(JOB_ID_ROLE)), (NAME, _set(_DISPLAY)), (NAME, _set(_TOOLTIP)), (ACTION, _set(_DISPLAY)),
    (SIZE, _set_right_aligned), (SIZE, _set(_TOOLTIP)), (PROGRESS, _set_progress),
    (HASH, _set(_DISPLAY)), (HASH, _set(_TOOLTIP)), (STATUS, _set_status), (STATUS, _set_failed),
    (BLOCK, _set_right_aligned),
)
_SLOT_COLUMNS = tuple(column for column, _ in _SLOTS)
_WRITERS = tuple(writer for _, writer in _SLOTS)
# What a row shows before its first write; restyle() sets it so every cell is written again.
_BLANK = (None,) * len(_SLOTS)


def _runs(positions: list[int], gap: int, most: int) -> list[tuple[int, int]]:
    """Sorted positions as (first, last) runs of at most ``_RUN_SLICE_ROWS`` rows; positions at most
    ``gap`` apart share a run, and the gap widens until there are at most ``most`` runs."""
    while True:
        runs: list[list[int]] = []
        for position in positions:
            if runs and position - runs[-1][1] <= gap:
                runs[-1][1] = position
            else:
                runs.append([position, position])
        if len(runs) <= most:
            return [(start, min(start + _RUN_SLICE_ROWS - 1, last))
                    for first, last in runs for start in range(first, last + 1, _RUN_SLICE_ROWS)]
        gap *= 2

