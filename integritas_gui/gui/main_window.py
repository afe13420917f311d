"""The main window: frames the Queue and History tabs, the add bar, the status bar and the tray.

The engine runs in a child process (``EngineBridge``, started and restarted here); history reads run
on ``TaskRunner``'s threads. The window only shows state it receives as batched ``JobUpdate``s. The
Queue tab is ``queue_page``, the actions and menus ``actions``, the sandbox warning ``trial_banner``.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QEvent, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QApplication, QButtonGroup, QCheckBox, QHBoxLayout, QLabel, QMainWindow, QPushButton, QRadioButton,
    QTabWidget, QVBoxLayout, QWidget,
)

from integritas_gui import APP_NAME
from integritas_gui.core.settings import save_settings
from integritas_gui.gui import actions
from integritas_gui.gui import status_text as st
from integritas_gui.gui.adapter import EngineBridge, TaskRunner
from integritas_gui.gui.queue_model import QueueModel
from integritas_gui.gui.queue_page import KINDS, QueuePage, local_paths_from_urls
from integritas_gui.gui.trial_banner import TrialBanner

log = logging.getLogger(__name__)

NEW_WORK_STATES = frozenset({"queued", "hashing"})  # a job (re)starting: earlier summaries are stale



class MainWindow(QMainWindow):
    batch_confirmed = Signal(int)  # stamps confirmed in the batch that just finished
    report_ready = Signal(int, str)  # job id, downloaded report path
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
        self.watch_page = None  # built with the tabs; follows each engine started after it
        self.bridge = self._start_engine(services)
        self._restart_when_idle = False
        self._closing = False
        self._quitting = False
        self.history_view = None
        self._summary_shown: str | None = None  # the status bar's batch summary, until new work starts

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
        self._totals_timer.timeout.connect(self.queue_page.refresh_totals)
        self._totals_timer.timeout.connect(self.tray.refresh)
        self.model.totals_changed.connect(self._totals_timer.start)
        self.model.rowsInserted.connect(self.queue_page.rows_changed)
        self.model.rowsRemoved.connect(self.queue_page.rows_changed)
        self.model.modelReset.connect(self.queue_page.rows_changed)
        self._ticker = QTimer(self)
        self._ticker.setInterval(1000)
        self._ticker.timeout.connect(self.queue_page.tick)
        self._ticker.start()
        self.queue_page.refresh_totals()
        self.update_actions()
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
        self.queue_page.restyle()
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
        self.add_files_button.clicked.connect(lambda: self.queue_page.open_files())
        self.add_folder_button.clicked.connect(lambda: self.queue_page.open_folder())
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
        self.queue_page = QueuePage(self, self.model, self.tabs)
        self.tabs.addTab(self.queue_page, self.tr("Queue"))
        # The History tab is there from the start; its view is built when first shown.
        self.history_page = QWidget(self.tabs)
        self.history_page.setObjectName("historyPage")
        history_layout = QVBoxLayout(self.history_page)
        history_layout.setContentsMargins(0, 6, 0, 0)
        self.tabs.addTab(self.history_page, self.tr("History"))
        from integritas_gui.gui.watch_page import WatchPage

        self.watch_page = WatchPage(self, self.tabs)
        self.watch_page.connect_engine(self.bridge)
        self.tabs.addTab(self.watch_page, self.tr("Watched folders"))
        self.tabs.currentChanged.connect(self._tab_changed)
        outer.addWidget(self.tabs, 1)
        self.setCentralWidget(central)
        self.service_label = QLabel(self)
        self.statusBar().addPermanentWidget(self.service_label)

    def _build_tray(self) -> None:
        from integritas_gui.gui.tray import Tray

        self.tray = Tray(self)
        self.tray.quit_requested.connect(self.quit_app)
        self.watch_page.folder_seen.connect(self.tray.folder_changed)
        self.watch_page.folders_changed.connect(self.tray.refresh)

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
                              on_done=self._added, on_error=self.show_error)

    def _added(self, job_ids: list[int]) -> None:
        if len(job_ids) > 1:
            self.statusBar().showMessage(self.tr("Added {n} files to the queue.").format(n=len(job_ids)), 3000)
        if not job_ids:
            self.statusBar().showMessage(self.tr("Nothing to add: no files there."), 5000)

    def add_hash(self, kind: str, sha3: str, *, report: bool = False) -> None:
        self.bridge.add_hash(kind, sha3, report=report, on_error=self.show_error)

    def show_error(self, exc: BaseException) -> None:
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

    def remember_dir(self, key: str, folder: str) -> None:
        if folder and self.settings.extra.get(key) != folder:
            self.settings.extra[key] = folder
            self._save_settings()

    def update_actions(self) -> None:
        actions.update_enabled(self)

    # ---- engine updates ------------------------------------------------------------------------
    @Slot(list)
    def on_updates(self, updates: list) -> None:
        self.model.apply_updates(updates)
        self.queue_page.apply_updates(updates)
        if self._summary_shown and any(update.state in NEW_WORK_STATES for update in updates):
            self._drop_summary()
        self.update_actions()
        self._check_batch_confirmed()
        if self._restart_when_idle and self.model.active_count() == 0:
            self._restart_services()

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
        """A batch's outcome: in the status bar until new work starts (and in the tray)."""
        self.notifications.append((title, text))
        self._summary_shown = f"{title}: {text}"
        self.statusBar().showMessage(self._summary_shown, 10000)
        self.tray.notify(title, text)

    def _drop_summary(self) -> None:
        if self.statusBar().currentMessage() == self._summary_shown:
            self.statusBar().clearMessage()  # the queue's live progress speaks for the new work
        self._summary_shown = None

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
                                settings_path=self.services.settings_path, sandbox_url=sandbox_url,
                                engine=self.bridge)
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
        self._drop_history_view()
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
        if self.watch_page is not None:
            self.watch_page.connect_engine(bridge)
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

    def show_queue(self) -> None:
        self.tabs.setCurrentWidget(self.queue_page)

    def show_history(self) -> None:
        self.tabs.setCurrentWidget(self.history_page)

    def show_watched(self) -> None:
        self.tabs.setCurrentWidget(self.watch_page)

    def _tab_changed(self, index: int) -> None:
        if self.tabs.widget(index) is not self.history_page:
            return
        if self.history_view is None:
            from integritas_gui.gui.history_view import HistoryView

            self.history_view = HistoryView(self.services, self.history_page)
            self.history_view.layout().setContentsMargins(0, 0, 0, 0)  # lined up with the Queue tab
            self.history_page.layout().addWidget(self.history_view)
        else:
            self.history_view.refresh()  # what finished since it was last shown

    def _drop_history_view(self) -> None:
        """The history view reads the session's history store: a new session needs a new view."""
        if self.history_view is not None:
            self.history_view.deleteLater()
            self.history_view = None
            if self.tabs.currentWidget() is self.history_page:
                self._tab_changed(self.tabs.currentIndex())

    # ---- start and stop ------------------------------------------------------------------------
    def resume_unfinished(self) -> None:
        """What the last session left unfinished goes on (its rows come back as updates)."""
        self.bridge.resume(on_error=self.show_error)

    def closeEvent(self, event) -> None:
        if not self._quitting and self.tray.keeps_running():
            # The engine goes on (watching, following stamps); the tray brings the window back.
            event.ignore()
            QApplication.instance().setQuitOnLastWindowClosed(False)
            self.hide()
            return
        self._closing = True
        super().closeEvent(event)

    def start_in_background(self) -> None:
        """``--background`` (start at login): straight to the tray where there is one, else minimised."""
        if self.tray.available:
            QApplication.instance().setQuitOnLastWindowClosed(False)
            self.hide()
        else:
            self.showMinimized()

    def quit_app(self) -> None:
        """Quit for real (the tray's Quit): unfinished jobs stay resumable."""
        self._quitting = True
        self.close()
        QApplication.instance().quit()

    def shutdown(self) -> None:
        """Stop timers and background work; quitting leaves unfinished jobs to resume next time."""
        self._ticker.stop()
        self.tasks.close(10000)
        self.tray.hide()
        if getattr(self, "instance_server", None) is not None:  # set by __main__ (single_instance)
            self.instance_server.close()
        self.services.shutdown()
