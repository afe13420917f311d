"""Fixtures for the contract suite (helpers live in contract_helpers.py)."""

from __future__ import annotations

import pytest

from tests.sandbox_fixture import fast_client

PROXY_VARIABLES = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY")


@pytest.fixture
def clean_proxy_env(monkeypatch):
    """No proxy settings from the machine running the tests; returns monkeypatch to set some."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    return monkeypatch


@pytest.fixture
def make_client(sandbox):
    """Build extra clients for the ``sandbox`` (fault / shape headers, options); all closed after."""
    made = []

    def build(*, fault: str | None = None, shape: str | None = None, api_key: str | None = "default",
              base_url: str | None = None, **options):
        headers = dict(options.pop("extra_headers", {}))
        if fault:
            headers["x-sandbox-fault"] = fault
        if shape:
            headers["x-sandbox-shape"] = shape
        key = sandbox.api_key if api_key == "default" else api_key
        client = fast_client(base_url or sandbox.base_url, key, extra_headers=headers, **options)
        made.append(client)
        return client

    yield build
    for client in made:
        client.close()
