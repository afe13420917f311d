"""The window's actions and menus: what each command is called, its shortcut, where it is listed."""

from __future__ import annotations

import os

from PySide6.QtCore import QUrl
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence
from PySide6.QtWidgets import QMenu, QMessageBox

from integritas_gui import APP_NAME, __version__
from integritas_gui.gui import status_text as st


def _action(window, text: str, slot, shortcut=None, tip: str | None = None) -> QAction:
    action = QAction(text, window)
    if shortcut is not None:
        action.setShortcut(QKeySequence(shortcut))
    if tip:
        action.setStatusTip(tip)
        action.setToolTip(tip)
    action.triggered.connect(lambda checked=False: slot())
    window.addAction(action)
    return action


def build_actions(window) -> None:
    """Every action of the window, as ``window.act_*`` (shortcuts work without the menus)."""
    tr = window.tr
    key = QKeySequence.StandardKey
    page = window.queue_page
    window.act_open_files = _action(window, tr("&Open files\u2026"), page.open_files, key.Open,
                                    tr("Add files to the queue"))
    window.act_open_folder = _action(window, tr("Open &folder\u2026"), page.open_folder, "Ctrl+Shift+O",
                                     tr("Add every file in a folder to the queue"))
    window.act_quit = _action(window, tr("&Quit"), window.close, key.Quit)
    window.act_paste = _action(window, tr("&Paste paths or hashes"), page.paste_paths, key.Paste,
                               tr("Add the file paths (or check the hashes) on the clipboard"))
    window.act_copy_hash = _action(window, tr("&Copy hash"), page.copy_hash, key.Copy,
                                   tr("Copy the SHA3-256 hash of the selected files"))
    window.act_stamp = _action(window, tr("&Stamp\u2026"), lambda: page.run_action("stamp"), "Ctrl+T",
                               tr("Stamp the selected files, or choose files to stamp"))
    window.act_verify = _action(window, tr("&Verify\u2026"), lambda: page.run_action("verify"), "Ctrl+E",
                                tr("Verify the selected files, or choose files to verify"))
    window.act_check = _action(window, tr("C&heck\u2026"), lambda: page.run_action("check"), "Ctrl+K",
                               tr("Check the selected files, or choose files to check"))
    window.act_check_hash = _action(window, tr("Check a &hash\u2026"), page.check_hash_dialog, "Ctrl+Shift+K",
                                    tr("Ask whether a SHA3-256 hash is on chain"))
    window.act_verify_hash = _action(window, tr("Verify a hash\u2026"), page.verify_hash_dialog, None,
                                     tr("Verify a SHA3-256 hash and list its on-chain records"))
    window.act_cancel = _action(window, tr("&Cancel selected"), page.cancel_selected, "Esc")
    window.act_cancel_all = _action(window, tr("Cancel &all"), page.cancel_all)
    window.act_retry = _action(window, tr("&Retry selected"), page.retry_selected, "Ctrl+R")
    window.act_remove = _action(window, tr("Re&move selected"), page.remove_selected, key.Delete)
    window.act_clear = _action(window, tr("Clear &finished"), page.clear_finished, "Ctrl+Shift+L")
    window.act_reveal = _action(window, tr("Show in &folder"), page.reveal_selected)
    window.act_queue = _action(window, tr("&Queue"), window.show_queue, "Ctrl+1",
                               tr("The files being stamped, checked or verified now"))
    window.act_history = _action(window, tr("&History"), window.show_history, "Ctrl+2",
                                 tr("Every stamp, check and verification so far"))
    window.act_history.setShortcuts([QKeySequence("Ctrl+2"), QKeySequence("Ctrl+H")])
    window.act_watched = _action(window, tr("&Watched folders"), window.show_watched, "Ctrl+3",
                                 tr("Folders whose new and changed files are stamped"))
    window.act_settings = _action(window, tr("&Settings\u2026"), window.show_settings, key.Preferences)
    if window.act_settings.shortcut().isEmpty():
        window.act_settings.setShortcut(QKeySequence("Ctrl+,"))
    window.act_welcome = _action(window, tr("&Welcome screen\u2026"), window.show_first_run)
    window.act_log = _action(window, tr("Open &log folder"), lambda: open_log_folder(window))
    window.act_about = _action(window, tr("&About {app}").format(app=APP_NAME), lambda: show_about(window))


def build_menus(window) -> None:
    tr = window.tr
    bar = window.menuBar()
    file_menu = bar.addMenu(tr("&File"))
    file_menu.addActions([window.act_open_files, window.act_open_folder])
    file_menu.addSeparator()
    file_menu.addAction(window.act_quit)
    edit_menu = bar.addMenu(tr("&Edit"))
    edit_menu.addActions([window.act_paste, window.act_copy_hash])
    actions_menu = bar.addMenu(tr("&Actions"))
    actions_menu.addActions([window.act_stamp, window.act_verify, window.act_check])
    actions_menu.addSeparator()
    actions_menu.addActions([window.act_check_hash, window.act_verify_hash])
    actions_menu.addSeparator()
    actions_menu.addActions([window.act_cancel, window.act_cancel_all, window.act_retry, window.act_remove,
                             window.act_clear, window.act_reveal])
    view_menu = bar.addMenu(tr("&View"))
    view_menu.addActions([window.act_queue, window.act_history, window.act_watched])
    settings_menu = bar.addMenu(tr("&Settings"))
    settings_menu.addAction(window.act_settings)
    help_menu = bar.addMenu(tr("&Help"))
    help_menu.addActions([window.act_welcome, window.act_log])
    help_menu.addSeparator()
    help_menu.addAction(window.act_about)


def open_log_folder(window) -> None:
    folder = os.path.dirname(window.log_path) if window.log_path else str(window.services.dirs.logs)
    QDesktopServices.openUrl(QUrl.fromLocalFile(folder))


def show_about(window) -> None:
    tr = window.tr
    services = window.services
    mode = (tr("Trial mode: the local sandbox, not a real blockchain.") if services.trial
            else tr("Service: {url}").format(url=services.base_url))
    QMessageBox.about(window, tr("About {app}").format(app=APP_NAME), tr(
        "<h3>{app} {version}</h3><p>Timestamp files on the Minima blockchain through Integritas, "
        "and verify them later. Only each file's SHA3-256 fingerprint leaves this computer.</p>"
        "<p>{mode}</p>").format(app=APP_NAME, version=__version__, mode=mode))


def popup_queue_menu(window, position) -> None:
    """The queue's context menu at ``position`` (viewport coordinates)."""
    menu = QMenu(window)
    menu.addActions([window.act_stamp, window.act_verify, window.act_check])
    menu.addSeparator()
    menu.addActions([window.act_copy_hash, window.act_reveal])
    menu.addSeparator()
    menu.addActions([window.act_cancel, window.act_retry, window.act_remove])
    menu.popup(window.queue_page.queue_view.viewport().mapToGlobal(position))


def update_enabled(window) -> None:
    """Enable the actions (and the queue's buttons) that apply to the selected rows."""
    page, model = window.queue_page, window.model
    rows = page.selected_rows()
    states = {r.state for r in rows}
    window.act_cancel.setEnabled(bool(states & st.ACTIVE_STATES))
    page.cancel_button.setEnabled(window.act_cancel.isEnabled())
    window.act_retry.setEnabled(bool(states & {"failed", "cancelled"}))
    page.retry_button.setEnabled(window.act_retry.isEnabled())
    window.act_remove.setEnabled(bool(rows))
    page.remove_button.setEnabled(bool(rows))
    details = page.detail_panel.details
    window.act_copy_hash.setEnabled(any(r.sha3_256 for r in rows) or bool(details and details.sha3_256))
    window.act_reveal.setEnabled(any(r.path for r in rows))
    finished = model.count_in(st.FINISHED_STATES) - model.count_in(("failed",))
    page.clear_button.setEnabled(finished > 0)
    window.act_clear.setEnabled(finished > 0)
    window.act_cancel_all.setEnabled(model.active_count() > 0)
