"""The queue page: the queue table, its buttons and overall progress, and the detail panel beside it.

The page shows what the window's ``QueueModel`` holds; it asks the window's engine bridge to cancel,
retry or verify again, and reads the shown job from the history off the GUI thread.
"""

from __future__ import annotations

import os
import shutil
import time
from collections import deque
from pathlib import Path

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QSize, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView, QFileDialog, QHBoxLayout, QHeaderView, QInputDialog, QLabel, QProgressBar, QPushButton,
    QSplitter, QStackedWidget, QTableView, QVBoxLayout, QWidget,
)

from integritas_gui.core.display import count_noun
from integritas_gui.gui import actions
from integritas_gui.gui import status_text as st
from integritas_gui.gui.detail_panel import DetailPanel
from integritas_gui.gui.job_details import load_job_details
from integritas_gui.gui.queue_model import (
    ACTION, BLOCK, HASH, NAME, PROGRESS, SIZE, STATUS, QueueModel,
)

KINDS = ("stamp", "verify", "check")
THROUGHPUT_WINDOW_S = 5.0
REPORT_DIR_KEY = "last_report_dir"
OPEN_DIR_KEY = "last_open_dir"


def local_paths_from_urls(urls) -> list[str]:
    return [url.toLocalFile() for url in urls if url.isLocalFile() and url.toLocalFile()]


def parse_pasted(text: str) -> tuple[list[str], list[str], list[str]]:
    """Split pasted text into (existing paths, 64-hex hashes, lines that are neither)."""
    from integritas_gui.core.hexhash import normalise

    paths, hashes, unknown = [], [], []
    for raw in text.splitlines():
        line = raw.strip().strip('"').strip("'")
        if not line:
            continue
        if line.startswith("file://"):
            line = QUrl(line).toLocalFile()
        expanded = os.path.expanduser(line)
        if os.path.exists(expanded):
            paths.append(os.path.abspath(expanded))
            continue
        try:
            hashes.append(normalise(line))
        except Exception:
            unknown.append(line)
    return paths, hashes, unknown


class QueueView(QTableView):
    """The queue table. It tells the model which rows it shows, so only those keep their pending
    times ticking (the cells are held by Qt and painted without Python, see QueueModel)."""

    def __init__(self, model: QueueModel, parent=None):
        super().__init__(parent)
        self.setModel(model)
        self._queue = model
        self.verticalScrollBar().valueChanged.connect(self._visible_rows_changed)
        model.rows_placed.connect(self._visible_rows_changed)
        # The first call pays PySide's one-time set-up of the scroll area's types (~20 ms): at start-up,
        # not when the first rows of a drop appear.
        self._visible_rows_changed()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._visible_rows_changed()

    def _visible_rows_changed(self, *args) -> None:
        count = self._queue.rowCount()
        first = self.rowAt(0)
        last = self.rowAt(self.viewport().height() - 1)
        if first < 0:
            first = 0
        if last < 0:
            last = count - 1
        self._queue.set_visible_rows(first, last)


class EmptyQueue(QWidget):
    """What the queue shows before the first file: where to drop, and the buttons to pick."""

    def __init__(self, page: "QueuePage", parent=None):
        super().__init__(parent)
        self.setObjectName("emptyQueue")
        layout = QVBoxLayout(self)
        layout.addStretch(2)
        big = QLabel(self.tr("Drop files or folders here"), self)
        font = big.font()
        font.setPointSizeF(font.pointSizeF() * 1.6)
        font.setBold(True)
        big.setFont(font)
        big.setAlignment(Qt.AlignmentFlag.AlignCenter)
        small = QLabel(self.tr(
            "Only a fingerprint of each file (its SHA3-256 hash) is sent. The files never leave this "
            "computer."), self)
        small.setWordWrap(True)
        small.setAlignment(Qt.AlignmentFlag.AlignCenter)
        small.setForegroundRole(small.foregroundRole().PlaceholderText)
        layout.addWidget(big)
        layout.addWidget(small)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.open_files = QPushButton(self.tr("Choose files\u2026"), self)
        self.open_folder = QPushButton(self.tr("Choose a folder\u2026"), self)
        self.open_files.clicked.connect(page.open_files)
        self.open_folder.clicked.connect(page.open_folder)
        buttons.addWidget(self.open_files)
        buttons.addWidget(self.open_folder)
        buttons.addStretch(1)
        layout.addSpacing(8)
        layout.addLayout(buttons)
        layout.addStretch(3)


class QueuePage(QWidget):
    """The Queue tab. ``window`` is the main window: its engine bridge, services, settings, status bar."""

    details_shown = Signal(int)  # job id now in the detail panel (after its history read)

    def __init__(self, window, model: QueueModel, parent=None):
        super().__init__(parent)
        self.main = window
        self.model = model
        self._rate_samples: deque[tuple[float, int]] = deque()
        self._report_jobs: dict[int, int] = {}  # verification job with report -> job it was asked from
        self._details_job: int | None = None
        self._details_loading = False
        self._details_again = False
        queue_layout = QVBoxLayout(self)
        queue_layout.setContentsMargins(0, 6, 0, 0)
        queue_layout.setSpacing(6)

        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.queue_stack = QStackedWidget(self.splitter)
        self.empty_queue = EmptyQueue(self, self.queue_stack)
        self.queue_view = QueueView(self.model, self.queue_stack)
        self.queue_view.setObjectName("queueView")
        self.queue_view.setAccessibleName(self.tr("Queue of files"))
        self.queue_view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.queue_view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.queue_view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.queue_view.setAlternatingRowColors(True)
        self.queue_view.setShowGrid(False)
        self.queue_view.setWordWrap(False)
        self.queue_view.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.queue_view.verticalHeader().setVisible(False)
        row_height = self.queue_view.fontMetrics().height() + 10
        self.queue_view.verticalHeader().setDefaultSectionSize(row_height)
        self.queue_view.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.queue_view.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        header = self.queue_view.horizontalHeader()
        header.setHighlightSections(False)
        char = self.queue_view.fontMetrics().horizontalAdvance("0")
        for column, chars in ((NAME, 20), (ACTION, 6), (SIZE, 8), (PROGRESS, 8), (HASH, 13),
                              (BLOCK, 8)):
            header.resizeSection(column, char * chars + 16)
        header.setSectionResizeMode(STATUS, QHeaderView.ResizeMode.Stretch)
        # The progress bars are pixmaps the model draws once per percent (no Python delegate).
        bar_size = QSize(char * 8, max(12, row_height - 10))
        self.queue_view.setIconSize(bar_size)
        self.model.set_progress_size(bar_size)
        self.queue_view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.queue_view.customContextMenuRequested.connect(
            lambda position: actions.popup_queue_menu(self.main, position))
        self.queue_view.selectionModel().currentRowChanged.connect(self._current_changed)
        self.queue_view.selectionModel().selectionChanged.connect(lambda *_: self.main.update_actions())
        self.queue_stack.addWidget(self.empty_queue)
        self.queue_stack.addWidget(self.queue_view)

        self.detail_panel = DetailPanel(self.splitter)
        self.detail_panel.report_requested.connect(self.request_report)
        self.detail_panel.certificate_requested.connect(self.save_certificate)
        self.detail_panel.save_report_requested.connect(self.save_report_as)
        self.detail_panel.copied.connect(self._copied)
        self.splitter.addWidget(self.queue_stack)
        self.splitter.addWidget(self.detail_panel)
        self.splitter.setStretchFactor(0, 5)
        self.splitter.setStretchFactor(1, 3)
        self.splitter.setSizes([900, 480])
        self.splitter.setChildrenCollapsible(False)
        queue_layout.addWidget(self.splitter, 1)

        queue_buttons = QHBoxLayout()
        queue_buttons.setSpacing(6)
        self.cancel_button = QPushButton(self.tr("Cancel"), self)
        self.retry_button = QPushButton(self.tr("Retry"), self)
        self.remove_button = QPushButton(self.tr("Remove"), self)
        self.clear_button = QPushButton(self.tr("Clear finished"), self)
        self.cancel_button.setToolTip(self.tr("Stop the selected files (Esc)"))
        self.retry_button.setToolTip(self.tr("Run the selected failed or cancelled files again (Ctrl+R)"))
        self.remove_button.setToolTip(self.tr("Take the selected files off the queue (Delete); "
                                              "they stay in the history"))
        self.clear_button.setToolTip(self.tr("Take every finished file off the queue"))
        self.cancel_button.clicked.connect(self.cancel_selected)
        self.retry_button.clicked.connect(self.retry_selected)
        self.remove_button.clicked.connect(self.remove_selected)
        self.clear_button.clicked.connect(self.clear_finished)
        for button in (self.cancel_button, self.retry_button, self.remove_button, self.clear_button):
            queue_buttons.addWidget(button)
        queue_buttons.addSpacing(12)
        self.overall_bar = QProgressBar(self)
        self.overall_bar.setAccessibleName(self.tr("Overall hashing progress"))
        self.overall_bar.setRange(0, 100)
        self.overall_bar.setTextVisible(False)
        self.overall_bar.setMaximumWidth(240)
        self.overall_label = QLabel(self)
        self.overall_label.setAccessibleName(self.tr("Overall progress"))
        queue_buttons.addWidget(self.overall_bar)
        queue_buttons.addWidget(self.overall_label, 1)
        queue_layout.addLayout(queue_buttons)

    def _copied(self, text: str) -> None:
        shown = text[:20] + "\u2026" if len(text) > 20 else text
        self.main.statusBar().showMessage(self.tr("Copied {text}").format(text=shown), 4000)

    def restyle(self) -> None:
        self.detail_panel.banner.restyle()

    def apply_updates(self, updates: list) -> None:
        """After the model took ``updates``: reload the shown job, collect asked-for reports."""
        shown = self._details_job
        for update in updates:
            if update.job_id == shown and not self._progress_only(update):
                self._reload_details()
            if update.job_id in self._report_jobs and update.state in ("done", "failed"):
                self._report_finished(update.job_id)

    def tick(self) -> None:
        """Once a second: pending times, totals and the shown job's status line."""
        self.model.tick_pending()
        self.refresh_totals()
        details = self.detail_panel.details
        if details is not None:
            row = self.model.row_for_job(details.job_id)
            if row is not None and row.state == details.state:
                self.detail_panel.update_status(row.state, row.status())

    # ---- adding work: open, paste, hashes -----------------------------------------------------
    def _start_dir(self) -> str:
        folder = self.main.settings.extra.get(OPEN_DIR_KEY)
        return folder if folder and os.path.isdir(folder) else str(Path.home())

    def open_files(self, kind: str | None = None) -> None:
        kind = kind if kind in KINDS else None
        title = {
            "stamp": self.tr("Choose files to stamp"), "verify": self.tr("Choose files to verify"),
            "check": self.tr("Choose files to check"),
        }[kind or self.main.drop_kind]
        files, _ = QFileDialog.getOpenFileNames(self.main, title, self._start_dir())
        if files:
            self.main.remember_dir(OPEN_DIR_KEY, os.path.dirname(files[0]))
            self.main.add_paths(files, kind)

    def open_folder(self, kind: str | None = None) -> None:
        kind = kind if kind in KINDS else None
        folder = QFileDialog.getExistingDirectory(self.main, self.tr("Choose a folder"), self._start_dir())
        if folder:
            self.main.remember_dir(OPEN_DIR_KEY, os.path.dirname(folder))
            self.main.add_paths([folder], kind)

    def paste_paths(self) -> None:
        text = QGuiApplication.clipboard().text()
        paths, hashes, unknown = parse_pasted(text)
        if paths:
            self.main.add_paths(paths)
        hash_kind = "verify" if self.main.drop_kind == "verify" else "check"
        for sha3 in hashes:
            self.main.add_hash(hash_kind, sha3)
        if unknown:
            self.main.statusBar().showMessage(
                self.tr("{lines} neither an existing file nor a SHA3-256 hash: {first}").format(
                    lines=count_noun(len(unknown), "pasted line is", "pasted lines are"), first=unknown[0][:60]), 8000)
        elif not paths and not hashes:
            self.main.statusBar().showMessage(self.tr("The clipboard holds no file paths or hashes."), 5000)

    def run_action(self, kind: str) -> None:
        """Stamp/verify/check the selected files, or pick files when none is selected."""
        paths = [row.path for row in self.selected_rows() if row.path]
        hashes = [row.sha3_256 for row in self.selected_rows() if not row.path and row.sha3_256]
        if not paths and not hashes:
            self.open_files(kind)
            return
        if paths:
            self.main.add_paths(paths, kind)
        for sha3 in hashes:
            self.main.add_hash("check" if kind == "stamp" else kind, sha3)

    def _ask_hash(self, title: str) -> str | None:
        from integritas_gui.core.hexhash import normalise

        text, ok = QInputDialog.getText(self.main, title, self.tr("SHA3-256 hash (64 hex characters):"))
        if not ok or not text.strip():
            return None
        try:
            return normalise(text.strip())
        except Exception as exc:
            self.main.statusBar().showMessage(getattr(exc, "message", None) or str(exc), 8000)
            return None

    def check_hash_dialog(self) -> None:
        sha3 = self._ask_hash(self.tr("Check a hash"))
        if sha3:
            self.main.add_hash("check", sha3)

    def verify_hash_dialog(self) -> None:
        sha3 = self._ask_hash(self.tr("Verify a hash"))
        if sha3:
            self.main.add_hash("verify", sha3)

    # ---- queue control -------------------------------------------------------------------------
    def selected_rows(self):
        selection = self.queue_view.selectionModel()
        # Selection ranges, not selectedRows(): the latter asks the model about every cell.
        rows = sorted({r for span in selection.selection() for r in range(span.top(), span.bottom() + 1)})
        if not rows and selection.currentIndex().isValid() and self.queue_view.hasFocus():
            rows = [selection.currentIndex().row()]
        return [self.model.row(r) for r in rows if r < self.model.rowCount()]

    def selected_job_ids(self) -> list[int]:
        return [row.job_id for row in self.selected_rows()]

    def cancel_selected(self) -> None:
        ids = [r.job_id for r in self.selected_rows() if r.state in st.ACTIVE_STATES]
        if ids:
            self.main.bridge.cancel(ids, on_error=self.main.show_error)

    def cancel_all(self) -> None:
        self.main.bridge.cancel_all(on_error=self.main.show_error)

    def retry_selected(self) -> None:
        ids = [r.job_id for r in self.selected_rows() if r.state in ("failed", "cancelled")]
        if ids:
            self.main.bridge.retry(ids, on_error=self.main.show_error)

    def remove_selected(self) -> None:
        rows = self.selected_rows()
        active = [r.job_id for r in rows if r.state in st.ACTIVE_STATES and r.state != "pending"]
        if active:  # stop the work first; a pending stamp keeps being followed by the engine
            self.main.bridge.cancel(active, on_error=self.main.show_error)
        self.model.remove_jobs([r.job_id for r in rows])

    def clear_finished(self) -> None:
        self.model.remove_jobs(self.model.finished_job_ids())

    def copy_hash(self) -> None:
        hashes = [r.sha3_256 for r in self.selected_rows() if r.sha3_256]
        if not hashes and self.detail_panel.details and self.detail_panel.details.sha3_256:
            hashes = [self.detail_panel.details.sha3_256]
        if hashes:
            QGuiApplication.clipboard().setText("\n".join(hashes))
            self.main.statusBar().showMessage(self.tr("Copied {n} hash(es)").format(n=len(hashes)), 4000)

    def reveal_selected(self) -> None:
        for row in self.selected_rows()[:1]:
            if row.path:
                QDesktopServices.openUrl(QUrl.fromLocalFile(os.path.dirname(row.path)))

    def _progress_only(self, update) -> bool:
        """Hashing progress of the shown job: the once-a-second status tick shows it, no history
        read needed (it would be ten a second for as long as a big file hashes)."""
        details = self.detail_panel.details
        return (update.state == "hashing" and details is not None and details.job_id == update.job_id
                and details.state == "hashing")

    def rows_changed(self, *args) -> None:
        empty = self.model.rowCount() == 0
        self.queue_stack.setCurrentWidget(self.empty_queue if empty else self.queue_view)
        if not empty and not self.queue_view.selectionModel().currentIndex().isValid():
            self.queue_view.selectionModel().setCurrentIndex(
                self.model.index(0, 0),
                QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows)
        self.main.update_actions()

    def refresh_totals(self) -> None:
        model = self.model
        done, total = model.hash_done, model.hash_total
        hashing = model.count_in(("queued", "hashing"))
        now = time.monotonic()
        samples = self._rate_samples
        if hashing and total:
            if samples and done < samples[-1][1]:
                samples.clear()
            samples.append((now, done))
            while len(samples) > 2 and now - samples[0][0] > THROUGHPUT_WINDOW_S:
                samples.popleft()
            self.overall_bar.setVisible(True)
            value = int(100 * done / total) if total else 0
            if value != self.overall_bar.value():
                self.overall_bar.setValue(value)
            parts = [self.tr("Hashing {files}: {done} of {total}").format(
                files=count_noun(hashing, "file"), done=st.human_size(done), total=st.human_size(total))]
            if len(samples) >= 2 and samples[-1][0] - samples[0][0] >= 0.5:
                rate = (samples[-1][1] - samples[0][1]) / (samples[-1][0] - samples[0][0])
                if rate > 0:
                    parts.append(self.tr("{rate}/s").format(rate=st.human_size(int(rate))))
                    parts.append(self.tr("about {time} left").format(
                        time=st.human_duration((total - done) / rate)))
            text = " \u00b7 ".join(parts)
        else:
            samples.clear()
            self.overall_bar.setVisible(False)
            text = self._summary_text()
        self.overall_label.setText(text)
        self.overall_bar.setAccessibleDescription(text)

    def _summary_text(self) -> str:
        model = self.model
        parts = []
        for states, label in (
            (("submitting", "hashed"), self.tr("{n} sending")),
            (("pending",), self.tr("{n} pending on chain")),
            (("confirmed",), self.tr("{n} confirmed")),
            (("done",), self.tr("{n} answered")),
            (("failed",), self.tr("{n} failed")),
            (("cancelled",), self.tr("{n} cancelled")),
        ):
            count = model.count_in(states)
            if count:
                parts.append(label.format(n=count))
        if not parts:
            return self.tr("Drop files anywhere on this window.")
        return " \u00b7 ".join(parts)

    # ---- details -------------------------------------------------------------------------------
    def _current_changed(self, current: QModelIndex, previous: QModelIndex) -> None:
        job_id = self.model.row(current.row()).job_id if current.isValid() else None
        self._details_job = job_id
        if job_id is None:
            self.detail_panel.set_details(None)
        else:
            self._reload_details()
        self.main.update_actions()

    def _reload_details(self) -> None:
        """Read the shown job from the history off the GUI thread (one read at a time)."""
        if self._details_loading:
            self._details_again = True
            return
        job_id = self._details_job
        if job_id is None:
            return
        self._details_loading = True
        history = self.main.services.history

        def done(details) -> None:
            self._details_loading = False
            if self._details_job == job_id and details is not None:
                row = self.model.row_for_job(job_id)
                status = row.status() if row is not None else details.state
                self.detail_panel.set_details(details, status)
                self.main.update_actions()
                self.details_shown.emit(job_id)
            if self._details_again or self._details_job != job_id:
                self._details_again = False
                self._reload_details()

        def failed(exc) -> None:
            self._details_loading = False
            self.main.show_error(exc)

        self.main.tasks.run(lambda: load_job_details(history, job_id), on_done=done, on_error=failed)

    def select_job(self, job_id: int) -> bool:
        position = self.model.position_of(job_id)
        if position is None:
            return False
        index = self.model.index(position, 0)
        self.queue_view.selectionModel().setCurrentIndex(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows)
        self.queue_view.scrollTo(index)
        return True

    # ---- reports and certificates --------------------------------------------------------------
    def request_report(self, job_id: int) -> None:
        """Verify again with ``x-report-required``; the engine downloads the PDF at once."""
        row = self.model.row_for_job(job_id)
        details = self.detail_panel.details
        path = row.path if row else (details.path if details else None)
        sha3 = row.sha3_256 if row else (details.sha3_256 if details else None)
        self.main.statusBar().showMessage(self.tr("Asking Integritas for its PDF report\u2026"), 5000)

        def asked(ids) -> None:
            ids = ids if isinstance(ids, list) else [ids]
            for new_id in ids:
                self._report_jobs[new_id] = job_id
            if ids:
                QTimer.singleShot(150, self, lambda: self.select_job(ids[0]))  # not after close

        if path:
            self.main.bridge.add_files("verify", [path], report=True,
                                  send_file_details=bool(self.main.settings.send_file_details),
                                  on_done=asked, on_error=self.main.show_error)
        else:
            self.main.bridge.add_hash("verify", sha3, report=True, on_done=asked, on_error=self.main.show_error)

    def _report_finished(self, job_id: int) -> None:
        self._report_jobs.pop(job_id, None)
        history = self.main.services.history

        def done(details) -> None:
            if details is None:
                return
            if details.report_path:
                self.main.statusBar().showMessage(
                    self.tr("PDF report ready: {path}. Open or save it from the panel.").format(
                        path=details.report_path), 15000)
                self.select_job(job_id)
                self.main.report_ready.emit(job_id, details.report_path)
            else:
                self.main.statusBar().showMessage(details.error or self.tr("No report came back."), 15000)

        self.main.tasks.run(lambda: load_job_details(history, job_id), on_done=done,
                       on_error=self.main.show_error)

    def save_report_as(self, report_path: str, dest: str | None = None) -> str | None:
        details = self.detail_panel.details
        if dest is None:
            folder = self.main.settings.extra.get(REPORT_DIR_KEY) or str(Path.home())
            dest, _ = QFileDialog.getSaveFileName(
                self.main, self.tr("Save the PDF report"), os.path.join(folder, os.path.basename(report_path)),
                self.tr("PDF files (*.pdf)"))
        if not dest:
            return None
        try:
            if os.path.abspath(dest) != os.path.abspath(report_path):
                shutil.copyfile(report_path, dest)
        except OSError as exc:
            self.main.statusBar().showMessage(self.tr("Could not save the report: {error}").format(
                error=exc.strerror or exc), 10000)
            return None
        self.main.remember_dir(REPORT_DIR_KEY, os.path.dirname(dest))
        if details is not None and details.report_path == report_path:
            self.main.bridge.set_report_path(details.job_id, dest, on_done=lambda _: self._reload_details(),
                                        on_error=self.main.show_error)
        self.main.statusBar().showMessage(self.tr("Report saved to {path}").format(path=dest), 8000)
        return dest

    def save_certificate(self, job_id: int, dest: str | None = None) -> None:
        from integritas_gui.core.certificate import certificate_for_job

        details = self.detail_panel.details
        if dest is None:
            base = os.path.splitext(details.name if details and details.name else "certificate")[0]
            folder = self.main.settings.extra.get(REPORT_DIR_KEY) or str(Path.home())
            dest, _ = QFileDialog.getSaveFileName(
                self.main, self.tr("Save the certificate"), os.path.join(folder, base + "-certificate.pdf"),
                self.tr("PDF files (*.pdf)"))
        if not dest:
            return
        self.main.remember_dir(REPORT_DIR_KEY, os.path.dirname(dest))
        history = self.main.services.history
        self.main.tasks.run(
            lambda: certificate_for_job(history, job_id, dest),
            on_done=lambda path: self.main.statusBar().showMessage(
                self.tr("Certificate saved to {path}").format(path=path), 10000),
            on_error=self.main.show_error)
