"""First-run screen: try the local sandbox, or enter an Integritas API key.

Re-openable from the main window's menu. The caller reads ``choice`` after ``exec()``:
"sandbox" or "api_key" (None when the user closed the dialog).
"""

from __future__ import annotations

import logging

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QCheckBox,
    QCommandLinkButton,
    QDialog,
    QDialogButtonBox,
    QFrame,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from integritas_gui import APP_NAME
from integritas_gui.core.errors import IntegritasError
from integritas_gui.core.paths import app_dirs
from integritas_gui.core.settings import REAL_SERVICE_URL, SANDBOX_SERVICE, save_settings
from integritas_gui.gui.key_field import ApiKeyField

log = logging.getLogger(__name__)

KEYS_URL = "https://integritas.technology"
# Stored in Settings.base_url when the user picks the local sandbox (`integritas config` too).
SANDBOX_BASE_URL = SANDBOX_SERVICE


class FirstRunDialog(QDialog):
    def __init__(self, settings, secret_store, parent=None, *, settings_path=None):
        super().__init__(parent)
        self.settings = settings
        self.secret_store = secret_store
        self.settings_path = settings_path or app_dirs().settings_file
        self._choice: str | None = None

        self.setWindowTitle(self.tr("Welcome to %s") % APP_NAME)
        self.setObjectName("firstRunDialog")
        self.setModal(True)

        title = QLabel(self.tr("Welcome to %s") % APP_NAME)
        title_font = QFont(title.font())
        title_font.setPointSizeF(title_font.pointSizeF() * 1.5)
        title_font.setBold(True)
        title.setFont(title_font)
        intro = QLabel(
            self.tr(
                "Prove that a file existed, unchanged, at a point in time. Your files never leave "
                "this computer: only their fingerprint (a SHA3-256 hash) is sent."
            )
        )
        intro.setWordWrap(True)

        self.sandbox_button = QCommandLinkButton(
            self.tr("Try it now with the local sandbox"),
            self.tr(
                "A practice service running on this computer. No account needed; nothing is "
                "written to a real blockchain."
            ),
        )
        self.sandbox_button.setAccessibleName(self.tr("Try it now with the local sandbox"))
        self.sandbox_button.clicked.connect(self._choose_sandbox)

        self.api_key_button = QCommandLinkButton(
            self.tr("Use my Integritas API key"),
            self.tr("Stamp and verify on the Minima blockchain with your own account."),
        )
        self.api_key_button.setAccessibleName(self.tr("Use my Integritas API key"))
        self.api_key_button.setCheckable(True)
        self.api_key_button.toggled.connect(self._show_key_panel)

        self.key_panel = self._build_key_panel()
        self.key_panel.setVisible(False)

        self.button_box = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.button_box.button(QDialogButtonBox.StandardButton.Cancel).setText(self.tr("Later"))
        self.button_box.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(intro)
        layout.addSpacing(8)
        layout.addWidget(self.sandbox_button)
        layout.addWidget(self.api_key_button)
        layout.addWidget(self.key_panel)
        layout.addStretch(1)
        layout.addWidget(self.button_box)
        self.resize(520, self.sizeHint().height())

    def _build_key_panel(self) -> QWidget:
        panel = QFrame()
        panel.setFrameShape(QFrame.Shape.StyledPanel)
        box = QVBoxLayout(panel)

        self.keys_link = link = QLabel(
            self.tr(
                'Your API key is in your profile at <a href="{url}">integritas.technology</a>.'
            ).format(url=KEYS_URL)
        )
        link.setOpenExternalLinks(True)
        link.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        link.setWordWrap(True)
        link.setAccessibleName(self.tr("Where to get an API key"))

        self.key_field = ApiKeyField(self.tr("Paste your API key"))
        self.key_edit, self.show_key = self.key_field.edit, self.key_field.toggle
        self.key_edit.returnPressed.connect(self._choose_api_key)
        self.key_edit.textChanged.connect(lambda _text: self.key_error.clear())

        self.key_storage = QLabel()
        self.key_storage.setWordWrap(True)
        self.file_fallback = QCheckBox(self.tr("Keep the key in a file only I can read"))
        self.file_fallback.setAccessibleName(self.tr("Keep the key in a file only I can read"))
        self._describe_storage()

        self.key_error = QLabel()
        self.key_error.setWordWrap(True)
        self.key_error.setObjectName("keyError")

        self.continue_button = QCommandLinkButton(self.tr("Continue with this key"))
        self.continue_button.setAccessibleName(self.tr("Continue with this key"))
        self.continue_button.clicked.connect(self._choose_api_key)

        box.addWidget(link)
        box.addWidget(self.key_field)
        box.addWidget(self.key_storage)
        box.addWidget(self.file_fallback)
        box.addWidget(self.key_error)
        box.addWidget(self.continue_button)
        return panel

    def _describe_storage(self) -> None:
        store = self.secret_store
        if store.keyring_available or store.file_fallback_enabled:
            self.key_storage.setText(
                self.tr("The key will be kept in %s.") % store.backend_description
            )
            self.file_fallback.setVisible(False)
        else:
            self.key_storage.setText(
                self.tr(
                    "This system has no keyring to keep the key safely. You can keep it in a "
                    "file only your user account can read, or set INTEGRITAS_API_KEY instead."
                )
            )
            self.file_fallback.setVisible(True)

    # ---- result ----------------------------------------------------------------------------------
    @property
    def choice(self) -> str | None:
        return self._choice

    @Slot(bool)
    def _show_key_panel(self, shown: bool) -> None:
        self.key_panel.setVisible(shown)
        if shown:
            self.key_edit.setFocus()
        self.adjustSize()

    @Slot()
    def _choose_sandbox(self) -> None:
        self.settings.base_url = SANDBOX_BASE_URL
        self._finish("sandbox")

    @Slot()
    def _choose_api_key(self) -> None:
        key = self.key_edit.text().strip()
        if not key:
            self.key_error.setText(self.tr("Paste your API key first."))
            return
        store = self.secret_store
        if not store.keyring_available and not store.file_fallback_enabled:
            if not self.file_fallback.isChecked():
                self.key_error.setText(
                    self.tr(
                        "There is no keyring on this system. Tick 'Keep the key in a file only I "
                        "can read' to store it, or set INTEGRITAS_API_KEY."
                    )
                )
                return
            store.use_file_fallback(True)
        try:
            store.set_api_key(key)
        except IntegritasError as exc:
            self.key_error.setText(exc.message)
            return
        except Exception as exc:  # a broken keyring service: say so, do not crash
            log.warning("Could not store the API key: %s", type(exc).__name__)
            self.key_error.setText(
                self.tr("The keyring refused the key (%s). Try again or use the file option.")
                % type(exc).__name__
            )
            return
        if self.settings.base_url == SANDBOX_BASE_URL:
            self.settings.base_url = REAL_SERVICE_URL
        self._finish("api_key")

    def _finish(self, choice: str) -> None:
        self._choice = choice
        self.settings.first_run_done = True
        save_settings(self.settings, self.settings_path)
        self.accept()
