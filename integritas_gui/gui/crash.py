"""The crash handler: every uncaught exception is logged; the GUI thread shows a dialog with
copyable details, once per distinct crash. Secrets are scrubbed from what is shown and logged."""

from __future__ import annotations

import logging
import sys
import threading
import traceback

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QDialog, QDialogButtonBox, QLabel, QPlainTextEdit, QPushButton, QVBoxLayout, QWidget,
)

from integritas_gui import APP_NAME, __version__
from integritas_gui.core.logsetup import redact

log = logging.getLogger("integritas_gui.crash")


def crash_key(exc_type, tb) -> str:
    """Two crashes are 'the same' when the type and the innermost frame match."""
    frames = traceback.extract_tb(tb) if tb else []
    where = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "?"
    return f"{getattr(exc_type, '__name__', exc_type)}@{where}"


def crash_details(exc_type, exc, tb, thread_name: str | None = None) -> str:
    import platform

    from PySide6 import __version__ as pyside_version

    lines = [
        f"{APP_NAME} {__version__}",
        f"Python {platform.python_version()}, PySide6 {pyside_version}, {platform.platform()}",
    ]
    if thread_name:
        lines.append(f"Thread: {thread_name}")
    lines.append("")
    lines.extend(traceback.format_exception(exc_type, exc, tb))
    return redact("\n".join(line.rstrip("\n") for line in lines))


class CrashDialog(QDialog):
    def __init__(self, details: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle(self.tr("{app} hit a problem").format(app=APP_NAME))
        self.setObjectName("crashDialog")
        layout = QVBoxLayout(self)
        intro = QLabel(self.tr(
            "Something went wrong inside the app. Your files and your history are safe. "
            "The details below are also in the log; please include them if you report this."), self)
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.details = QPlainTextEdit(details, self)
        self.details.setReadOnly(True)
        self.details.setAccessibleName(self.tr("Crash details"))
        self.details.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        layout.addWidget(self.details, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        copy = QPushButton(self.tr("Copy details"), self)
        copy.clicked.connect(lambda: QGuiApplication.clipboard().setText(self.details.toPlainText()))
        buttons.addButton(copy, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.resize(720, 420)


class CrashHandler(QObject):
    """Install with ``install()``; lives on the GUI thread so ``_show`` always runs there."""

    crashed = Signal(str, str)  # key, details

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._seen: set[str] = set()
        self._lock = threading.Lock()
        self.dialogs: list[CrashDialog] = []
        self.crashed.connect(self._show, Qt.ConnectionType.QueuedConnection)

    def install(self) -> None:
        sys.excepthook = self.handle
        threading.excepthook = lambda args: self.handle(
            args.exc_type, args.exc_value, args.exc_traceback, args.thread.name if args.thread else None)

    def handle(self, exc_type, exc, tb, thread_name: str | None = None) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)
            return
        details = crash_details(exc_type, exc, tb, thread_name)
        log.critical("Uncaught exception:\n%s", details)
        key = crash_key(exc_type, tb)
        with self._lock:
            if key in self._seen:
                return
            self._seen.add(key)
        self.crashed.emit(key, details)

    @Slot(str, str)
    def _show(self, key: str, details: str) -> None:
        dialog = CrashDialog(details, None)  # top-level: the window itself may be what broke
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.finished.connect(lambda _: self.dialogs.remove(dialog) if dialog in self.dialogs else None)
        self.dialogs.append(dialog)
        dialog.show()
