"""First-run screen: the sandbox choice and the API-key choice, with and without a keyring."""

from __future__ import annotations

import keyring
import pytest
from keyring.backends import fail
from PySide6.QtCore import Qt

from integritas_gui.core.paths import app_dirs
from integritas_gui.core.secrets import SecretStore
from integritas_gui.core.settings import REAL_SERVICE_URL, Settings, load_settings
from integritas_gui.gui.first_run import SANDBOX_BASE_URL, FirstRunDialog
from tests.keyrings import MemoryKeyring


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


def make_dialog(qtbot, dirs):
    settings = Settings()
    store = SecretStore(dirs.config)
    dialog = FirstRunDialog(settings, store)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog, settings, store


def test_sandbox_choice_saves_first_run_done(qtbot, dirs, memory_keyring):
    dialog, settings, store = make_dialog(qtbot, dirs)
    with qtbot.waitSignal(dialog.accepted):
        qtbot.mouseClick(dialog.sandbox_button, Qt.MouseButton.LeftButton)
    assert dialog.choice == "sandbox"
    saved = load_settings(dirs.settings_file)
    assert saved.first_run_done is True
    assert saved.base_url == SANDBOX_BASE_URL
    assert store.get_api_key() is None


def test_api_key_choice_stores_key_in_keyring(qtbot, dirs, memory_keyring):
    dialog, settings, store = make_dialog(qtbot, dirs)
    qtbot.mouseClick(dialog.api_key_button, Qt.MouseButton.LeftButton)
    assert dialog.key_panel.isVisible()
    assert dialog.key_edit.echoMode() == dialog.key_edit.EchoMode.Password
    assert "https://integritas.technology" in dialog.keys_link.text()
    # Continue without a key says what to do and does not close.
    qtbot.mouseClick(dialog.continue_button, Qt.MouseButton.LeftButton)
    assert dialog.isVisible() and "API key" in dialog.key_error.text()

    qtbot.keyClicks(dialog.key_edit, "sk-test-123")
    with qtbot.waitSignal(dialog.accepted):
        qtbot.keyClick(dialog.key_edit, Qt.Key.Key_Return)
    assert dialog.choice == "api_key"
    assert memory_keyring.passwords == {("integritas-desktop", "api-key"): "sk-test-123"}
    saved = load_settings(dirs.settings_file)
    assert saved.first_run_done is True
    assert saved.base_url == REAL_SERVICE_URL
    assert not store.key_file.exists()


def test_api_key_without_keyring_needs_explicit_file_choice(qtbot, dirs, no_keyring):
    dialog, settings, store = make_dialog(qtbot, dirs)
    qtbot.mouseClick(dialog.api_key_button, Qt.MouseButton.LeftButton)
    assert dialog.file_fallback.isVisible()
    assert "no keyring" in dialog.key_storage.text()
    qtbot.keyClicks(dialog.key_edit, "sk-file-key")
    qtbot.mouseClick(dialog.continue_button, Qt.MouseButton.LeftButton)
    # Nothing stored silently: the dialog stays and explains.
    assert dialog.isVisible() and dialog.choice is None
    assert "no keyring" in dialog.key_error.text()
    assert not store.key_file.exists()

    dialog.file_fallback.setChecked(True)
    with qtbot.waitSignal(dialog.accepted):
        qtbot.mouseClick(dialog.continue_button, Qt.MouseButton.LeftButton)
    assert dialog.choice == "api_key"
    assert store.get_api_key() == "sk-file-key"
    assert (store.key_file.stat().st_mode & 0o077) == 0


def test_closing_leaves_first_run_pending(qtbot, dirs, memory_keyring):
    dialog, settings, _store = make_dialog(qtbot, dirs)
    with qtbot.waitSignal(dialog.rejected):
        dialog.reject()
    assert dialog.choice is None
    assert not dirs.settings_file.exists()
