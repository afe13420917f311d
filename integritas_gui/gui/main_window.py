"""The main window: drop files, stamp, follow, verify, see the evidence.

The engine runs in a child process (``EngineBridge``); history reads run on ``TaskRunner``'s threads.
The window only shows state it receives as batched ``JobUpdate``s.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections import deque
from pathlib import Path

from PySide6.QtCore import QEvent, QItemSelectionModel, QModelIndex, QSize, Qt, QTimer, QUrl, Signal, Slot
from PySide6.QtGui import (
    QDesktopServices, QDragEnterEvent, QDropEvent, QGuiApplication,
)
from PySide6.QtWidgets import (
    QAbstractItemView, QButtonGroup, QCheckBox, QFileDialog, QHBoxLayout, QHeaderView,
    QInputDialog, QLabel, QMainWindow, QMessageBox, QProgressBar, QPushButton, QRadioButton,
    QSplitter, QStackedWidget, QSystemTrayIcon, QTableView, QTabWidget, QVBoxLayout,
    QWidget,
)

from integritas_gui import APP_NAME, __version__
from integritas_gui.core.settings import save_settings
from integritas_gui.gui import actions
from integritas_gui.gui import status_text as st
from integritas_gui.gui.adapter import EngineBridge, TaskRunner
from integritas_gui.gui.detail_panel import DetailPanel
from integritas_gui.gui.job_details import load_job_details
from integritas_gui.gui.queue_model import (
    ACTION, BLOCK, HASH, NAME, PROGRESS, SIZE, STATUS, QueueModel,
)
from integritas_gui.gui.trial_banner import TrialBanner

log = logging.getLogger(__name__)

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

    def __init__(self, window: "MainWindow"):
        super().__init__(window)
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
        self.open_files.clicked.connect(window.open_files)
        self.open_folder.clicked.connect(window.open_folder)
        buttons.addWidget(self.open_files)
        buttons.addWidget(self.open_folder)
        buttons.addStretch(1)
        layout.addSpacing(8)
        layout.addLayout(buttons)
        layout.addStretch(3)


class MainWindow(QMainWindow):
    batch_confirmed = Signal(int)  # stamps confirmed in the batch that just finished
    report_ready = Signal(int, str)  # job id, downloaded report path
    details_shown = Signal(int)  # job id now in the detail panel (after its history read)
    services_changed = Signal()

    def __init__(self, services, parent=None, *, log_path=None, force_sandbox: bool = False):
        super().__init__(parent)
        self.services = services
        self.settings = services.settings
        self.log_path = log_path
        self.force_sandbox = force_sandbox
        self.tasks = TaskRunner(self)
        self.model = QueueModel(self)
        self.notifications: list[tuple[str, str]] = []  # (title, text) shown, newest last
        self.engine_notices: list[tuple[str, str]] = []  # (state, text) of the engine process
        self.bridge = self._start_engine(services)
        self._rate_samples: deque[tuple[float, int]] = deque()
        self._report_jobs: dict[int, int] = {}  # verification job with report -> job it was asked from
        self._details_job: int | None = None
        self._details_loading = False
        self._details_again = False
        self._restart_when_idle = False
        self._closing = False
        self.history_view = None

        self.setWindowTitle(APP_NAME)
        self.setObjectName("mainWindow")
        self.setAcceptDrops(True)
        self._build_ui()
        actions.build_actions(self)
        actions.build_menus(self)
        self._build_tray()
        self._apply_trial_state()
        self._totals_timer = QTimer(self)  # coalesces totals refreshes to a few a second
        self._totals_timer.setSingleShot(True)
        self._totals_timer.setInterval(200)
        self._totals_timer.timeout.connect(self._refresh_totals)
        self.model.totals_changed.connect(self._totals_timer.start)
        self.model.rowsInserted.connect(self._rows_changed)
        self.model.rowsRemoved.connect(self._rows_changed)
        self.model.modelReset.connect(self._rows_changed)
        self._ticker = QTimer(self)
        self._ticker.setInterval(1000)
        self._ticker.timeout.connect(self._tick)
        self._ticker.start()
        self._refresh_totals()
        self._update_actions()
        self.resize(1400, 860)

    def changeEvent(self, event) -> None:
        # The desktop's light/dark switch reaches every widget as a PaletteChange. (Not an event
        # filter on the application: that would put a Python call, and a wait for the GIL, in front
        # of every event the GUI thread handles.)
        if event.type() == QEvent.Type.PaletteChange:
            self.restyle()
        super().changeEvent(event)

    def restyle(self) -> None:
        """Re-derive the semantic colours (banners) from the current palette."""
        self.trial_banner.restyle()
        self.detail_panel.banner.restyle()
        self.model.restyle()

    # ---- building ------------------------------------------------------------------------------
    def _build_ui(self) -> None:
        central = QWidget(self)
        central.setObjectName("central")
        outer = QVBoxLayout(central)
        outer.setContentsMargins(10, 10, 10, 6)
        outer.setSpacing(8)

        self.trial_banner = TrialBanner(central)
        self.trial_banner.use_key_requested.connect(self.show_settings)
        outer.addWidget(self.trial_banner)

        bar = QHBoxLayout()
        bar.setSpacing(8)
        mode_label = QLabel(self.tr("Files you add will be:"), central)
        bar.addWidget(mode_label)
        self.mode_group = QButtonGroup(self)
        self.mode_buttons: dict[str, QRadioButton] = {}
        for kind, text, tip in (
            ("stamp", self.tr("&Stamped"), self.tr("Anchor each file's fingerprint on the blockchain")),
            ("verify", self.tr("&Verified"),
             self.tr("Look each file up on the blockchain, with every record and the segment map")),
            ("check", self.tr("C&hecked"), self.tr("Only ask whether each file's fingerprint is on chain")),
        ):
            button = QRadioButton(text, central)
            button.setToolTip(tip)
            button.setAccessibleName(self.tr("Add files to {action}").format(action=st.kind_text(kind)))
            self.mode_group.addButton(button)
            self.mode_buttons[kind] = button
            bar.addWidget(button)
        drop_action = self.settings.drop_action if self.settings.drop_action in KINDS else "stamp"
        self.mode_buttons[drop_action].setChecked(True)
        self.mode_group.buttonToggled.connect(self._mode_changed)
        bar.addSpacing(12)
        self.add_files_button = QPushButton(self.tr("Add files\u2026"), central)
        self.add_folder_button = QPushButton(self.tr("Add folder\u2026"), central)
        self.add_files_button.clicked.connect(self.open_files)
        self.add_folder_button.clicked.connect(self.open_folder)
        bar.addWidget(self.add_files_button)
        bar.addWidget(self.add_folder_button)
        from integritas_gui.gui.node_settings import stamp_with_combo

        bar.addSpacing(12)
        self.stamp_with_combo = stamp_with_combo(central, self.settings)
        self.stamp_with_combo.currentIndexChanged.connect(self._stamp_with_changed)
        bar.addWidget(QLabel(self.tr("Stamp &with:"), central, buddy=self.stamp_with_combo))
        bar.addWidget(self.stamp_with_combo)
        bar.addStretch(1)
        self.privacy_box = QCheckBox(self.tr("Send file name and size with verifications"), central)
        self.privacy_box.setToolTip(self.tr(
            "Off: only the file's hash is sent. On: its name and size go with each verification too "
            "(they then appear in the service's report)."))
        self.privacy_box.setChecked(bool(self.settings.send_file_details))
        self.privacy_box.toggled.connect(self._privacy_toggled)
        bar.addWidget(self.privacy_box)
        outer.addLayout(bar)

        self.tabs = QTabWidget(central)
        self.tabs.setDocumentMode(True)
        queue_page = QWidget(self.tabs)
        queue_layout = QVBoxLayout(queue_page)
        queue_layout.setContentsMargins(0, 6, 0, 0)
        queue_layout.setSpacing(6)

        self.splitter = QSplitter(Qt.Orientation.Horizontal, queue_page)
        self.queue_stack = QStackedWidget(self.splitter)
        self.empty_queue = EmptyQueue(self)
        self.empty_queue.setParent(self.queue_stack)
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
        self.queue_view.customContextMenuRequested.connect(lambda position: actions.popup_queue_menu(self, position))
        self.queue_view.selectionModel().currentRowChanged.connect(self._current_changed)
        self.queue_view.selectionModel().selectionChanged.connect(lambda *_: self._update_actions())
        self.queue_stack.addWidget(self.empty_queue)
        self.queue_stack.addWidget(self.queue_view)

        self.detail_panel = DetailPanel(self.splitter)
        self.detail_panel.report_requested.connect(self.request_report)
        self.detail_panel.certificate_requested.connect(self.save_certificate)
        self.detail_panel.save_report_requested.connect(self.save_report_as)
        self.detail_panel.copied.connect(
            lambda text: self.statusBar().showMessage(self.tr("Copied {text}").format(text=text[:20] + "\u2026"
                                                      if len(text) > 20 else text), 4000))
        self.splitter.addWidget(self.queue_stack)
        self.splitter.addWidget(self.detail_panel)
        self.splitter.setStretchFactor(0, 5)
        self.splitter.setStretchFactor(1, 3)
        self.splitter.setSizes([900, 480])
        self.splitter.setChildrenCollapsible(False)
        queue_layout.addWidget(self.splitter, 1)

        queue_buttons = QHBoxLayout()
        queue_buttons.setSpacing(6)
        self.cancel_button = QPushButton(self.tr("Cancel"), queue_page)
        self.retry_button = QPushButton(self.tr("Retry"), queue_page)
        self.remove_button = QPushButton(self.tr("Remove"), queue_page)
        self.clear_button = QPushButton(self.tr("Clear finished"), queue_page)
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
        self.overall_bar = QProgressBar(queue_page)
        self.overall_bar.setAccessibleName(self.tr("Overall hashing progress"))
        self.overall_bar.setRange(0, 100)
        self.overall_bar.setTextVisible(False)
        self.overall_bar.setMaximumWidth(240)
        self.overall_label = QLabel(queue_page)
        self.overall_label.setAccessibleName(self.tr("Overall progress"))
        queue_buttons.addWidget(self.overall_bar)
        queue_buttons.addWidget(self.overall_label, 1)
        queue_layout.addLayout(queue_buttons)

        self.tabs.addTab(queue_page, self.tr("Queue"))
        outer.addWidget(self.tabs, 1)
        self.setCentralWidget(central)
        self.service_label = QLabel(self)
        self.statusBar().addPermanentWidget(self.service_label)

    def _build_tray(self) -> None:
        self.tray: QSystemTrayIcon | None = None
        if QSystemTrayIcon.isSystemTrayAvailable():
            self.tray = QSystemTrayIcon(QGuiApplication.windowIcon(), self)
            self.tray.setToolTip(APP_NAME)
            self.tray.activated.connect(lambda *_: (self.showNormal(), self.activateWindow()))
            self.tray.show()

    def _apply_trial_state(self) -> None:
        trial = self.services.trial
        self.trial_banner.setVisible(trial)
        title = APP_NAME + (" \u2014 " + self.tr("Sandbox") if trial else "")
        self.setWindowTitle(title)
        if trial:
            self.service_label.setText("\u26a0 " + self.tr("Sandbox (practice chain on this computer)"))
        else:
            self.service_label.setText(self.tr("Service: {url}").format(url=self.services.base_url))

    # ---- adding work ---------------------------------------------------------------------------
    @property
    def drop_kind(self) -> str:
        for kind, button in self.mode_buttons.items():
            if button.isChecked():
                return kind
        return "stamp"

    def add_paths(self, paths, kind: str | None = None, *, report: bool = False) -> None:
        """Queue files or folders (walked off the GUI thread); rows appear as the engine reports."""
        paths = [str(p) for p in paths]
        if not paths:
            return
        kind = kind or self.drop_kind
        self.bridge.add_files(kind, paths, report=report,
                              send_file_details=bool(self.settings.send_file_details),
                              on_done=self._added, on_error=self._background_error)

    def _added(self, job_ids: list[int]) -> None:
        if len(job_ids) > 1:
            self.statusBar().showMessage(self.tr("Added {n} files to the queue.").format(n=len(job_ids)), 3000)
        if not job_ids:
            self.statusBar().showMessage(self.tr("Nothing to add: no files there."), 5000)

    def add_hash(self, kind: str, sha3: str, *, report: bool = False) -> None:
        self.bridge.add_hash(kind, sha3, report=report, on_error=self._background_error)

    def _background_error(self, exc: BaseException) -> None:
        message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        log.warning("Background task failed: %s", message)
        self.statusBar().showMessage(message, 10000)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if local_paths_from_urls(event.mimeData().urls()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = local_paths_from_urls(event.mimeData().urls())
        if not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        self.add_paths(paths)

    def _start_dir(self) -> str:
        folder = self.settings.extra.get(OPEN_DIR_KEY)
        return folder if folder and os.path.isdir(folder) else str(Path.home())

    def _remember_dir(self, key: str, folder: str) -> None:
        if folder and self.settings.extra.get(key) != folder:
            self.settings.extra[key] = folder
            self._save_settings()

    def open_files(self, kind: str | None = None) -> None:
        kind = kind if kind in KINDS else None
        title = {
            "stamp": self.tr("Choose files to stamp"), "verify": self.tr("Choose files to verify"),
            "check": self.tr("Choose files to check"),
        }[kind or self.drop_kind]
        files, _ = QFileDialog.getOpenFileNames(self, title, self._start_dir())
        if files:
            self._remember_dir(OPEN_DIR_KEY, os.path.dirname(files[0]))
            self.add_paths(files, kind)

    def open_folder(self, kind: str | None = None) -> None:
        kind = kind if kind in KINDS else None
        folder = QFileDialog.getExistingDirectory(self, self.tr("Choose a folder"), self._start_dir())
        if folder:
            self._remember_dir(OPEN_DIR_KEY, os.path.dirname(folder))
            self.add_paths([folder], kind)

    def paste_paths(self) -> None:
        text = QGuiApplication.clipboard().text()
        paths, hashes, unknown = parse_pasted(text)
        if paths:
            self.add_paths(paths)
        hash_kind = "verify" if self.drop_kind == "verify" else "check"
        for sha3 in hashes:
            self.add_hash(hash_kind, sha3)
        if unknown:
            self.statusBar().showMessage(
                self.tr("{n} pasted line(s) are neither an existing file nor a SHA3-256 hash: {first}").format(
                    n=len(unknown), first=unknown[0][:60]), 8000)
        elif not paths and not hashes:
            self.statusBar().showMessage(self.tr("The clipboard holds no file paths or hashes."), 5000)

    def run_action(self, kind: str) -> None:
        """Stamp/verify/check the selected files, or pick files when none is selected."""
        paths = [row.path for row in self.selected_rows() if row.path]
        hashes = [row.sha3_256 for row in self.selected_rows() if not row.path and row.sha3_256]
        if not paths and not hashes:
            self.open_files(kind)
            return
        if paths:
            self.add_paths(paths, kind)
        for sha3 in hashes:
            self.add_hash("check" if kind == "stamp" else kind, sha3)

    def _ask_hash(self, title: str) -> str | None:
        from integritas_gui.core.hexhash import normalise

        text, ok = QInputDialog.getText(self, title, self.tr("SHA3-256 hash (64 hex characters):"))
        if not ok or not text.strip():
            return None
        try:
            return normalise(text.strip())
        except Exception as exc:
            self.statusBar().showMessage(getattr(exc, "message", None) or str(exc), 8000)
            return None

    def check_hash_dialog(self) -> None:
        sha3 = self._ask_hash(self.tr("Check a hash"))
        if sha3:
            self.add_hash("check", sha3)

    def verify_hash_dialog(self) -> None:
        sha3 = self._ask_hash(self.tr("Verify a hash"))
        if sha3:
            self.add_hash("verify", sha3)

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
            self.bridge.cancel(ids, on_error=self._background_error)

    def cancel_all(self) -> None:
        self.bridge.cancel_all(on_error=self._background_error)

    def retry_selected(self) -> None:
        ids = [r.job_id for r in self.selected_rows() if r.state in ("failed", "cancelled")]
        if ids:
            self.bridge.retry(ids, on_error=self._background_error)

    def remove_selected(self) -> None:
        rows = self.selected_rows()
        active = [r.job_id for r in rows if r.state in st.ACTIVE_STATES and r.state != "pending"]
        if active:  # stop the work first; a pending stamp keeps being followed by the engine
            self.bridge.cancel(active, on_error=self._background_error)
        self.model.remove_jobs([r.job_id for r in rows])

    def clear_finished(self) -> None:
        self.model.remove_jobs(self.model.finished_job_ids())

    def copy_hash(self) -> None:
        hashes = [r.sha3_256 for r in self.selected_rows() if r.sha3_256]
        if not hashes and self.detail_panel.details and self.detail_panel.details.sha3_256:
            hashes = [self.detail_panel.details.sha3_256]
        if hashes:
            QGuiApplication.clipboard().setText("\n".join(hashes))
            self.statusBar().showMessage(self.tr("Copied {n} hash(es)").format(n=len(hashes)), 4000)

    def reveal_selected(self) -> None:
        for row in self.selected_rows()[:1]:
            if row.path:
                QDesktopServices.openUrl(QUrl.fromLocalFile(os.path.dirname(row.path)))

    def _update_actions(self) -> None:
        actions.update_enabled(self)

    # ---- engine updates ------------------------------------------------------------------------
    @Slot(list)
    def on_updates(self, updates: list) -> None:
        self.model.apply_updates(updates)
        shown = self._details_job
        for update in updates:
            if update.job_id == shown and not self._progress_only(update):
                self._reload_details()
            if update.job_id in self._report_jobs and update.state in ("done", "failed"):
                self._report_finished(update.job_id)
        self._update_actions()
        self._check_batch_confirmed()
        if self._restart_when_idle and self.model.active_count() == 0:
            self._restart_services()

    def _progress_only(self, update) -> bool:
        """Hashing progress of the shown job: the once-a-second status tick shows it, no history
        read needed (it would be ten a second for as long as a big file hashes)."""
        details = self.detail_panel.details
        return (update.state == "hashing" and details is not None and details.job_id == update.job_id
                and details.state == "hashing")

    def _rows_changed(self, *args) -> None:
        empty = self.model.rowCount() == 0
        self.queue_stack.setCurrentWidget(self.empty_queue if empty else self.queue_view)
        if not empty and not self.queue_view.selectionModel().currentIndex().isValid():
            self.queue_view.selectionModel().setCurrentIndex(
                self.model.index(0, 0),
                QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows)
        self._update_actions()

    def _check_batch_confirmed(self) -> None:
        confirmed = self.model.confirmed_since_idle
        if confirmed and self.model.active_count("stamp") == 0:
            self.model.confirmed_since_idle = 0
            text = (self.tr("1 file is now anchored on the Minima blockchain.") if confirmed == 1 else
                    self.tr("{n} files are now anchored on the Minima blockchain.").format(n=confirmed))
            if self.services.trial:
                text += " " + self.tr("(Sandbox: not a real blockchain.)")
            self.notify(self.tr("Stamps confirmed"), text)
            self.batch_confirmed.emit(confirmed)

    def notify(self, title: str, text: str) -> None:
        self.notifications.append((title, text))
        self.statusBar().showMessage(f"{title}: {text}", 10000)
        if self.tray is not None and self.settings.notifications:
            self.tray.showMessage(title, text, QSystemTrayIcon.MessageIcon.Information, 8000)

    def _tick(self) -> None:
        self.model.tick_pending()
        self._refresh_totals()
        details = self.detail_panel.details
        if details is not None:
            row = self.model.row_for_job(details.job_id)
            if row is not None and row.state == details.state:
                self.detail_panel.update_status(row.state, row.status())

    def _refresh_totals(self) -> None:
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
            parts = [self.tr("Hashing {n} file(s): {done} of {total}").format(
                n=hashing, done=st.human_size(done), total=st.human_size(total))]
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
        self._update_actions()

    def _reload_details(self) -> None:
        """Read the shown job from the history off the GUI thread (one read at a time)."""
        if self._details_loading:
            self._details_again = True
            return
        job_id = self._details_job
        if job_id is None:
            return
        self._details_loading = True
        history = self.services.history

        def done(details) -> None:
            self._details_loading = False
            if self._details_job == job_id and details is not None:
                row = self.model.row_for_job(job_id)
                status = row.status() if row is not None else details.state
                self.detail_panel.set_details(details, status)
                self._update_actions()
                self.details_shown.emit(job_id)
            if self._details_again or self._details_job != job_id:
                self._details_again = False
                self._reload_details()

        def failed(exc) -> None:
            self._details_loading = False
            self._background_error(exc)

        self.tasks.run(lambda: load_job_details(history, job_id), on_done=done, on_error=failed)

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
        self.statusBar().showMessage(self.tr("Asking Integritas for its PDF report\u2026"), 5000)

        def asked(ids) -> None:
            ids = ids if isinstance(ids, list) else [ids]
            for new_id in ids:
                self._report_jobs[new_id] = job_id
            if ids:
                QTimer.singleShot(150, self, lambda: self.select_job(ids[0]))  # not after close

        if path:
            self.bridge.add_files("verify", [path], report=True,
                                  send_file_details=bool(self.settings.send_file_details),
                                  on_done=asked, on_error=self._background_error)
        else:
            self.bridge.add_hash("verify", sha3, report=True, on_done=asked, on_error=self._background_error)

    def _report_finished(self, job_id: int) -> None:
        self._report_jobs.pop(job_id, None)
        history = self.services.history

        def done(details) -> None:
            if details is None:
                return
            if details.report_path:
                self.statusBar().showMessage(
                    self.tr("PDF report ready: {path}. Open or save it from the panel.").format(
                        path=details.report_path), 15000)
                self.select_job(job_id)
                self.report_ready.emit(job_id, details.report_path)
            else:
                self.statusBar().showMessage(details.error or self.tr("No report came back."), 15000)

        self.tasks.run(lambda: load_job_details(history, job_id), on_done=done,
                       on_error=self._background_error)

    def save_report_as(self, report_path: str, dest: str | None = None) -> str | None:
        details = self.detail_panel.details
        if dest is None:
            folder = self.settings.extra.get(REPORT_DIR_KEY) or str(Path.home())
            dest, _ = QFileDialog.getSaveFileName(
                self, self.tr("Save the PDF report"), os.path.join(folder, os.path.basename(report_path)),
                self.tr("PDF files (*.pdf)"))
        if not dest:
            return None
        try:
            if os.path.abspath(dest) != os.path.abspath(report_path):
                shutil.copyfile(report_path, dest)
        except OSError as exc:
            self.statusBar().showMessage(self.tr("Could not save the report: {error}").format(
                error=exc.strerror or exc), 10000)
            return None
        self._remember_dir(REPORT_DIR_KEY, os.path.dirname(dest))
        if details is not None and details.report_path == report_path:
            self.bridge.set_report_path(details.job_id, dest, on_done=lambda _: self._reload_details(),
                                        on_error=self._background_error)
        self.statusBar().showMessage(self.tr("Report saved to {path}").format(path=dest), 8000)
        return dest

    def save_certificate(self, job_id: int, dest: str | None = None) -> None:
        from integritas_gui.core.certificate import certificate_for_job

        details = self.detail_panel.details
        if dest is None:
            base = os.path.splitext(details.name if details and details.name else "certificate")[0]
            folder = self.settings.extra.get(REPORT_DIR_KEY) or str(Path.home())
            dest, _ = QFileDialog.getSaveFileName(
                self, self.tr("Save the certificate"), os.path.join(folder, base + "-certificate.pdf"),
                self.tr("PDF files (*.pdf)"))
        if not dest:
            return
        self._remember_dir(REPORT_DIR_KEY, os.path.dirname(dest))
        history = self.services.history
        self.tasks.run(
            lambda: certificate_for_job(history, job_id, dest),
            on_done=lambda path: self.statusBar().showMessage(
                self.tr("Certificate saved to {path}").format(path=path), 10000),
            on_error=self._background_error)

    # ---- settings, history, help ---------------------------------------------------------------
    def _save_settings(self) -> None:
        try:
            save_settings(self.settings, self.services.settings_path or self.services.dirs.settings_file)
        except OSError as exc:
            self.statusBar().showMessage(self.tr("Settings could not be saved: {error}").format(error=exc), 8000)

    def _mode_changed(self, button, checked: bool) -> None:
        if checked and self.settings.drop_action != self.drop_kind:
            self.settings.drop_action = self.drop_kind
            self._save_settings()

    def _stamp_with_changed(self, index: int) -> None:
        before = self._service_signature()
        self.settings.stamp_with = self.stamp_with_combo.currentData()
        self._save_settings()
        self._settings_changed(before)

    def _privacy_toggled(self, checked: bool) -> None:
        self.settings.send_file_details = bool(checked)
        self._save_settings()

    def show_settings(self) -> None:
        from integritas_gui.gui.settings_dialog import SettingsDialog

        before = self._service_signature()
        sandbox_url = self.services.sandbox.base_url if self.services.sandbox is not None else None
        dialog = SettingsDialog(self.settings, self.services.secrets, self,
                                settings_path=self.services.settings_path, sandbox_url=sandbox_url)
        dialog.settingsChanged.connect(lambda _: self._settings_changed(before))
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        self.settings_dialog = dialog

    def show_first_run(self) -> None:
        from integritas_gui.gui.first_run import FirstRunDialog

        before = self._service_signature()
        dialog = FirstRunDialog(self.settings, self.services.secrets, self,
                                settings_path=self.services.settings_path)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(lambda: self._settings_changed(before))
        dialog.open()
        self.first_run_dialog = dialog

    def offer_first_run(self) -> None:
        if not self.settings.first_run_done and not self.force_sandbox and self.services.trial:
            QTimer.singleShot(0, self.show_first_run)

    def _service_signature(self) -> tuple:
        s = self.settings
        key = self.services.secrets.get_api_key()
        from integritas_gui.core.secrets import NodePasswordStore

        node_password = NodePasswordStore(self.services.dirs.config).get_password()
        return (s.base_url, key, s.hash_workers, s.segment_size, s.write_sidecar_receipts, s.proxy,
                s.request_timeout, s.stamp_with, s.node_url, s.node_confirmations, node_password)

    def _settings_changed(self, before: tuple) -> None:
        self.privacy_box.blockSignals(True)
        self.privacy_box.setChecked(bool(self.settings.send_file_details))
        self.privacy_box.blockSignals(False)
        self.stamp_with_combo.blockSignals(True)
        self.stamp_with_combo.setCurrentIndex(max(0, self.stamp_with_combo.findData(self.settings.stamp_with)))
        self.stamp_with_combo.blockSignals(False)
        if self._service_signature() == before:
            return
        if self.model.active_count() == 0:
            self._restart_services()
        else:
            self._restart_when_idle = True
            self.statusBar().showMessage(self.tr(
                "The new service settings apply once the files in the queue are finished."), 10000)

    def _restart_services(self, *, force_sandbox: bool = False) -> None:
        """Stop the engine (and sandbox), start them again with the current settings."""
        from dataclasses import replace

        from integritas_gui.session import open_window_session

        self._restart_when_idle = False
        old = self.services
        old.shutdown()
        try:
            # --sandbox, or the sandbox meanwhile (until the service settings work)
            overrides = replace(old.overrides, force_sandbox=self.force_sandbox or force_sandbox)
            self.services = open_window_session(old.dirs, self.settings, old.secrets, overrides=overrides,
                                                settings_path=old.settings_path)
        except Exception as exc:
            log.exception("Could not restart the services")
            self.statusBar().showMessage(self.tr("Could not connect with the new settings: {error}").format(
                error=getattr(exc, "message", None) or exc), 15000)
            self.services = open_window_session(old.dirs, self.settings, old.secrets,
                                                overrides=replace(old.overrides, force_sandbox=True),
                                                settings_path=old.settings_path)
        self.bridge = self._start_engine(self.services)
        self._apply_trial_state()
        self.services_changed.emit()
        if not force_sandbox:  # else the message saying why stays
            self.statusBar().showMessage(
                self.tr("Now using the sandbox.") if self.services.trial else
                self.tr("Now using {url}.").format(url=self.services.base_url), 8000)

    def _start_engine(self, services) -> EngineBridge:
        """Start the engine process for ``services``; it lives in ``services.engine``."""
        bridge = EngineBridge(services.engine_config, self)
        bridge.updates.connect(self.on_updates)
        bridge.state_changed.connect(self._engine_state_changed)
        services.engine = bridge
        return bridge

    def _engine_state_changed(self, state: str, text: str) -> None:
        bridge = self.bridge
        if state == "failed" and bridge.fatal and not bridge.ever_ready and not self.services.trial:
            # The service settings do not work (an address the client refuses): the sandbox meanwhile.
            text = self.tr("Could not connect with the new settings: {error} Using the sandbox until "
                           "the service is corrected in Settings.").format(error=bridge.fatal)
            QTimer.singleShot(0, self, lambda: self._restart_services(force_sandbox=True))
        if text:
            log.info("Engine %s: %s", state, text)
            self.engine_notices.append((state, text))
            self.statusBar().showMessage(text, 0 if state != "ready" else 15000)

    def show_history(self) -> None:
        from integritas_gui.gui.history_view import HistoryView

        if self.history_view is None:
            self.history_view = HistoryView(self.services, self.tabs)
            self.tabs.addTab(self.history_view, self.tr("History"))
        self.tabs.setCurrentWidget(self.history_view)

    def open_log_folder(self) -> None:
        folder = os.path.dirname(self.log_path) if self.log_path else str(self.services.dirs.logs)
        QDesktopServices.openUrl(QUrl.fromLocalFile(folder))

    def show_about(self) -> None:
        mode = (self.tr("Trial mode: the local sandbox, not a real blockchain.") if self.services.trial
                else self.tr("Service: {url}").format(url=self.services.base_url))
        QMessageBox.about(self, self.tr("About {app}").format(app=APP_NAME), self.tr(
            "<h3>{app} {version}</h3><p>Timestamp files on the Minima blockchain through Integritas, "
            "and verify them later. Only each file's SHA3-256 fingerprint leaves this computer.</p>"
            "<p>{mode}</p>").format(app=APP_NAME, version=__version__, mode=mode))

    # ---- start and stop ------------------------------------------------------------------------
    def resume_unfinished(self) -> None:
        """What the last session left unfinished goes on (its rows come back as updates)."""
        self.bridge.resume(on_error=self._background_error)

    def closeEvent(self, event) -> None:
        self._closing = True
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Stop timers and background work; quitting leaves unfinished jobs to resume next time."""
        self._ticker.stop()
        self.tasks.close(10000)
        if self.tray is not None:
            self.tray.hide()
        self.services.shutdown()
