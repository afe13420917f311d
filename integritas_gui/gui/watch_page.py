"""The Watched folders tab: the folders the engine watches, their state, and add, pause, remove.

The watching runs in the engine process (engine_process ``watch_*`` commands); this page only shows
the folders as the engine reports them (``folder`` events and command replies) and sends it what
the user asks for. It never walks, hashes or writes the history.
"""

from __future__ import annotations

import logging
import shlex
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView, QCheckBox, QDialog, QDialogButtonBox, QFileDialog, QFormLayout, QHBoxLayout,
    QHeaderView, QLabel, QLineEdit, QPushButton, QTableView, QVBoxLayout, QWidget,
)

log = logging.getLogger(__name__)

# watch_start's options (seconds a file must hold still, how often the stored list is re-read);
# None: the engine's defaults.
WATCH_OPTIONS: dict[str, float | None] = {"settle": None, "poll": None}

COLUMNS = ("Folder", "Which files", "State", "Message")


def state_text(state: str) -> str:
    return {"watching": "Watching", "paused": "Paused", "missing": "\u26a0 Missing",
            "unreadable": "\u26a0 Cannot be read"}.get(state, "Starting")


def patterns_text(patterns) -> str:
    return " ".join(shlex.quote(p) if any(c.isspace() for c in p) else p for p in patterns)


def parse_patterns(text: str) -> list[str]:
    """Globs separated by spaces or commas (quote one that holds a space)."""
    try:
        words = shlex.split(text.replace(",", " "))
    except ValueError:  # an unclosed quote: take the words as they are
        words = text.replace(",", " ").split()
    return [w for w in words if w]


def options_text(folder: dict) -> str:
    parts = ["all subfolders" if folder.get("recursive") else "this folder only"]
    if folder.get("include"):
        parts.append("only " + patterns_text(folder["include"]))
    if folder.get("exclude"):
        parts.append("not " + patterns_text(folder["exclude"]))
    if folder.get("hidden"):
        parts.append("hidden files too")
    if not folder.get("restamp_changed", True):
        parts.append("each file stamped once")
    return ", ".join(parts)


class WatchModel(QAbstractTableModel):
    """The watched folders, one row each, in the order they were added."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self._folders: list[dict] = []

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._folders)

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.tr(COLUMNS[section])
        return None

    def data(self, index, role=Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        folder = self._folders[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if column == 0:
                return folder["path"]
            if column == 1:
                return self.tr(options_text(folder))
            if column == 2:
                return self.tr(state_text(folder["state"]))
            return folder.get("message") or ""
        if role == Qt.ItemDataRole.ToolTipRole:
            return folder.get("message") or folder["path"]
        if role == Qt.ItemDataRole.UserRole:
            return folder
        return None

    def folders(self) -> list[dict]:
        return list(self._folders)

    def folder(self, row: int) -> dict:
        return self._folders[row]

    def set_folders(self, folders: list[dict]) -> None:
        self.beginResetModel()
        self._folders = sorted(folders, key=lambda f: f["id"])
        self.endResetModel()

    def upsert(self, folder: dict) -> None:
        for row, known in enumerate(self._folders):
            if known["id"] == folder["id"]:
                self._folders[row] = folder
                self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))
                return
        row = len(self._folders)
        self.beginInsertRows(QModelIndex(), row, row)
        self._folders.append(folder)
        self.endInsertRows()

    def remove(self, folder_id: int) -> None:
        for row, known in enumerate(self._folders):
            if known["id"] == folder_id:
                self.beginRemoveRows(QModelIndex(), row, row)
                del self._folders[row]
                self.endRemoveRows()
                return


class WatchFolderDialog(QDialog):
    """Which folder to watch and how: subfolders, include and exclude globs, hidden files."""

    def __init__(self, parent=None, folder: str = ""):
        super().__init__(parent)
        self.setWindowTitle(self.tr("Watch a folder"))
        form = QFormLayout()
        self.path_edit = QLineEdit(folder, self)
        browse = QPushButton(self.tr("Choose\u2026"), self)
        browse.clicked.connect(self.choose)
        row = QHBoxLayout()
        row.addWidget(self.path_edit, 1)
        row.addWidget(browse)
        form.addRow(self.tr("&Folder:"), row)
        self.recursive_box = QCheckBox(self.tr("Include &subfolders"), self)
        self.recursive_box.setChecked(True)
        form.addRow("", self.recursive_box)
        self.include_edit = QLineEdit(self)
        self.include_edit.setPlaceholderText(self.tr("all files, or e.g. *.pdf *.docx"))
        form.addRow(self.tr("&Only files matching:"), self.include_edit)
        self.exclude_edit = QLineEdit(self)
        self.exclude_edit.setPlaceholderText(self.tr("e.g. *.log drafts/*"))
        form.addRow(self.tr("&Leave out:"), self.exclude_edit)
        self.hidden_box = QCheckBox(self.tr("Stamp &hidden files too"), self)
        form.addRow("", self.hidden_box)
        self.restamp_box = QCheckBox(self.tr("Stamp a &changed file again (its history keeps both stamps)"), self)
        self.restamp_box.setChecked(True)
        form.addRow("", self.restamp_box)
        note = QLabel(self.tr("New files are stamped once they have stopped changing for a few seconds. "
                              "A content stamped before is never stamped twice."), self)
        note.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel,
                                   self)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText(self.tr("Watch"))
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addWidget(buttons)

    def choose(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, self.tr("Folder to watch"), self.path_edit.text())
        if folder:
            self.path_edit.setText(folder)

    def values(self) -> dict:
        return {"path": self.path_edit.text().strip(), "recursive": self.recursive_box.isChecked(),
                "include": parse_patterns(self.include_edit.text()),
                "exclude": parse_patterns(self.exclude_edit.text()), "hidden": self.hidden_box.isChecked(),
                "restamp_changed": self.restamp_box.isChecked()}


class WatchPage(QWidget):
    """The tab. ``window`` gives the engine (``window.bridge``) and the status bar."""

    folders_changed = Signal()
    folder_seen = Signal(dict)  # a folder event from the engine (state or message changed)

    def __init__(self, window, parent=None):
        super().__init__(parent)
        self.window = window
        self.setObjectName("watchPage")
        self.model = WatchModel(self)
        self.view = QTableView(self)
        self.view.setObjectName("watchTable")
        self.view.setModel(self.model)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.verticalHeader().hide()
        self.view.setWordWrap(True)  # a folder's message is read whole, not cut off
        self.view.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.view.verticalHeader().setMinimumSectionSize(self.fontMetrics().height() * 2)
        header = self.view.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        header.resizeSection(0, 420)
        header.resizeSection(1, 260)
        header.resizeSection(2, 110)
        header.setStretchLastSection(True)
        self.view.setAccessibleName(self.tr("Watched folders"))
        self.add_button = QPushButton(self.tr("&Watch a folder\u2026"), self)
        self.pause_button = QPushButton(self.tr("&Pause"), self)
        self.remove_button = QPushButton(self.tr("Stop &watching"), self)
        self.add_button.clicked.connect(self.open_add_dialog)
        self.pause_button.clicked.connect(self.toggle_pause)
        self.remove_button.clicked.connect(self.remove_selected)
        self.empty_label = QLabel(self.tr(
            "No watched folders. Watch a folder, and every new or changed file in it is stamped, also "
            "while this window is closed."), self)
        self.empty_label.setWordWrap(True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.pause_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 6, 0, 0)
        layout.addLayout(buttons)
        layout.addWidget(self.empty_label)
        layout.addWidget(self.view, 1)
        self.view.selectionModel().selectionChanged.connect(self.update_buttons)
        self.model.modelReset.connect(self.update_buttons)
        self.model.rowsInserted.connect(self.update_buttons)
        self.model.rowsRemoved.connect(self.update_buttons)
        self.model.dataChanged.connect(self.update_buttons)
        self.update_buttons()

    # ---- the engine's side ---------------------------------------------------------------------
    def connect_engine(self, bridge) -> None:
        """A (new) engine: follow its folder events and let it watch the stored folders."""
        bridge.folder_changed.connect(self.folder_changed)
        bridge.watch_start(**WATCH_OPTIONS, on_done=self.set_folders, on_error=self.window.show_error)

    def set_folders(self, folders: list[dict]) -> None:
        self.model.set_folders(folders)
        self.folders_changed.emit()

    def folder_changed(self, folder: dict) -> None:
        self.model.upsert(folder)
        self.folder_seen.emit(folder)
        self.folders_changed.emit()

    def _removed(self, folder: dict) -> None:
        self.model.remove(folder["id"])
        self.folders_changed.emit()

    # ---- what the user asks for ----------------------------------------------------------------
    def open_add_dialog(self) -> WatchFolderDialog:
        dialog = WatchFolderDialog(self, self.window.settings.extra.get("last_watch_dir", ""))
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(lambda: self.add_folder(**dialog.values()))
        dialog.open()
        self.dialog = dialog
        return dialog

    def add_folder(self, path: str, *, recursive: bool = True, include=(), exclude=(), hidden: bool = False,
                   restamp_changed: bool = True) -> None:
        if not path:
            self.window.statusBar().showMessage(self.tr("Choose a folder to watch first."), 8000)
            return
        self.window.remember_dir("last_watch_dir", path)
        self.window.bridge.watch_add(path, recursive=recursive, include=include, exclude=exclude, hidden=hidden,
                                     restamp_changed=restamp_changed, on_done=self.folder_changed,
                                     on_error=self.window.show_error)

    def selected_folder(self) -> dict | None:
        rows = self.view.selectionModel().selectedRows()
        return self.model.folder(rows[0].row()) if rows else None

    def select_path(self, path: str) -> bool:
        for row, folder in enumerate(self.model.folders()):
            if folder["path"] == path:
                self.view.selectRow(row)
                return True
        return False

    def toggle_pause(self) -> None:
        folder = self.selected_folder()
        if folder is not None:
            self.window.bridge.watch_pause(folder["path"], not folder["paused"], on_done=self.folder_changed,
                                           on_error=self.window.show_error)

    def remove_selected(self) -> None:
        folder = self.selected_folder()
        if folder is not None:
            self.window.bridge.watch_remove(folder["path"], on_done=self._removed,
                                            on_error=self.window.show_error)

    def update_buttons(self, *_) -> None:
        folder = self.selected_folder()
        self.pause_button.setEnabled(folder is not None)
        self.remove_button.setEnabled(folder is not None)
        self.pause_button.setText(self.tr("&Resume") if folder and folder["paused"] else self.tr("&Pause"))
        empty = self.model.rowCount() == 0
        self.empty_label.setVisible(empty)

    # ---- for the tray and the status bar -------------------------------------------------------
    def watching_count(self) -> int:
        return sum(1 for f in self.model.folders() if f["state"] == "watching")

    def problems(self) -> list[dict]:
        return [f for f in self.model.folders() if f["state"] in ("missing", "unreadable")]
