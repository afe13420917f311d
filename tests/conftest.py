"""Shared test set-up: offscreen Qt, a fresh data dir per test, the sandbox on a free port.

The normal run is parallel (pytest-xdist, pyproject's addopts): each test has its own tmp_path, data
dir (and so its own single-instance name and history), free ports, and environment in its worker
process. Tests marked ``xdist_group("heavy")`` (CPU-heavy, or held to a time limit) share one worker,
so no two of them run at once; ``xdist_group("linux-build")`` keeps the frozen build's tests on one
worker, which builds once. ``-n 0`` runs everything serially in one process."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """A worker of a --dist loadgroup run: every xdist_group test must carry its group in its node id,
    which is how pytest-xdist keeps the group on one worker. Fail loudly if a pytest/xdist pair drops it."""
    if getattr(config.option, "loadgroup", False):
        lost = [item.nodeid for item in items if item.get_closest_marker("xdist_group") and "@" not in item.nodeid]
        if lost:
            raise RuntimeError(f"pytest-xdist did not group {len(lost)} xdist_group tests ({lost[0]}, ...): "
                               "install the test tools pyproject.toml names (python3 dev.py test does), or run with -n 0")


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch):
    """Every test gets its own INTEGRITAS_DATA_DIR so nothing touches a real user's data."""
    folder = tmp_path / "integritas-data"
    folder.mkdir()
    monkeypatch.setenv("INTEGRITAS_DATA_DIR", str(folder))
    monkeypatch.delenv("INTEGRITAS_API_KEY", raising=False)
    return folder


@pytest.fixture(autouse=True)
def _free_closed_ports():
    """Ports that the test held with tests.sandbox_fixture.closed_port() are freed after it."""
    from tests.sandbox_fixture import release_closed_ports

    yield
    release_closed_ports()


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
