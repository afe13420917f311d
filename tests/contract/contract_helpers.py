"""Helpers for the contract suite: the real client against the real sandbox over loopback HTTP."""

from __future__ import annotations

import secrets
import threading

import httpx


def new_hash() -> str:
    """A SHA3-256-shaped hash nobody has stamped yet."""
    return secrets.token_hex(32)


def stats(server) -> dict:
    """The sandbox's own counters, read over HTTP like any other client would."""
    return httpx.get(server.base_url + "/_sandbox/stats", timeout=5, trust_env=False).json()


class RecordingSleep:
    """A client ``sleep`` that records every wait; really sleeps unless ``real=False``."""

    def __init__(self, real: bool = True):
        self.real = real
        self.calls: list[float] = []
        self._lock = threading.Lock()

    def __call__(self, seconds: float) -> None:
        with self._lock:
            self.calls.append(seconds)
        if self.real:
            threading.Event().wait(seconds)


class RecordingTransport(httpx.BaseTransport):
    """A real HTTP transport that keeps a copy of every request it sends."""

    def __init__(self):
        self._inner = httpx.HTTPTransport()
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()
