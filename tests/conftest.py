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
