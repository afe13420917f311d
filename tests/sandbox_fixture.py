"""The sandbox and a client for it, shared by test suites (contract, reliability, CLI, GUI)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

TEST_API_KEY = "test-key-123"
TEST_BLOCK_TIME = 0.2


@contextlib.contextmanager
def running_sandbox(**options) -> Iterator:
    """A SandboxServer on a free loopback port; stopped (and its ledger closed) afterwards."""
    from integritas_gui.sandbox.server import SandboxServer

    options.setdefault("api_key", TEST_API_KEY)
    options.setdefault("block_time", TEST_BLOCK_TIME)
    server = SandboxServer("127.0.0.1", 0, **options)
    server.start()
    try:
        yield server
    finally:
        server.close()


def fast_client(base_url: str, api_key: str | None = TEST_API_KEY, **options):
    """An IntegritasClient with tiny backoff so retry tests stay quick."""
    from integritas_gui.core.client import IntegritasClient

    options.setdefault("backoff_base", 0.01)
    options.setdefault("backoff_max", 0.05)
    options.setdefault("timeout", 5)
    options.setdefault("verify_timeout", 10)
    return IntegritasClient(base_url, api_key, **options)


def wait_for_block(server, extra: float = 0.05) -> None:
    """Sleep past the next simulated block so pending stamps are on chain."""
    import time

    time.sleep(server.ledger.block_time + extra)


def sandbox_stats(server) -> dict:
    """The sandbox's counters (submissions, checks, verifications, ...), read over HTTP."""
    import httpx

    return httpx.get(server.base_url + "/_sandbox/stats", timeout=5, trust_env=False).json()
