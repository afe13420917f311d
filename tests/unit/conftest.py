"""Fixtures shared by the core tests."""

from __future__ import annotations

import pytest

from integritas_gui.core.history import History


@pytest.fixture
def history(data_dir):
    """A fresh history store in the test's data dir."""
    store = History(data_dir / "history.sqlite3")
    yield store
    store.close()
