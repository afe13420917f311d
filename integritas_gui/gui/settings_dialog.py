"""Settings: API key (keyring, or an owner-only file the user chose), service, hashing, privacy.

The same settings as `integritas config` (core/settings.py names and checks them)."""

from __future__ import annotations

import logging
from dataclasses import replace

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
)
from shiboken6 import isValid

from integritas_gui.core import autostart
from integritas_gui.core.errors import IntegritasError
from integritas_gui.gui.key_field import ApiKeyField
from integritas_gui.core.paths import app_dirs
from integritas_gui.core.settings import (
    MAX_HASH_WORKERS,
    MAX_REQUEST_TIMEOUT,
    REAL_SERVICE_URL,
    SEGMENT_CHOICES as SEGMENT_SIZES,
    SettingError,
    check_node_url,
    check_proxy,
    check_service,
    save_settings,
)
from integritas_gui.gui.first_run import SANDBOX_BASE_URL

log = logging.getLogger(__name__)

SEGMENT_CHOICES = [("auto", None), *SEGMENT_SIZES]
SERVICE_REAL, SERVICE_SANDBOX, SERVICE_CUSTOM = range(3)


class SettingsDialog(QDialog):
    settingsChanged = Signal(object)
    connectionTested = Signal(str, str)  # verdict, words (for tests and the status bar)

    def __init__(self, settings, secret_store, parent=None, *, settings_path=None,
                 sandbox_url: str | None = None, engine=None):
        super().__init__(parent)
        self.settings = settings
        self.secret_store = secret_store
        self.settings_path = settings_path or app_dirs().settings_file
        # Where the running local sandbox listens, when the main window has started one.
        self.sandbox_url = sandbox_url
        # The engine process (EngineBridge) makes the test call: the window itself does no HTTP.
        self.engine = engine

        self.setWindowTitle(self.tr("Settings"))
        self.setObjectName("settingsDialog")

        layout = QVBoxLayout(self)
        layout.addWidget(self._build_service_group())
        layout.addWidget(self._build_files_group())
        layout.addWidget(self._build_privacy_group())
        from integritas_gui.gui.node_settings import NodeSettingsGroup

        self.node_group = NodeSettingsGroup(settings, self.secret_store.config_dir, self)
        layout.addWidget(self.node_group)
        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setObjectName("settingsError")
        layout.addWidget(self.error_label)
        self.button_box = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.button_box.accepted.connect(self.accept)
        self.button_box.rejected.connect(self.reject)
        layout.addWidget(self.button_box)

        self._load_values()
        self.resize(560, self.sizeHint().height())

    # ---- layout --------------------------------------------------------------------------------
    def _build_service_group(self) -> QGroupBox:
        group = QGroupBox(self.tr("Integritas service"))
        form = QFormLayout(group)

        self.service_combo = QComboBox()
        self.service_combo.addItem(self.tr("Integritas (%s)") % REAL_SERVICE_URL)
        self.service_combo.addItem(self.tr("Local sandbox (nothing on a real blockchain)"))
        self.service_combo.addItem(self.tr("Other address"))
        self.service_combo.setAccessibleName(self.tr("Service"))
        self.service_combo.currentIndexChanged.connect(self._service_changed)
        form.addRow(self.tr("&Service:"), self.service_combo)

        self.url_edit = QLineEdit()
        self.url_edit.setPlaceholderText("https://…/core")
        self.url_edit.setAccessibleName(self.tr("Service address"))
        form.addRow(self.tr("&Address:"), self.url_edit)

        self.key_field = ApiKeyField(self.tr("From your profile at integritas.technology"))
        self.key_edit, self.show_key = self.key_field.edit, self.key_field.toggle
        form.addRow(self.tr("API &key:"), self.key_field)

        self.key_storage = QLabel()
        self.key_storage.setWordWrap(True)
        self.key_storage.setAccessibleName(self.tr("Where the key is kept"))
        form.addRow("", self.key_storage)
        self.file_fallback = QCheckBox(self.tr("Keep the key in a file only I can read"))
        self.file_fallback.setAccessibleName(self.tr("Keep the key in a file only I can read"))
        form.addRow("", self.file_fallback)

        self.proxy_edit = QLineEdit()
        self.proxy_edit.setPlaceholderText(self.tr("Empty: connect directly, e.g. http://proxy:8080"))
        self.proxy_edit.setAccessibleName(self.tr("Proxy"))
        form.addRow(self.tr("&Proxy:"), self.proxy_edit)

        self.timeout_spin = QSpinBox()
        self.timeout_spin.setRange(1, int(MAX_REQUEST_TIMEOUT))
        self.timeout_spin.setSuffix(self.tr(" s"))
        self.timeout_spin.setAccessibleName(self.tr("Request timeout"))
        self.timeout_spin.setToolTip(self.tr("How long to wait for the service's answer to one "
                                             "request (verifications wait four times as long)."))
        form.addRow(self.tr("&Request timeout:"), self.timeout_spin)

        self.test_button = QPushButton(self.tr("&Test connection"))
        self.test_button.setAccessibleName(self.tr("Test connection"))
        self.test_button.clicked.connect(self.test_connection)
        self.test_result = QLabel()
        self.test_result.setWordWrap(True)
        self.test_result.setAccessibleName(self.tr("Connection test result"))
        test_row = QHBoxLayout()
        test_row.addWidget(self.test_button)
        test_row.addWidget(self.test_result, 1)
        form.addRow("", test_row)
        for widget in (self.test_button, self.test_result):  # the engine makes the test call
            widget.setVisible(self.engine is not None)
        return group

    def _build_files_group(self) -> QGroupBox:
        group = QGroupBox(self.tr("Files"))
        form = QFormLayout(group)
        self.workers_spin = QSpinBox()
        self.workers_spin.setRange(1, MAX_HASH_WORKERS)
        self.workers_spin.setAccessibleName(self.tr("Hashing workers"))
        form.addRow(self.tr("&Hashing workers:"), self.workers_spin)

        self.segment_combo = QComboBox()
        for size, label in SEGMENT_CHOICES:
            text = self.tr("Automatic (recommended)") if size == "auto" else label
            self.segment_combo.addItem(text, size)
        self.segment_combo.setAccessibleName(self.tr("Segment size"))
        self.segment_combo.setToolTip(
            self.tr("Segments let a later check show which parts of a file changed.")
        )
        form.addRow(self.tr("Se&gment size:"), self.segment_combo)

        self.sidecar_check = QCheckBox(self.tr("Write a receipt next to each stamped file"))
        self.sidecar_check.setAccessibleName(self.tr("Write receipts next to files"))
        form.addRow("", self.sidecar_check)
        self.notify_check = QCheckBox(self.tr("Notify me when stamps are confirmed"))
        self.notify_check.setAccessibleName(self.tr("Notifications"))
        form.addRow("", self.notify_check)
        self.tray_check = QCheckBox(self.tr("Keep running in the tray when the window is closed"))
        self.tray_check.setToolTip(self.tr("Watched folders go on being stamped, pending stamps are followed."))
        form.addRow("", self.tray_check)
        self.login_check = QCheckBox(self.tr("Start when I log in (in the tray, watching)"))
        form.addRow("", self.login_check)
        return group

    def _build_privacy_group(self) -> QGroupBox:
        group = QGroupBox(self.tr("Privacy"))
        box = QVBoxLayout(group)
        self.details_check = QCheckBox(
            self.tr("Send the file name and size with verifications (they appear in the report)")
        )
        self.details_check.setAccessibleName(self.tr("Send file name and size with verifications"))
        box.addWidget(self.details_check)
        note = QLabel(self.tr("Only the file's hash is sent otherwise. Files never leave this computer."))
        note.setWordWrap(True)
        box.addWidget(note)
        return group

    # ---- values --------------------------------------------------------------------------------
    def _load_values(self) -> None:
        s = self.settings
        if s.base_url == SANDBOX_BASE_URL:
            index = SERVICE_SANDBOX
        elif s.base_url.rstrip("/") == REAL_SERVICE_URL:
            index = SERVICE_REAL
        else:
            index = SERVICE_CUSTOM
            self.url_edit.setText(s.base_url)
        self.service_combo.setCurrentIndex(index)
        self._service_changed(index)
        self.key_edit.setText(self.secret_store.get_api_key() or "")
        self.proxy_edit.setText(s.proxy)
        self.timeout_spin.setValue(max(1, round(s.request_timeout)))
        self.workers_spin.setValue(max(1, int(s.hash_workers)))
        segment_index = self.segment_combo.findData(s.segment_size)
        self.segment_combo.setCurrentIndex(max(0, segment_index))
        self.sidecar_check.setChecked(s.write_sidecar_receipts)
        self.notify_check.setChecked(s.notifications)
        self.tray_check.setChecked(bool(s.close_to_tray))
        self.login_check.setChecked(autostart.is_enabled())
        self.details_check.setChecked(s.send_file_details)
        self._describe_storage()

    def _describe_storage(self) -> None:
        store = self.secret_store
        if store.keyring_available or store.file_fallback_enabled:
            self.key_storage.setText(self.tr("The key is kept in %s.") % store.backend_description)
            self.file_fallback.setVisible(store.file_fallback_enabled)
            self.file_fallback.setChecked(store.file_fallback_enabled)
        else:
            self.key_storage.setText(
                self.tr(
                    "This system has no keyring to keep the key safely. Tick the box below to keep "
                    "it in a file only your user account can read, or set INTEGRITAS_API_KEY."
                )
            )
            self.file_fallback.setVisible(True)
            self.file_fallback.setChecked(False)

    def chosen_base_url(self) -> str:
        index = self.service_combo.currentIndex()
        if index == SERVICE_SANDBOX:
            return SANDBOX_BASE_URL
        if index == SERVICE_REAL:
            return REAL_SERVICE_URL
        return self.url_edit.text().strip().rstrip("/")

    def collected_settings(self):
        """A copy of the settings with the dialog's values (the key is not part of it)."""
        return replace(
            self.settings,
            base_url=self.chosen_base_url(),
            hash_workers=self.workers_spin.value(),
            segment_size=self.segment_combo.currentData(),
            write_sidecar_receipts=self.sidecar_check.isChecked(),
            send_file_details=self.details_check.isChecked(),
            proxy=self.proxy_edit.text().strip(),
            request_timeout=float(self.timeout_spin.value()),
            notifications=self.notify_check.isChecked(),
            # unticked and never asked: still asked the first time the window is closed
            close_to_tray=True if self.tray_check.isChecked() else (
                None if self.settings.close_to_tray is None else False),
            **self.node_group.values(),
        )

    # ---- slots ---------------------------------------------------------------------------------
    @Slot(int)
    def _service_changed(self, index: int) -> None:
        custom = index == SERVICE_CUSTOM
        self.url_edit.setEnabled(custom)
        if not custom:
            self.url_edit.setText(REAL_SERVICE_URL if index == SERVICE_REAL else "")
            self.url_edit.setPlaceholderText(
                self.tr("Runs inside the app") if index == SERVICE_SANDBOX else "https://…/core"
            )

    @Slot()
    def test_connection(self) -> None:
        base_url = self.chosen_base_url()
        if base_url == SANDBOX_BASE_URL:
            base_url = self.sandbox_url or ""
            if not base_url:
                self._show_test_result(
                    "ok", self.tr("The local sandbox starts with the app; nothing to test.")
                )
                return
        if not base_url.startswith(("http://", "https://")):
            self._show_test_result("error", self.tr("Enter an address starting with https://"))
            return
        try:  # the sandbox inside the app is reached directly, as the app itself reaches it
            proxy = "" if base_url == self.sandbox_url else check_proxy(self.proxy_edit.text())
        except SettingError as exc:
            self._show_test_result("error", exc.message)
            return
        self.test_button.setEnabled(False)
        self.test_result.setText(self.tr("Testing…"))
        self.engine.probe_service(base_url, self.key_edit.text().strip() or None, proxy or None,
                                  float(self.timeout_spin.value()),
                                  on_done=self._connection_tested, on_error=self._connection_not_tested)

    def _connection_tested(self, answer: dict) -> None:
        if isValid(self):  # the dialog may have been closed while the engine was asking
            self.test_button.setEnabled(True)
            self._show_test_result(answer["verdict"], self.tr(answer["words"]))

    def _connection_not_tested(self, error) -> None:
        if isValid(self):
            self.test_button.setEnabled(True)
            self._show_test_result("error", self.tr("The test could not run: {error}").format(
                error=getattr(error, "message", None) or error))

    def _show_test_result(self, verdict: str, words: str) -> None:
        mark = "✓ " if verdict == "ok" else "✗ "
        self.test_result.setText(mark + words)
        self.connectionTested.emit(verdict, words)

    def accept(self) -> None:
        new_settings = self.collected_settings()
        try:
            new_settings.base_url = check_service(new_settings.base_url)
            new_settings.proxy = check_proxy(new_settings.proxy)
            new_settings.node_url = check_node_url(new_settings.node_url)
        except SettingError as exc:
            self.error_label.setText(exc.message)
            return
        if not self._store_key():
            return
        if self.login_check.isChecked() != autostart.is_enabled():
            try:
                autostart.enable() if self.login_check.isChecked() else autostart.disable()
            except OSError as exc:
                self.error_label.setText(self.tr("Start at login could not be changed: {error}").format(
                    error=exc.strerror or exc))
                return
        problem = self.node_group.store_password()
        if problem:
            self.error_label.setText(problem)
            return
        if new_settings.base_url != self.settings.base_url:
            new_settings.first_run_done = True  # a chosen service, as `integritas config set service`
        for name, value in vars(new_settings).items():
            setattr(self.settings, name, value)
        save_settings(self.settings, self.settings_path)
        self.settingsChanged.emit(self.settings)
        super().accept()

    def _store_key(self) -> bool:
        """Save (or remove) the key where the user allowed; False with a message when it cannot."""
        key = self.key_edit.text().strip()
        store = self.secret_store
        wants_file = not self.file_fallback.isHidden() and self.file_fallback.isChecked()
        leaving_file = store.file_fallback_enabled and not wants_file
        if key == (store.get_api_key() or "") and not leaving_file:
            return True
        try:
            if leaving_file:
                store.use_file_fallback(False)  # deletes the key file too
            if not key:
                store.delete_api_key()
                return True
            if not store.keyring_available and not store.file_fallback_enabled:
                if not wants_file:
                    self.error_label.setText(
                        self.tr(
                            "There is no keyring on this system, so the key was not saved. Tick "
                            "'Keep the key in a file only I can read', or set INTEGRITAS_API_KEY."
                        )
                    )
                    return False
                store.use_file_fallback(True)
            store.set_api_key(key)
        except IntegritasError as exc:
            self.error_label.setText(exc.message)
            return False
        except Exception as exc:  # a broken keyring service
            log.warning("Could not store the API key: %s", type(exc).__name__)
            self.error_label.setText(
                self.tr("The keyring refused the key (%s).") % type(exc).__name__
            )
            return False
        return True
