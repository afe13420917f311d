"""Shared test set-up: offscreen Qt, a fresh data dir per test, the sandbox on a free port."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch):
    """Every test gets its own INTEGRITAS_DATA_DIR so nothing touches a real user's data."""
    folder = tmp_path / "integritas-data"
    folder.mkdir()
    monkeypatch.setenv("INTEGRITAS_DATA_DIR", str(folder))
    monkeypatch.delenv("INTEGRITAS_API_KEY", raising=False)
    return folder


@pytest.fixture
def sandbox():
    """The local Integritas sandbox in-process on a free port (block time 0.2 s, key "test-key-123")."""
    from tests.sandbox_fixture import running_sandbox

    with running_sandbox() as server:
        yield server


@pytest.fixture
def sandbox_client(sandbox):
    """An IntegritasClient for the ``sandbox`` fixture, with fast backoff."""
    from tests.sandbox_fixture import fast_client

    client = fast_client(sandbox.base_url, sandbox.api_key)
    yield client
    client.close()


@pytest.fixture
def make_window(qtbot, monkeypatch):
    """Build a MainWindow on fresh services (its engine in a child process). Trial mode by default
    (the sandbox in a process of its own, 0.2 s blocks); pass ``base_url=`` (and set
    INTEGRITAS_API_KEY) to talk to another service."""
    from integritas_gui.core.paths import app_dirs
    from integritas_gui.core.secrets import SecretStore
    from integritas_gui.core.settings import Settings
    from integritas_gui.gui.main_window import MainWindow
    from integritas_gui.session import Overrides, open_window_session, overrides_from_env

    monkeypatch.setenv("INTEGRITAS_SANDBOX_BLOCK_TIME", "0.2")
    windows = []

    def make(*, base_url=None, force_sandbox=None, client_options=None, **settings_values):
        dirs = app_dirs().create()
        settings = Settings(**{"first_run_done": True, "hash_workers": 2, **settings_values})
        secrets = SecretStore(dirs.config)
        if force_sandbox is None:
            force_sandbox = base_url is None
        options = {"backoff_base": 0.01, "backoff_max": 0.05}
        if "request_timeout" not in settings_values:
            options.update(timeout=5, verify_timeout=10)
        options.update(client_options or {})
        overrides = overrides_from_env().merged(Overrides(
            settings={"base_url": base_url} if base_url else {}, force_sandbox=force_sandbox,
            client_options=options))
        services = open_window_session(dirs, settings, secrets, overrides=overrides,
                                       settings_path=dirs.settings_file)
        window = MainWindow(services, force_sandbox=force_sandbox)
        qtbot.addWidget(window)
        window.show()
        qtbot.waitExposed(window)
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.shutdown()
