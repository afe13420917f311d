"""The history as a table model: newest first, read a page at a time as the view scrolls.

Only the pages the user has scrolled to are in memory; a new search or filter drops them and reads
the first page again (``History.page``: keyset paging over indexes, fast at 100,000 jobs). The
total number of matches can take longer on a very common search word, so the view asks for it off
the GUI thread (``count_matching``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal

from integritas_gui.gui.status_text import human_size, kind_text, local_time, status_text

PAGE_SIZE = 200


@dataclass(frozen=True)
class HistoryFilter:
    text: str | None = None
    kind: str | None = None  # stamp | check | verify
    outcome: str | None = None  # an outcome word or a final state (confirmed, failed, ...)
    since: str | None = None  # ISO-8601 UTC, inclusive
    until: str | None = None  # ISO-8601 UTC, exclusive

    def as_kwargs(self) -> dict[str, Any]:
        return dict(kind=self.kind, outcome=self.outcome, since=self.since, until=self.until)

    def with_text(self, text: str | None) -> "HistoryFilter":
        return replace(self, text=(text or "").strip() or None)


class HistoryModel(QAbstractTableModel):
    JobIdRole = Qt.ItemDataRole.UserRole + 1
    COLUMNS = ("when", "kind", "name", "result", "block", "size", "sha3_256", "path")

    filterChanged = Signal()

    def __init__(self, history: Any, parent=None, *, page_size: int = PAGE_SIZE):
        super().__init__(parent)
        self.history = history
        self.page_size = page_size
        self._filter = HistoryFilter()
        self._jobs: list[Any] = []
        self._more = True
        self._headers = {
            "when": self.tr("When"), "kind": self.tr("Action"), "name": self.tr("File"),
            "result": self.tr("Result"), "block": self.tr("Block"), "size": self.tr("Size"),
            "sha3_256": self.tr("SHA3-256"), "path": self.tr("Location"),
        }
        self.refresh()

    # ---- filtering -----------------------------------------------------------------------------
    @property
    def filter(self) -> HistoryFilter:
        return self._filter

    def set_filter(self, history_filter: HistoryFilter) -> None:
        self._filter = history_filter
        self.refresh()
        self.filterChanged.emit()

    def refresh(self) -> None:
        """Drop what was read and read the first page again (new jobs, changed results)."""
        self.beginResetModel()
        self._jobs = self._read_page(None)
        self._more = len(self._jobs) >= self.page_size
        self.endResetModel()

    def count_matching(self) -> int:
        """Every job matching the filter (may take a moment on a common word: call it off the GUI thread)."""
        return self.history.count(self._filter.text, **self._filter.as_kwargs())

    def _read_page(self, before_id: int | None) -> list[Any]:
        return self.history.page(self._filter.text, **self._filter.as_kwargs(),
                                 before_id=before_id, limit=self.page_size)

    # ---- lazy reading --------------------------------------------------------------------------
    def canFetchMore(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> bool:
        return not parent.isValid() and self._more

    def fetchMore(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> None:
        if parent.isValid() or not self._more:
            return
        page = self._read_page(self._jobs[-1].id if self._jobs else None)
        self._more = len(page) >= self.page_size
        if page:
            start = len(self._jobs)
            self.beginInsertRows(QModelIndex(), start, start + len(page) - 1)
            self._jobs.extend(page)
            self.endInsertRows()

    # ---- access --------------------------------------------------------------------------------
    def job(self, row: int) -> Any | None:
        return self._jobs[row] if 0 <= row < len(self._jobs) else None

    def row_of(self, job_id: int) -> int:
        for row, job in enumerate(self._jobs):
            if job.id == job_id:
                return row
        return -1

    @property
    def loaded(self) -> int:
        return len(self._jobs)

    # ---- Qt model ------------------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._jobs)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self._headers[self.COLUMNS[section]]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        job = self._jobs[index.row()]
        column = self.COLUMNS[index.column()]
        if role == self.JobIdRole:
            return job.id
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(job, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            if column in ("name", "path"):
                return job.path or job.display_name
            if column == "sha3_256":
                return job.sha3_256
            if column == "result":
                return job.error or self._display(job, column)
        if role == Qt.ItemDataRole.TextAlignmentRole and column in ("block", "size"):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return f"{self._headers[column]}: {self._display(job, column)}"
        return None

    @staticmethod
    def _display(job: Any, column: str) -> str:
        if column == "when":
            return local_time(job.created_at, with_date=True)
        if column == "kind":
            return kind_text(job.kind)
        if column == "name":
            return job.display_name
        if column == "result":
            if job.state == "done" and job.outcome and job.outcome not in (
                    "full match", "partial match", "no match", "found", "not found", "unknown"):
                return job.outcome  # imported entries say where they came from
            return status_text(job.kind, job.state, outcome=job.outcome, error=job.error,
                               block_number=job.block_number, block_date=job.block_date,
                               error_kind=job.error_kind)
        if column == "block":
            return f"{job.block_number:,}" if job.block_number is not None else ""
        if column == "size":
            return human_size(job.size)
        if column == "sha3_256":
            return job.sha3_256 or ""
        if column == "path":
            return job.path or ""
        return ""
