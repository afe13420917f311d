"""The tray: what the app is doing while its window is closed, and the way back to it.

``Tray`` keeps its tooltip, menu and notifications whether or not the platform has a system tray;
the ``QSystemTrayIcon`` itself exists only where ``QSystemTrayIcon.isSystemTrayAvailable()``. The
window stays in the tray on close (``keeps_running``) only where there is a tray to come back from.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction, QGuiApplication
from PySide6.QtWidgets import QMenu, QMessageBox, QSystemTrayIcon

from integritas_gui import APP_NAME

log = logging.getLogger(__name__)

PROBLEM_STATES = ("missing", "unreadable")


class Tray(QObject):
    quit_requested = Signal()

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.available = QSystemTrayIcon.isSystemTrayAvailable()
        self.messages: list[tuple[str, str]] = []  # (title, text) notified, newest last
        self.tooltip = APP_NAME
        self._states: dict[int, str] = {}  # folder id -> last state seen (problems are told once)
        self.menu = QMenu(window)
        self.show_action = QAction(self.tr("&Show window"), self)
        self.pause_action = QAction(self.tr("&Pause all watching"), self)
        self.quit_action = QAction(self.tr("&Quit"), self)
        self.show_action.triggered.connect(self.show_window)
        self.pause_action.triggered.connect(self.toggle_pause_all)
        self.quit_action.triggered.connect(self.quit_requested)
        for action in (self.show_action, self.pause_action, None, self.quit_action):
            self.menu.addSeparator() if action is None else self.menu.addAction(action)
        self.icon: QSystemTrayIcon | None = None
        if self.available:
            self.icon = QSystemTrayIcon(QGuiApplication.windowIcon(), self)
            self.icon.setContextMenu(self.menu)
            self.icon.activated.connect(self._activated)
            self.icon.show()
        self.refresh()

    # ---- what it shows -------------------------------------------------------------------------
    def status_text(self) -> str:
        page = self.window.watch_page
        parts = []
        watching = page.watching_count() if page is not None else 0
        if watching:
            parts.append(self.tr("Watching 1 folder") if watching == 1 else
                         self.tr("Watching {n} folders").format(n=watching))
        pending = self.window.model.active_count("stamp")
        if pending:
            parts.append(self.tr("1 stamp pending") if pending == 1 else
                         self.tr("{n} stamps pending").format(n=pending))
        problems = len(page.problems()) if page is not None else 0
        if problems:
            parts.append(self.tr("1 folder needs attention") if problems == 1 else
                         self.tr("{n} folders need attention").format(n=problems))
        return " \u00b7 ".join(parts) or self.tr("Idle")

    def refresh(self) -> None:
        self.tooltip = f"{APP_NAME}: {self.status_text()}"
        if self.icon is not None:
            self.icon.setToolTip(self.tooltip)
        folders = self.window.watch_page.model.folders() if self.window.watch_page is not None else []
        self.pause_action.setEnabled(bool(folders))
        self.pause_action.setText(self.tr("&Resume watching") if folders and all(f["paused"] for f in folders)
                                  else self.tr("&Pause all watching"))

    def notify(self, title: str, text: str, *, warning: bool = False) -> None:
        self.messages.append((title, text))
        if self.icon is not None and self.window.settings.notifications:
            icon = QSystemTrayIcon.MessageIcon.Warning if warning else QSystemTrayIcon.MessageIcon.Information
            self.icon.showMessage(title, text, icon, 8000)

    def folder_changed(self, folder: dict) -> None:
        """A folder that went missing or unreadable is told once, not at every poll."""
        before = self._states.get(folder["id"])
        self._states[folder["id"]] = folder["state"]
        if folder["state"] in PROBLEM_STATES and before != folder["state"]:
            self.notify(self.tr("Watched folder needs attention"), folder.get("message") or folder["path"],
                        warning=True)
        self.refresh()

    # ---- what it does --------------------------------------------------------------------------
    def _activated(self, reason) -> None:
        if reason in (QSystemTrayIcon.ActivationReason.Trigger, QSystemTrayIcon.ActivationReason.DoubleClick):
            self.show_window()

    def show_window(self) -> None:
        window = self.window
        window.showNormal()
        window.raise_()
        window.activateWindow()

    def toggle_pause_all(self) -> None:
        folders = self.window.watch_page.model.folders()
        pause = not all(f["paused"] for f in folders)
        for folder in folders:
            if folder["paused"] != pause:
                self.window.bridge.watch_pause(folder["path"], pause, on_done=self.window.watch_page.folder_changed,
                                               on_error=self.window.show_error)

    def busy(self) -> bool:
        """Folders watched or stamps pending: closing the window would stop real work."""
        page = self.window.watch_page
        return bool(page is not None and page.watching_count()) or self.window.model.active_count("stamp") > 0

    def keeps_running(self) -> bool:
        """Whether closing the window leaves the app in the tray. Asks once (the answer is saved)."""
        settings = self.window.settings
        if not self.available:
            return False
        if settings.close_to_tray is None:
            if not self.busy():
                return False
            settings.close_to_tray = self.ask()
            self.window._save_settings()
        return bool(settings.close_to_tray)

    def ask(self) -> bool:
        box = QMessageBox(QMessageBox.Icon.Question, APP_NAME, self.tr(
            "Keep running in the tray when the window is closed?"), parent=self.window)
        box.setInformativeText(self.tr(
            "Watched folders go on being stamped and pending stamps are followed. The tray icon brings "
            "the window back; Quit in its menu ends the app. You can change this in Settings."))
        keep = box.addButton(self.tr("Keep running"), QMessageBox.ButtonRole.AcceptRole)
        box.addButton(self.tr("Quit"), QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(keep)
        self.question = box
        box.exec()
        return box.clickedButton() is keep

    def hide(self) -> None:
        if self.icon is not None:
            self.icon.hide()
