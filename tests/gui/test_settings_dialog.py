"""Settings dialog: persistence, the key in the keyring, the no-keyring path, connection test."""

from __future__ import annotations

import keyring
import pytest
from PySide6.QtCore import Qt
from keyring.backends import fail

from integritas_gui.core.paths import app_dirs
from integritas_gui.core.secrets import SecretStore
from integritas_gui.core.settings import REAL_SERVICE_URL, Settings, load_settings
from integritas_gui.core.service_probe import describe_connection_result
from integritas_gui.gui.settings_dialog import SERVICE_CUSTOM, SERVICE_SANDBOX, SettingsDialog
from integritas_gui.gui.first_run import SANDBOX_BASE_URL
from tests.keyrings import MemoryKeyring
from tests.sandbox_fixture import closed_port


@pytest.fixture
def memory_keyring():
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture
def no_keyring():
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    yield
    keyring.set_keyring(previous)


@pytest.fixture
def dirs():
    return app_dirs().create()


def open_dialog(qtbot, dirs, settings=None):
    settings = settings or Settings()
    store = SecretStore(dirs.config)
    dialog = SettingsDialog(settings, store)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog, settings, store


def test_settings_persist_and_reload(qtbot, dirs, memory_keyring):
    dialog, settings, store = open_dialog(qtbot, dirs)
    assert dialog.url_edit.text() == REAL_SERVICE_URL
    dialog.service_combo.setCurrentIndex(SERVICE_CUSTOM)
    dialog.url_edit.setText("https://example.test/core/")
    dialog.workers_spin.setValue(3)
    dialog.segment_combo.setCurrentIndex(dialog.segment_combo.findData(1024 * 1024))
    dialog.sidecar_check.setChecked(True)
    dialog.details_check.setChecked(True)
    dialog.notify_check.setChecked(False)
    dialog.proxy_edit.setText("http://proxy.test:8080")
    dialog.key_edit.setText("sk-live-abc")
    with qtbot.waitSignal(dialog.settingsChanged) as changed:
        dialog.button_box.accepted.emit()
    assert changed.args[0] is settings

    saved = load_settings(dirs.settings_file)
    assert saved.base_url == "https://example.test/core"
    assert saved.hash_workers == 3
    assert saved.segment_size == 1024 * 1024
    assert saved.write_sidecar_receipts and saved.send_file_details and not saved.notifications
    assert saved.proxy == "http://proxy.test:8080"
    assert saved.first_run_done  # a chosen service: no first-run screen next time
    assert memory_keyring.passwords[("integritas-desktop", "api-key")] == "sk-live-abc"
    assert "sk-live-abc" not in dirs.settings_file.read_text()

    # Reopened, the dialog shows what was saved; the key is dots until asked.
    again, _, _ = open_dialog(qtbot, dirs, saved)
    assert again.service_combo.currentIndex() == SERVICE_CUSTOM
    assert again.url_edit.text() == "https://example.test/core"
    assert again.segment_combo.currentData() == 1024 * 1024
    assert again.key_edit.text() == "sk-live-abc"
    assert again.key_edit.echoMode() == again.key_edit.EchoMode.Password
    again.show_key.click()
    assert again.key_edit.echoMode() == again.key_edit.EchoMode.Normal
    assert "keyring" in again.key_storage.text()


def test_sandbox_choice_and_cancel(qtbot, dirs, memory_keyring):
    dialog, settings, _ = open_dialog(qtbot, dirs)
    dialog.service_combo.setCurrentIndex(SERVICE_SANDBOX)
    dialog.button_box.accepted.emit()
    assert load_settings(dirs.settings_file).base_url == SANDBOX_BASE_URL

    dialog, settings, _ = open_dialog(qtbot, dirs, load_settings(dirs.settings_file))
    assert dialog.service_combo.currentIndex() == SERVICE_SANDBOX
    dialog.workers_spin.setValue(7)
    dialog.button_box.rejected.emit()
    assert load_settings(dirs.settings_file).hash_workers != 7


def test_no_keyring_says_so_and_offers_owner_only_file(qtbot, dirs, no_keyring):
    dialog, settings, store = open_dialog(qtbot, dirs)
    assert "no keyring" in dialog.key_storage.text()
    assert dialog.file_fallback.isVisible() and not dialog.file_fallback.isChecked()
    dialog.key_edit.setText("sk-no-keyring")
    dialog.button_box.accepted.emit()
    assert dialog.isVisible(), "must not save a key silently without a keyring"
    assert "no keyring" in dialog.error_label.text()
    assert not store.key_file.exists()

    dialog.file_fallback.setChecked(True)
    with qtbot.waitSignal(dialog.settingsChanged):
        dialog.button_box.accepted.emit()
    assert store.get_api_key() == "sk-no-keyring"
    assert (store.key_file.stat().st_mode & 0o777) == 0o600

    reopened, _, _ = open_dialog(qtbot, dirs, settings)
    assert "only you can read" in reopened.key_storage.text()
    assert reopened.file_fallback.isChecked()


def test_connection_verdicts_in_words():
    class Failure(Exception):
        def __init__(self, kind):
            self.kind = kind

    assert describe_connection_result(None)[0] == "ok"
    assert describe_connection_result(Failure("auth"))[0] == "bad_key"
    assert describe_connection_result(Failure("plan_limit"))[0] == "plan_limit"
    for kind in ("network", "timeout", "unavailable"):
        assert describe_connection_result(Failure(kind))[0] == "unreachable"
    assert describe_connection_result(Failure("rate_limited"))[0] == "ok"


def test_bad_service_or_proxy_is_refused_in_plain_words_and_nothing_saved(qtbot, dirs, memory_keyring):
    dialog, settings, _ = open_dialog(qtbot, dirs)
    dialog.timeout_spin.setValue(12)
    for field, value, words in ((dialog.proxy_edit, "proxy.test:8080", "proxy address"),
                                (dialog.url_edit, "http://example.test/core", "https://")):
        if field is dialog.url_edit:
            dialog.proxy_edit.clear()
            dialog.service_combo.setCurrentIndex(SERVICE_CUSTOM)
        field.setText(value)
        dialog.button_box.accepted.emit()
        assert dialog.isVisible() and words in dialog.error_label.text()
        assert not dirs.settings_file.exists()
    dialog.url_edit.setText("https://example.test/core")
    dialog.button_box.accepted.emit()
    assert load_settings(dirs.settings_file).request_timeout == 12.0
    again, _, _ = open_dialog(qtbot, dirs, load_settings(dirs.settings_file))
    assert again.timeout_spin.value() == 12


@pytest.fixture
def window_http_calls(monkeypatch):
    """Every IntegritasClient the test's own (window) process makes; the engine's are not here."""
    from integritas_gui.core.client import IntegritasClient

    made = []
    real_init = IntegritasClient.__init__

    def recording_init(self, *args, **kwargs):
        made.append(args[:1])
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(IntegritasClient, "__init__", recording_init)
    return made


def settings_of(qtbot, window):
    window.show_settings()
    dialog = window.settings_dialog
    qtbot.waitExposed(dialog)
    return dialog


def run_test(qtbot, dialog):
    with qtbot.waitSignal(dialog.connectionTested, timeout=20000) as tested:
        qtbot.mouseClick(dialog.test_button, Qt.MouseButton.LeftButton)
    assert dialog.test_button.isEnabled()
    return tested.args[0]


def test_connection_test_runs_in_the_engine_and_reports_unreachable(qtbot, make_window, window_http_calls):
    window = make_window()
    dialog = settings_of(qtbot, window)
    dialog.service_combo.setCurrentIndex(SERVICE_CUSTOM)
    dialog.url_edit.setText(f"http://127.0.0.1:{closed_port()}/core")
    assert run_test(qtbot, dialog) == "unreachable"
    assert "reach" in dialog.test_result.text()
    assert window_http_calls == []  # the engine process made the call


def test_connection_test_uses_the_typed_key_and_proxy_and_logs_no_key(qtbot, make_window, sandbox, data_dir,
                                                                      window_http_calls):
    from tests.forward_proxy import ForwardProxy

    window = make_window()
    dialog = settings_of(qtbot, window)
    dialog.service_combo.setCurrentIndex(SERVICE_CUSTOM)
    dialog.url_edit.setText(sandbox.base_url)
    with ForwardProxy() as proxy:
        dialog.proxy_edit.setText(proxy.url)
        dialog.key_edit.setText("typed-wrong-key-5f3a")
        assert run_test(qtbot, dialog) == "bad_key"
        dialog.key_edit.setText(sandbox.api_key)
        assert run_test(qtbot, dialog) == "ok"
        assert proxy.count("POST", "/v2/file/check") == 2
    assert dialog.test_result.text().startswith("✓ Connected")
    assert window_http_calls == []
    saved = app_dirs().settings_file
    assert not saved.exists() or load_settings(saved).proxy == ""  # testing saves nothing
    logs = "".join(p.read_text(errors="replace") for p in data_dir.rglob("*.log"))
    assert "typed-wrong-key-5f3a" not in logs and sandbox.api_key not in logs


def test_closing_the_dialog_before_the_answer_is_harmless(qtbot, make_window):
    window = make_window()
    dialog = settings_of(qtbot, window)
    dialog.service_combo.setCurrentIndex(SERVICE_CUSTOM)
    dialog.url_edit.setText(f"http://127.0.0.1:{closed_port()}/core")
    qtbot.mouseClick(dialog.test_button, Qt.MouseButton.LeftButton)
    dialog.reject()
    qtbot.waitUntil(lambda: not window.bridge.pending_requests(), timeout=20000)
    window.show_settings()  # a new dialog opens and tests as before
    again = window.settings_dialog
    again.service_combo.setCurrentIndex(SERVICE_CUSTOM)
    again.url_edit.setText(f"http://127.0.0.1:{closed_port()}/core")
    assert run_test(qtbot, again) == "unreachable"


def test_a_dialog_without_an_engine_offers_no_connection_test(qtbot, dirs, memory_keyring):
    dialog, _, _ = open_dialog(qtbot, dirs)
    assert dialog.test_button.isHidden() and dialog.test_result.isHidden()
