"""The QApplication: names, icon, style, and the optional dark palette."""

from __future__ import annotations

import os
from importlib import resources

from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from integritas_gui import APP_ID, APP_NAME, __version__

DARK_ENV = "INTEGRITAS_DARK"  # "1": use the app's own dark palette whatever the desktop says


def app_icon() -> QIcon:
    icon = QIcon()
    folder = resources.files("integritas_gui") / "resources"
    for size in (16, 32, 64, 256):
        path = folder / f"icon-{size}.png"
        if path.is_file():
            icon.addFile(str(path))
    return icon


def create_application(argv: list[str]) -> QApplication:
    app = QApplication(argv)
    app.setApplicationName(APP_NAME)
    app.setApplicationDisplayName(APP_NAME)
    app.setApplicationVersion(__version__)
    app.setOrganizationName("Integritas")
    app.setDesktopFileName(APP_ID)
    app.setWindowIcon(app_icon())
    app.setStyle("Fusion")  # the same look (and the same palette handling) on every platform
    if os.environ.get(DARK_ENV) == "1":
        from integritas_gui.gui.theme import dark_palette

        app.setPalette(dark_palette())
    return app
