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


_HELD_PORTS: list = []


def closed_port() -> int:
    """A loopback port nothing listens on, kept so until the test ends (tests/conftest.py frees
    it): a socket holds it bound but not listening, so connections are refused and no test running
    beside this one is given the port; a server with SO_REUSEADDR (the sandbox's) can still start
    on it."""
    import socket

    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    holder.bind(("127.0.0.1", 0))
    _HELD_PORTS.append(holder)
    return holder.getsockname()[1]


def release_closed_ports() -> None:
    while _HELD_PORTS:
        _HELD_PORTS.pop().close()


def wait_for_block(server, extra: float = 0.02) -> None:
    """Sleep past the next simulated block so pending stamps are on chain (blocks are computed from
    the clock, so that is the time left to the next block, plus ``extra``)."""
    import time

    ledger = server.ledger  # on the default clock, time.time
    made_at = ledger.block_made_at(ledger.height() + 1)
    time.sleep(max(0.0, made_at - time.time()) + extra)


def sandbox_stats(server) -> dict:
    """The sandbox's counters (submissions, checks, verifications, ...), read over HTTP."""
    import httpx

    return httpx.get(server.base_url + "/_sandbox/stats", timeout=5, trust_env=False).json()
