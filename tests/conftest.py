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
