"""The history tab: every stamp, check and verification, searchable, with what can be done with each.

``HistoryView(services)`` needs only ``services.history``, ``services.engine`` (for "Re-verify now")
and, optionally, ``services.dirs`` (where receipts built from the history are written). Exports,
imports and "Re-verify all" run off the GUI thread; their results appear in the notice line and the
"no longer matches" list, never in modal boxes the user must click away.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Callable

from PySide6.QtCore import QDate, Qt, QTimer, QUrl, Slot
from PySide6.QtGui import QAction, QDesktopServices, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView, QComboBox, QDateEdit, QDialog, QDialogButtonBox, QFileDialog, QHBoxLayout,
    QHeaderView, QLabel, QLineEdit, QMenu, QPlainTextEdit, QProgressBar, QPushButton, QSplitter,
    QTableView, QToolButton, QTreeWidget, QVBoxLayout, QWidget,
)

from integritas_gui.core.errors import IntegritasError
from integritas_gui.core.display import count_noun, iso_utc
from integritas_gui.core.history_export import ImportResult, JobFilter, export_history, import_files
from integritas_gui.gui.adapter import EngineBridge, TaskRunner
from integritas_gui.gui.history_model import HistoryFilter, HistoryModel
from integritas_gui.gui.history_reverify import ReverifyAll
from integritas_gui.gui.status_text import human_size, kind_text, local_time

SEARCH_DELAY_MS = 250  # typing pauses this long before the search runs


# ---- the widget --------------------------------------------------------------------------------

def _utc(moment: datetime) -> str:
    return iso_utc(moment)


def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, time()).astimezone()


class HistoryView(ReverifyAll, QWidget):
    """Search, filter and act on the history. ``services`` is duck-typed (see module docstring)."""

    RESULT_FILTERS = (
        ("", "Any result"), ("confirmed", "Confirmed"), ("pending", "Pending"),
        ("full match", "Full match"), ("partial match", "Partial match"), ("no match", "No match"),
        ("found", "Found on chain"), ("not found", "Not found"), ("failed", "Failed"),
        ("cancelled", "Cancelled"),
    )
    DATE_FILTERS = (("any", "Any time"), ("today", "Today"), ("7", "Last 7 days"), ("30", "Last 30 days"),
                    ("365", "Last 12 months"), ("range", "Between dates"))

    def __init__(self, services: Any, parent: QWidget | None = None):
        super().__init__(parent)
        self.services = services
        self.history = services.history
        self.setObjectName("historyView")
        self.setAccessibleName(self.tr("History"))
        self.tasks = TaskRunner(self)
        self.model = HistoryModel(self.history, self)
        self._count_generation = 0
        self._reverify_cancel: threading.Event | None = None
        self._reverify_request: int | None = None  # the engine's re-verification under way
        self._reverify_running = False
        self._build()
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DELAY_MS)
        self._search_timer.timeout.connect(self.apply_filter)
        self.search.textChanged.connect(self._search_timer.start)
        self.table.selectionModel().selectionChanged.connect(self._update_actions)
        self.model.modelReset.connect(self._update_actions)
        self._update_actions()
        self._update_count()

    # ---- building ------------------------------------------------------------------------------
    def _build(self) -> None:
        self.search = QLineEdit(self)
        self.search.setPlaceholderText(self.tr("Search by name, path or hash"))
        self.search.setAccessibleName(self.tr("Search history"))
        self.search.setClearButtonEnabled(True)
        self.search.returnPressed.connect(self.apply_filter)

        self.kind_filter = QComboBox(self)
        self.kind_filter.setAccessibleName(self.tr("Filter by action"))
        for value, text in (("", self.tr("All actions")), ("stamp", kind_text("stamp")),
                            ("check", kind_text("check")), ("verify", kind_text("verify"))):
            self.kind_filter.addItem(text, value)
        self.result_filter = QComboBox(self)
        self.result_filter.setAccessibleName(self.tr("Filter by result"))
        for value, text in self.RESULT_FILTERS:
            self.result_filter.addItem(self.tr(text), value)
        self.date_filter = QComboBox(self)
        self.date_filter.setAccessibleName(self.tr("Filter by date"))
        for value, text in self.DATE_FILTERS:
            self.date_filter.addItem(self.tr(text), value)
        today = QDate.currentDate()
        self.date_from = QDateEdit(today.addMonths(-1), self)
        self.date_to = QDateEdit(today, self)
        for edit, name in ((self.date_from, self.tr("From date")), (self.date_to, self.tr("To date"))):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd")
            edit.setAccessibleName(name)
            edit.setVisible(False)
            edit.dateChanged.connect(self.apply_filter)
        for combo in (self.kind_filter, self.result_filter, self.date_filter):
            combo.currentIndexChanged.connect(self.apply_filter)

        search_label = QLabel(self.tr("&Search:"), self)
        search_label.setBuddy(self.search)
        filters = QHBoxLayout()
        filters.addWidget(search_label)
        filters.addWidget(self.search, 3)
        filters.addWidget(self.kind_filter)
        filters.addWidget(self.result_filter)
        filters.addWidget(self.date_filter)
        filters.addWidget(self.date_from)
        filters.addWidget(self.date_to)

        self.table = QTableView(self)
        self.table.setModel(self.model)
        self.table.setAccessibleName(self.tr("History entries"))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._context_menu)
        self.table.doubleClicked.connect(self._double_clicked)
        header = self.table.horizontalHeader()
        header.setStretchLastSection(True)
        widths = {"when": 150, "kind": 70, "name": 220, "result": 300, "block": 90, "size": 80,
                  "sha3_256": 160}
        for column, name in enumerate(HistoryModel.COLUMNS):
            if name in widths:
                header.resizeSection(column, widths[name])
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)

        # Per-entry actions: buttons, context menu and shortcuts share the same QActions.
        self.act_details = self._action(self.tr("&Details"), self.show_details, "Return")
        self.act_reverify = self._action(self.tr("&Re-verify now"), self.reverify_selected, "Ctrl+R")
        self.act_receipt = self._action(self.tr("Open r&eceipt"), self.open_receipt)
        self.act_open_report = self._action(self.tr("Open re&port"), self.open_report)
        self.act_save_report = self._action(self.tr("Save report as\u2026"), self.save_report)
        self.act_reveal = self._action(self.tr("Show in &folder"), self.reveal_file)
        self.act_copy_hash = self._action(self.tr("&Copy hash"), self.copy_hash, QKeySequence.StandardKey.Copy)
        self.act_export_selected = self._action(self.tr("Export selected\u2026"), self.choose_export_selected)
        self.act_export_all = self._action(self.tr("Export all shown\u2026"), self.choose_export_all)
        self.act_import = self._action(self.tr("&Import receipts or proofs\u2026"), self.choose_import, "Ctrl+I")
        self.act_refresh = self._action(self.tr("Refresh"), self.refresh, QKeySequence.StandardKey.Refresh)

        entry_bar = QHBoxLayout()
        for action in (self.act_details, self.act_reverify, self.act_receipt):
            entry_bar.addWidget(self._button(action))
        entry_bar.addWidget(self._menu_button(self.tr("Report"), self.act_open_report, self.act_save_report))
        for action in (self.act_reveal, self.act_copy_hash):
            entry_bar.addWidget(self._button(action))
        entry_bar.addStretch(1)
        entry_bar.addWidget(self._menu_button(self.tr("Export"), self.act_export_selected, self.act_export_all))
        entry_bar.addWidget(self._button(self.act_import))
        self.reverify_all_button = QPushButton(self.tr("Re-verify &all"), self)
        self.reverify_all_button.setAccessibleName(self.tr("Re-verify all stamped files"))
        self.reverify_all_button.setToolTip(self.tr("Re-hash every stamped file in the background and "
                                                    "list those that no longer match"))
        self.reverify_all_button.clicked.connect(self.toggle_reverify_all)
        entry_bar.addWidget(self.reverify_all_button)

        self.count_label = QLabel(self)
        self.count_label.setAccessibleName(self.tr("Number of entries"))
        self.notice = QLabel(self)
        self.notice.setAccessibleName(self.tr("Messages"))
        self.notice.setWordWrap(True)
        self.notice.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        status_bar = QHBoxLayout()
        status_bar.addWidget(self.count_label)
        status_bar.addWidget(self.notice, 1)

        # "No longer matches" panel, shown by Re-verify all.
        self.problems_panel = QWidget(self)
        self.problems_title = QLabel(self.tr("Files that no longer match"), self.problems_panel)
        self.problems_progress = QProgressBar(self.problems_panel)
        self.problems_progress.setAccessibleName(self.tr("Re-verification progress"))
        self.problems_progress.setTextVisible(True)
        self.problems = QTreeWidget(self.problems_panel)
        self.problems.setAccessibleName(self.tr("Files that no longer match"))
        self.problems.setHeaderLabels([self.tr("Status"), self.tr("File"), self.tr("What was found")])
        self.problems.setRootIsDecorated(False)
        self.problems.setAlternatingRowColors(True)
        self.problems.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.problems.header().resizeSection(0, 110)
        self.problems.header().resizeSection(1, 320)
        self.problems.itemActivated.connect(self._select_problem_job)
        panel = QVBoxLayout(self.problems_panel)
        panel.setContentsMargins(0, 0, 0, 0)
        top = QHBoxLayout()
        top.addWidget(self.problems_title)
        top.addWidget(self.problems_progress, 1)
        panel.addLayout(top)
        panel.addWidget(self.problems)
        self.problems_panel.setVisible(False)

        self.splitter = splitter = QSplitter(Qt.Orientation.Vertical, self)
        splitter.addWidget(self.table)
        splitter.addWidget(self.problems_panel)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        splitter.setChildrenCollapsible(False)

        layout = QVBoxLayout(self)
        layout.addLayout(filters)
        layout.addWidget(splitter, 1)
        layout.addLayout(entry_bar)
        layout.addLayout(status_bar)
        self.setTabOrder(self.search, self.kind_filter)
        self.setTabOrder(self.kind_filter, self.result_filter)
        self.setTabOrder(self.result_filter, self.date_filter)
        self.setTabOrder(self.date_filter, self.date_from)
        self.setTabOrder(self.date_from, self.date_to)
        self.setTabOrder(self.date_to, self.table)

    def _action(self, text: str, slot: Callable[[], None], shortcut: Any = None) -> QAction:
        action = QAction(text, self)
        action.triggered.connect(slot)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.addAction(action)
        return action

    def _button(self, action: QAction) -> QToolButton:
        button = QToolButton(self)
        button.setDefaultAction(action)
        button.setAccessibleName(action.text().replace("&", "").rstrip("\u2026"))
        button.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        return button

    def _menu_button(self, text: str, *actions: QAction) -> QToolButton:
        """A button that opens a menu of ``actions`` (Report, Export)."""
        button = QToolButton(self)
        button.setText(text)
        button.setAccessibleName(text)
        button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(button)
        for action in actions:
            menu.addAction(action)
        button.setMenu(menu)
        return button

    @Slot()
    def _double_clicked(self, *_index: Any) -> None:
        self.show_details()

    def _context_menu(self, position) -> None:
        menu = QMenu(self)
        for action in (self.act_details, self.act_reverify, self.act_receipt, self.act_open_report,
                       self.act_save_report, self.act_reveal, self.act_copy_hash, None,
                       self.act_export_selected, self.act_export_all):
            if action is None:
                menu.addSeparator()
            else:
                menu.addAction(action)
        menu.popup(self.table.viewport().mapToGlobal(position))

    # ---- filtering -----------------------------------------------------------------------------
    def current_filter(self) -> HistoryFilter:
        since = until = None
        choice = self.date_filter.currentData()
        today = date.today()
        if choice == "today":
            since = _utc(_local_midnight(today))
        elif choice in ("7", "30", "365"):
            since = _utc(_local_midnight(today - timedelta(days=int(choice) - 1)))
        elif choice == "range":
            first, last = self.date_from.date().toPython(), self.date_to.date().toPython()
            if first > last:
                first, last = last, first
            since = _utc(_local_midnight(first))
            until = _utc(_local_midnight(last + timedelta(days=1)))
        return HistoryFilter(kind=self.kind_filter.currentData() or None,
                             outcome=self.result_filter.currentData() or None,
                             since=since, until=until).with_text(self.search.text())

    @Slot()
    def apply_filter(self) -> None:
        self._search_timer.stop()
        ranged = self.date_filter.currentData() == "range"
        self.date_from.setVisible(ranged)
        self.date_to.setVisible(ranged)
        wanted = self.current_filter()
        if wanted != self.model.filter:
            self._run_store(lambda: self.model.set_filter(wanted))
            self._update_count()

    def refresh(self) -> None:
        self._run_store(self.model.refresh)
        self._update_count()

    def _run_store(self, step: Callable[[], None]) -> None:
        try:
            step()
        except IntegritasError as exc:
            self.show_notice(exc.message)

    def _update_count(self) -> None:
        """Count matches off the GUI thread; a newer search makes an older count irrelevant."""
        self._count_generation += 1
        generation = self._count_generation
        shown = self.model.loaded
        if self.model.canFetchMore():
            self.count_label.setText(self.tr("{n:,}+ entries").format(n=shown))
        else:
            self.count_label.setText(self._count_text(shown))
            return

        def done(total: int) -> None:
            if generation == self._count_generation:
                self.count_label.setText(self._count_text(total))

        self.tasks.run(self.model.count_matching, done, lambda exc: None)

    def _count_text(self, total: int) -> str:
        return self.tr("1 entry") if total == 1 else self.tr("{n:,} entries").format(n=total)

    # ---- selection -----------------------------------------------------------------------------
    def selected_jobs(self) -> list[Any]:
        rows = sorted(index.row() for index in self.table.selectionModel().selectedRows())
        return [job for job in (self.model.job(row) for row in rows) if job is not None]

    def current_job(self) -> Any | None:
        jobs = self.selected_jobs()
        if jobs:
            return jobs[0]
        index = self.table.currentIndex()
        return self.model.job(index.row()) if index.isValid() else None

    def select_job(self, job_id: int) -> bool:
        row = self.model.row_of(job_id)
        if row < 0:
            return False
        self.table.selectRow(row)
        self.table.scrollTo(self.model.index(row, 0))
        return True

    @Slot()
    def _update_actions(self, *_args: Any) -> None:
        job = self.current_job()
        has_file = bool(job and job.path)
        self.act_details.setEnabled(job is not None)
        self.act_reverify.setEnabled(has_file and self.services.engine is not None)
        self.act_receipt.setEnabled(bool(job and (job.receipt_path or (job.path and job.segment_size))))
        has_report = bool(job and job.report_path)
        self.act_open_report.setEnabled(has_report)
        self.act_save_report.setEnabled(has_report)
        self.act_reveal.setEnabled(has_file)
        self.act_copy_hash.setEnabled(bool(job and job.sha3_256))
        self.act_export_selected.setEnabled(bool(self.selected_jobs()))

    def show_notice(self, text: str) -> None:
        self.notice.setText(text)

    # ---- per-entry actions ---------------------------------------------------------------------
    def details_text(self, job: Any) -> str:
        job = self.history.get_job(job.id) or job
        lines = [
            f"{self.tr('File')}: {job.display_name}",
            f"{self.tr('Location')}: {job.path or '-'}",
            f"{self.tr('Action')}: {kind_text(job.kind)}",
            f"{self.tr('State')}: {job.state}" + (f" ({job.outcome})" if job.outcome else ""),
            f"{self.tr('When')}: {local_time(job.created_at, with_date=True)}",
        ]
        if job.size is not None:
            lines.append(f"{self.tr('Size')}: {human_size(job.size)} ({job.size:,} bytes)")
        if job.sha3_256:
            lines.append(f"SHA3-256: {job.sha3_256}")
        if job.blake3:
            lines.append(f"BLAKE3: {job.blake3}")
        if job.segment_count:
            lines.append(f"{self.tr('Segments')}: {job.segment_count:,} \u00d7 {human_size(job.segment_size)}")
        if job.error:
            lines.append(f"{self.tr('Problem')}: {job.error}")
        if job.receipt_check:
            lines.append(f"{self.tr('Compared with')}: {job.receipt_check.get('source')} \u2192 "
                         f"{job.receipt_check.get('status')}")
        for record in job.records:
            lines.append(f"{self.tr('On chain')}: block {record.block_number:,} at "
                         f"{local_time(record.block_date, with_date=True)}, transaction {record.transaction_id}"
                         if record.block_number is not None else f"{self.tr('On chain')}: {record.txpow_id}")
        if job.receipt_path:
            lines.append(f"{self.tr('Receipt')}: {job.receipt_path}")
        if job.report_path:
            lines.append(f"{self.tr('Report')}: {job.report_path}")
        return "\n".join(lines)

    def show_details(self) -> QDialog | None:
        job = self.current_job()
        if job is None:
            return None
        dialog = QDialog(self)
        dialog.setWindowTitle(self.tr("Details: {name}").format(name=job.display_name))
        text = QPlainTextEdit(self.details_text(job), dialog)
        text.setReadOnly(True)
        text.setAccessibleName(self.tr("Entry details"))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, dialog)
        buttons.rejected.connect(dialog.reject)
        layout = QVBoxLayout(dialog)
        layout.addWidget(text)
        layout.addWidget(buttons)
        dialog.resize(640, 360)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def reverify_selected(self) -> list[int]:
        paths = list(dict.fromkeys(job.path for job in self.selected_jobs() or [self.current_job()]
                                   if job is not None and job.path))
        if not paths or self.services.engine is None:
            return []
        ids = self.services.engine.add_files("verify", paths)
        self.show_notice(self.tr("Verifying {files} again; the results appear here as they come in.")
                         .format(files=count_noun(len(paths), "file")))
        QTimer.singleShot(0, self.refresh)
        return ids

    def receipt_file(self, job: Any) -> Path:
        """The job's receipt on disk: the one it points to, else one built from the history."""
        from integritas_gui.core.job_receipts import receipt_for_job
        from integritas_gui.core.receipts import receipt_file_name, write_receipt

        if job.receipt_path and os.path.isfile(job.receipt_path):
            return Path(job.receipt_path)
        receipt = receipt_for_job(self.history, job.id)
        dirs = getattr(self.services, "dirs", None)
        folder = Path(dirs.receipts) if dirs is not None else Path(self.history.path).parent / "receipts"
        folder.mkdir(parents=True, exist_ok=True)
        return write_receipt(receipt, folder / receipt_file_name(receipt))

    def open_receipt(self) -> None:
        job = self.current_job()
        if job is None:
            return
        try:
            path = self.receipt_file(job)
        except (IntegritasError, OSError) as exc:
            self.show_notice(getattr(exc, "message", None) or str(exc))
            return
        self._open_path(path)

    def open_report(self) -> None:
        job = self.current_job()
        if job and job.report_path:
            if os.path.isfile(job.report_path):
                self._open_path(Path(job.report_path))
            else:
                self.show_notice(self.tr("The report is not there any more: {path}").format(path=job.report_path))

    def save_report(self, destination: str | None = None) -> Path | None:
        job = self.current_job()
        if not job or not job.report_path:
            return None
        if destination is None:
            destination, _ = QFileDialog.getSaveFileName(
                self, self.tr("Save report"), os.path.basename(job.report_path), self.tr("PDF (*.pdf)"))
            if not destination:
                return None
        try:
            shutil.copyfile(job.report_path, destination)
        except OSError as exc:
            self.show_notice(self.tr("The report could not be saved: {why}").format(why=exc.strerror or exc))
            return None
        self.show_notice(self.tr("Report saved to {path}").format(path=destination))
        return Path(destination)

    def reveal_file(self) -> None:
        job = self.current_job()
        if not job or not job.path:
            return
        path = Path(job.path)
        if not path.exists():
            self.show_notice(self.tr("The file is not there any more: {path}").format(path=path))
            if not path.parent.exists():
                return
        if sys.platform == "darwin" and path.exists():
            subprocess.Popen(["open", "-R", str(path)])
        elif sys.platform == "win32" and path.exists():
            subprocess.Popen(["explorer", "/select,", str(path)])
        else:
            self._open_path(path.parent)

    def _open_path(self, path: Path) -> None:
        if not QDesktopServices.openUrl(QUrl.fromLocalFile(str(path))):
            self.show_notice(self.tr("No program could open {path}").format(path=path))

    def copy_hash(self) -> str | None:
        job = self.current_job()
        if not job or not job.sha3_256:
            return None
        QGuiApplication.clipboard().setText(job.sha3_256)
        self.show_notice(self.tr("SHA3-256 of {name} copied.").format(name=job.display_name))
        return job.sha3_256

    # ---- export and import ---------------------------------------------------------------------
    def choose_export_selected(self) -> None:
        self.choose_export(True)

    def choose_export_all(self) -> None:
        self.choose_export(False)

    def choose_export(self, selected_only: bool) -> None:
        path, chosen = QFileDialog.getSaveFileName(
            self, self.tr("Export history"), "integritas-history.csv",
            self.tr("CSV (*.csv);;JSON (*.json)"))
        if path:
            fmt = "json" if path.lower().endswith(".json") or "json" in chosen.lower() else "csv"
            self.export_to(path, fmt, selected_only=selected_only)

    def export_to(self, path: str | os.PathLike, fmt: str, *, selected_only: bool,
                  on_done: Callable[[Any], None] | None = None) -> None:
        """Export on a worker thread; the notice says how many entries were written."""
        job_ids = [job.id for job in self.selected_jobs()] if selected_only else None
        current = self.model.filter
        job_filter = JobFilter(current.text, current.kind, current.outcome, current.since, current.until)

        def work() -> int:
            return export_history(self.history, path, fmt, job_ids=job_ids, job_filter=job_filter)

        def done(count: int) -> None:
            self.show_notice(self.tr("Exported {n:,} entries to {path}").format(n=count, path=path))
            if on_done:
                on_done(count)

        def failed(exc: BaseException) -> None:
            message = getattr(exc, "message", None) or getattr(exc, "strerror", None) or str(exc)
            self.show_notice(self.tr("The export failed: {why}").format(why=message))
            if on_done:
                on_done(exc)

        self.show_notice(self.tr("Exporting\u2026"))
        self.tasks.run(work, done, failed)

    def choose_import(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(
            self, self.tr("Import receipts, v1 proofs or history exports"), "",
            self.tr("Receipts, proofs and exports (*.json *.csv *.zip);;All files (*)"))
        if paths:
            self.import_paths(paths)

    def import_paths(self, paths: list[str], on_done: Callable[[Any], None] | None = None) -> None:
        def done(results: list[Any]) -> None:
            self.show_notice(" ".join(result.message for result in results))
            self.refresh()
            if on_done:
                on_done(results)

        def failed(exc: BaseException) -> None:
            self.show_notice(self.tr("The import failed: {why}").format(why=getattr(exc, "message", exc)))
            if on_done:
                on_done(exc)

        self.show_notice(self.tr("Importing\u2026"))
        bridge = self._bridge
        if bridge is not None:  # the engine process writes the history; the window shows the outcome
            bridge.import_files(paths, on_done=lambda results: done([ImportResult(**{
                k: v for k, v in result.items() if k != "message"}) for result in results]), on_error=failed)
        else:
            self.tasks.run(lambda: import_files(self.history, paths), done, failed)

    @property
    def _bridge(self) -> EngineBridge | None:
        """The window's engine process, which re-verifies and imports; without one (a view of a
        history alone) this view does that work on its own task runner."""
        engine = self.services.engine
        return engine if isinstance(engine, EngineBridge) else None

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        self.cancel_reverify_all()
        self.wait_reverify(5)
        self.tasks.wait(5000)
        super().closeEvent(event)


__all__ = ["HistoryView"]
