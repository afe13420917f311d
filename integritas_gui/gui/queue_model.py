"""The queue: one row per job, fed by batches of engine updates.

Built for 10,000+ rows: updates arrive coalesced (see ``adapter.EngineBridge``), new rows are
inserted in one ``beginInsertRows`` per batch, and changed rows are announced with a single
``dataChanged`` over the range they span, never with a model reset.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterable
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPoint, QRect, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import QApplication, QStyle, QStyleOptionProgressBar

from integritas_gui.gui import status_text as st
from integritas_gui.gui import theme

NAME, ACTION, SIZE, PROGRESS, HASH, STATUS, BLOCK = range(7)
COLUMN_COUNT = 7

JOB_ID_ROLE = Qt.ItemDataRole.UserRole + 1
PROGRESS_ROLE = Qt.ItemDataRole.UserRole + 2  # int 0..100, or -1 when no bar should show
STATE_ROLE = Qt.ItemDataRole.UserRole + 3
OUTCOME_ROLE = Qt.ItemDataRole.UserRole + 4

# New rows are shown at most this often (the first ones at once); see QueueModel._insert_staged.
INSERT_INTERVAL_MS = 500

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
        "outcome", "error", "block_number", "block_date", "pending_since", "contribution",
        "in_batch",
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
        self.block_number: int | None = None
        self.block_date: str | None = None
        self.pending_since: float | None = None
        self.contribution = (0, 0)  # (bytes hashed, bytes to hash) counted in the overall bar
        self.in_batch = True  # part of the hashing batch the overall progress bar measures

    def merge(self, update: Any) -> None:
        """Take the newest values from a JobUpdate; fields it leaves empty keep what we knew."""
        if update.path and not self.path:
            self.path = update.path
            self.name = os.path.basename(update.path)
        if update.state != self.state:
            if update.state == "pending":
                self.pending_since = time.monotonic()
            if update.state != "failed":
                self.error = None
        self.state = update.state
        if update.bytes_total:
            self.bytes_total = update.bytes_total
        if update.bytes_done or update.state in ("queued", "hashing"):
            self.bytes_done = update.bytes_done
        for field in ("sha3_256", "outcome", "error", "block_number", "block_date"):
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
            block_date=self.block_date, pending_seconds=pending_for,
        )


class QueueModel(QAbstractTableModel):
    """Rows appear when the engine first reports a job; removed rows never come back."""

    totals_changed = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self._rows: list[QueueRow] = []
        self._index: dict[int, int] = {}
        self._dismissed: set[int] = set()
        self.state_counts: Counter[tuple[str, str]] = Counter()  # (kind, state) -> rows
        self.hash_done = 0
        self.hash_total = 0
        self.confirmed_since_idle = 0  # stamps confirmed since the last time no stamp was active
        self._batch: list[int] = []  # job ids counted in hash_done / hash_total
        self._batch_waiting = 0  # rows of the batch still queued or hashing
        self._staged: list[QueueRow] = []  # new rows counted in the totals, shown at the next insert
        self._staged_index: dict[int, int] = {}
        self._last_insert = 0.0
        self._insert_timer = QTimer(self)
        self._insert_timer.setSingleShot(True)
        self._insert_timer.setInterval(INSERT_INTERVAL_MS)
        self._insert_timer.timeout.connect(self._insert_staged)
        self.progress_size = QSize(64, 16)  # the view sets its icon size to the same
        self._bars: dict[int, QPixmap] = {}  # percent -> progress bar for the palette and size
        self._bars_key: tuple | None = None
        self._headers = [
            self.tr("Name"), self.tr("Action"), self.tr("Size"), self.tr("Progress"),
            self.tr("Hash"), self.tr("Status"), self.tr("Block"),
        ]

    # ---- Qt model API --------------------------------------------------------------------------
    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else COLUMN_COUNT

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self._headers[section]
        return None

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        # A paint asks each visible cell for seven roles, each a call into Python that must win the
        # GIL from busy workers: roles the queue never answers return before touching the index.
        answer = _ROLE_ANSWERS.get(role)
        if answer is None or not index.isValid():
            return None
        return answer(self, self._rows[index.row()], index.column())

    def _display(self, row: QueueRow, column: int):
        if column == NAME:
            return row.name or (st.tr("Hash ") + (row.sha3_256 or "")[:12])
        if column == ACTION:
            return st.kind_text(row.kind)
        if column == SIZE:
            known = row.bytes_total or row.state not in ("failed", "cancelled")
            return st.human_size(row.bytes_total) if row.path and known else ""
        if column == HASH:
            return row.sha3_256[:12] + "\u2026" if row.sha3_256 else ""
        if column == STATUS:
            return row.status()
        if column == BLOCK:
            return st.block_text(row.block_number)
        return None

    def _tooltip(self, row: QueueRow, column: int):
        if column == NAME:
            return row.path or row.sha3_256
        if column == HASH:
            return row.sha3_256
        if column == STATUS:
            return row.status()
        if column == SIZE and row.bytes_total:
            return st.tr("{count} bytes").format(count=f"{row.bytes_total:,}")
        return None

    def _decoration(self, row: QueueRow, column: int):
        if column == PROGRESS:
            progress = row.progress()
            return self._progress_pixmap(progress) if progress >= 0 else None
        return None

    def _foreground(self, row: QueueRow, column: int):
        if column == STATUS and row.state == "failed":
            return theme.tone("bad").accent  # with the cross symbol: never colour alone
        return None

    def _alignment(self, row: QueueRow, column: int):
        return _ALIGN_RIGHT if column in (SIZE, BLOCK) else None

    def _accessible(self, row: QueueRow, column: int):
        if column == PROGRESS:
            progress = row.progress()
            return f"{progress}%" if progress >= 0 else ""
        return None

    def set_progress_size(self, size: QSize) -> None:
        if size != self.progress_size:
            self.progress_size = QSize(size)
            self._bars = {}
            if self._rows:
                self.dataChanged.emit(self.index(0, PROGRESS), self.index(len(self._rows) - 1, PROGRESS))

    def _progress_pixmap(self, percent: int) -> QPixmap:
        palette = QGuiApplication.palette()
        screen = QGuiApplication.primaryScreen()
        ratio = screen.devicePixelRatio() if screen is not None else 1.0
        key = (palette.cacheKey(), ratio)
        if key != self._bars_key:  # light/dark switch or another scale: draw the bars again
            self._bars = {}
            self._bars_key = key
        pixmap = self._bars.get(percent)
        if pixmap is None:
            pixmap = self._bars[percent] = progress_pixmap(percent, self.progress_size, palette, ratio)
        return pixmap

    # ---- feeding -------------------------------------------------------------------------------
    def apply_updates(self, updates: Iterable[Any]) -> None:
        """Merge a batch of JobUpdates: one insert for new jobs, one dataChanged for the rest."""
        new_rows = self._staged
        new_index = self._staged_index
        staged_before = len(new_rows)
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
            pending = new_index.get(job_id)
            if pending is not None:
                self._merge(new_rows[pending], update)
                continue
            row = QueueRow(job_id, update.kind, update.path)
            self.state_counts[(row.kind, row.state)] += 1
            self._batch.append(job_id)
            self._batch_waiting += 1
            self._merge(row, update)
            new_index[job_id] = len(new_rows)
            new_rows.append(row)
        # One dataChanged per run of nearby rows, not one over first..last: the view repaints only
        # what it shows of each range, and a range spanning the table would repaint all of it.
        for first, last in _runs(sorted(changed), _CHANGED_RUN_GAP, _MAX_CHANGED_RUNS):
            self.dataChanged.emit(self.index(first, 0), self.index(last, COLUMN_COUNT - 1))
        if new_rows:
            if time.monotonic() - self._last_insert >= INSERT_INTERVAL_MS / 1000:
                self._insert_staged()
                new_rows = ()
            elif not self._insert_timer.isActive():
                self._insert_timer.start()
        if changed or len(new_rows) > staged_before:
            self._close_batch_if_hashed()
            self.totals_changed.emit()

    def _insert_staged(self) -> None:
        """Show the staged new rows. Each insertion makes QTableView repaint every visible row (each
        cell a Python call that has to win the GIL from busy workers), so a big drop appears in a
        few steps at most INSERT_INTERVAL_MS apart, not in one step per update batch."""
        self._insert_timer.stop()
        rows = self._staged
        if not rows:
            return
        self._staged = []
        self._staged_index = {}
        self._last_insert = time.monotonic()
        start = len(self._rows)
        self.beginInsertRows(QModelIndex(), start, start + len(rows) - 1)
        self._rows.extend(rows)
        for offset, row in enumerate(rows):
            self._index[row.job_id] = start + offset
        self.endInsertRows()
        self._close_batch_if_hashed()
        self.totals_changed.emit()

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
            staged = self._staged_index.get(job_id)
            if position is not None or staged is not None:
                row = self._rows[position] if position is not None else self._staged[staged]
                row.in_batch = False
                row.contribution = (0, 0)
        self._batch = []
        self.hash_done = self.hash_total = 0

    def tick_pending(self) -> None:
        """Refresh the elapsed time shown on pending rows (called about once a second)."""
        if not self.count_in(("pending",)):
            return
        rows = [i for i, row in enumerate(self._rows) if row.state == "pending"]
        for first, last in _runs(rows, _CHANGED_RUN_GAP, _MAX_CHANGED_RUNS):
            self.dataChanged.emit(self.index(first, STATUS), self.index(last, STATUS))

    # ---- reading -------------------------------------------------------------------------------
    def row(self, position: int) -> QueueRow:
        return self._rows[position]

    def row_for_job(self, job_id: int) -> QueueRow | None:
        position = self._index.get(job_id)
        if position is None:
            staged = self._staged_index.get(job_id)
            return None if staged is None else self._staged[staged]
        return self._rows[position]

    def position_of(self, job_id: int) -> int | None:
        """The job's row; a row still staged is shown now (it is about to be selected)."""
        if job_id in self._staged_index:
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
            keep = set(range(len(self._rows))) - set(positions)
            self.beginResetModel()
            self._rows = [self._rows[i] for i in sorted(keep)]
            self.endResetModel()
        else:
            for start, end in reversed(ranges):
                self.beginRemoveRows(QModelIndex(), start, end)
                del self._rows[start:end + 1]
                self.endRemoveRows()
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


_ROLE_ANSWERS = {
    Qt.ItemDataRole.DisplayRole: QueueModel._display,
    Qt.ItemDataRole.ToolTipRole: QueueModel._tooltip,
    Qt.ItemDataRole.DecorationRole: QueueModel._decoration,
    Qt.ItemDataRole.ForegroundRole: QueueModel._foreground,
    Qt.ItemDataRole.TextAlignmentRole: QueueModel._alignment,
    Qt.ItemDataRole.AccessibleTextRole: QueueModel._accessible,
    JOB_ID_ROLE: lambda model, row, column: row.job_id,
    PROGRESS_ROLE: lambda model, row, column: row.progress(),
    STATE_ROLE: lambda model, row, column: row.state,
    OUTCOME_ROLE: lambda model, row, column: row.outcome,
}
