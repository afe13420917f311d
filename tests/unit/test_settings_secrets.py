"""Settings survive a round trip and unknown keys; the API key goes to a keyring or, by choice, an
owner-only file, never silently to plain text; logs never show it."""

from __future__ import annotations

import json
import logging
import os
import stat

import keyring
import pytest
from keyring.backends import fail

from integritas_gui.core.logsetup import register_secret, setup_logging
from integritas_gui.core.secrets import NoKeyring, SecretStore
from integritas_gui.core.settings import Settings, load_settings, save_settings
from tests.keyrings import MemoryKeyring


@pytest.fixture
def restore_keyring():
    before = keyring.get_keyring()
    yield
    keyring.set_keyring(before)


def test_settings_round_trip_keeps_values_and_unknown_keys(tmp_path):
    path = tmp_path / "settings.json"
    settings = Settings(base_url="http://127.0.0.1:9/core", hash_workers=3, send_file_details=True)
    save_settings(settings, path)
    data = json.loads(path.read_text())
    data["from_a_newer_version"] = {"x": 1}
    path.write_text(json.dumps(data))
    loaded = load_settings(path)
    assert (loaded.base_url, loaded.hash_workers, loaded.send_file_details) == ("http://127.0.0.1:9/core", 3, True)
    save_settings(loaded, path)
    assert json.loads(path.read_text())["from_a_newer_version"] == {"x": 1}
    assert json.loads(path.read_text())["version"] == 1


def test_damaged_settings_fall_back_to_defaults(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text("{not json")
    assert load_settings(path) == Settings()
    path.write_text(json.dumps({"hash_workers": "many", "notifications": False}))
    loaded = load_settings(path)
    assert loaded.hash_workers == Settings().hash_workers and loaded.notifications is False


def test_key_lives_in_the_keyring_when_there_is_one(tmp_path, restore_keyring):
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    config = tmp_path / "config"
    store = SecretStore(config)
    store.set_api_key("sk-live-1234567890")
    assert store.get_api_key() == "sk-live-1234567890"
    assert list(backend.passwords.values()) == ["sk-live-1234567890"]
    assert not config.exists()  # nothing on disk


def test_without_a_keyring_nothing_is_stored_until_the_user_chooses_the_file(tmp_path, restore_keyring):
    keyring.set_keyring(fail.Keyring())
    store = SecretStore(tmp_path)
    assert not store.keyring_available
    with pytest.raises(NoKeyring, match="no keyring"):
        store.set_api_key("sk-live-1234567890")
    assert store.get_api_key() is None
    store.use_file_fallback(True)
    store.set_api_key("sk-live-1234567890")
    assert store.get_api_key() == "sk-live-1234567890"
    if os.name == "posix":
        assert stat.S_IMODE(store.key_file.stat().st_mode) == 0o600
    store.use_file_fallback(False)
    assert not store.key_file.exists()


def test_logs_never_show_a_registered_key_or_an_api_key_header(tmp_path):
    log_path = setup_logging(tmp_path / "logs")
    register_secret("sk-live-abcdef123456")
    logger = logging.getLogger("integritas.test")
    logger.warning("calling with key sk-live-abcdef123456")
    logger.warning("headers: {'x-api-key': 'another-secret-value'}")
    for handler in logging.getLogger().handlers:
        handler.flush()
    text = log_path.read_text()
    assert "sk-live-abcdef123456" not in text and "another-secret-value" not in text
    assert text.count("[redacted]") == 2
