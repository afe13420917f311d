"""Transport rules: HTTPS for anything not on this machine, proxies from the environment, the API key
only in ``x-api-key`` and never in a log line, one connection pool, a limit on concurrent requests."""

from __future__ import annotations

import logging
import socket
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from integritas_gui.core.client import IntegritasClient, ServiceError
from tests.contract.contract_helpers import RecordingTransport, new_hash, stats
from tests.sandbox_fixture import fast_client, running_sandbox, wait_for_block


class RecordingProxy:
    """A loopback HTTP proxy that notes what it was asked and refuses to connect anywhere."""

    def __init__(self):
        self.received: list[bytes] = []
        self._server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._server.getsockname()[1]}"
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._server.accept()
            except OSError:
                return
            with connection:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = connection.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                self.received.append(data)
                connection.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")

    def close(self) -> None:
        self._server.close()


# ---- HTTPS ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["http://integritas.technology/core", "http://192.168.1.20:8765/core",
                                 "http://example.org"])
def test_plain_http_to_another_machine_is_refused(url):
    with pytest.raises(ServiceError) as caught:
        IntegritasClient(url, "key")
    assert caught.value.kind == "insecure" and "https://" in caught.value.message


@pytest.mark.parametrize("url", ["http://127.0.0.1:8765/core", "http://localhost:8765/core",
                                 "http://[::1]:8765/core", "https://integritas.technology/core"])
def test_https_or_loopback_is_accepted(url):
    with IntegritasClient(url, "key") as client:
        assert client.is_loopback == url.startswith("http://")
        assert client.base_url == url


def test_the_sandbox_on_ipv6_loopback_is_local_too(tmp_path):
    from integritas_gui.sandbox.server import SandboxServer

    try:
        sandbox = SandboxServer("::1", 0, api_key="k6", block_time=0.2).start()
    except OSError:
        pytest.skip("no IPv6 loopback here")
    try:
        with fast_client(sandbox.base_url, sandbox.api_key) as client:
            assert sandbox.base_url.startswith("http://[::1]:") and client.is_loopback
            report = client.verify(new_hash(), report=True).report
            assert report.download_url.startswith("http://[::1]:")
            assert client.download_report(report, tmp_path / "r").read_bytes().startswith(b"%PDF-")
    finally:
        sandbox.stop()


# ---- proxies ------------------------------------------------------------------------------------


def test_the_real_service_goes_through_the_proxy_from_the_environment(clean_proxy_env):
    proxy = RecordingProxy()
    try:
        clean_proxy_env.setenv("HTTPS_PROXY", proxy.url)
        with IntegritasClient("https://integritas.example/core", "secret-key-987",
                              max_retries=0) as client:
            assert client._http._trust_env is True
            with pytest.raises(ServiceError) as caught:
                client.check(new_hash())
        assert caught.value.kind == "network"
        [request] = proxy.received
        assert request.startswith(b"CONNECT integritas.example:443 HTTP/1.1")
        assert b"secret-key-987" not in request  # the key only travels inside TLS
    finally:
        proxy.close()


def test_the_sandbox_on_this_machine_is_never_proxied(clean_proxy_env, sandbox):
    proxy = RecordingProxy()
    try:
        clean_proxy_env.setenv("HTTP_PROXY", proxy.url)
        clean_proxy_env.setenv("ALL_PROXY", proxy.url)
        with fast_client(sandbox.base_url, sandbox.api_key) as client:
            assert client._http._trust_env is False
            assert client.check(new_hash()).status == "not_found"
        assert proxy.received == [] and stats(sandbox)["checks"] == 1
    finally:
        proxy.close()


# ---- the API key -----------------------------------------------------------------------------------


def test_the_api_key_travels_only_in_x_api_key(sandbox, tmp_path):
    key = sandbox.api_key
    transport = RecordingTransport()
    with fast_client(sandbox.base_url, key, transport=transport) as client:
        digest = new_hash()
        client.stamp(digest)
        wait_for_block(sandbox)
        client.check(digest)
        result = client.verify(digest, report=True)
        client.download_report(result.report, tmp_path)
    posts = [r for r in transport.requests if r.method == "POST"]
    [download] = [r for r in transport.requests if r.method == "GET"]
    assert len(posts) == 3
    for request in posts:
        assert request.headers["x-api-key"] == key
        assert [name for name, value in request.headers.items() if key in value] == ["x-api-key"]
        assert key not in str(request.url) and key.encode() not in request.content
    assert "x-api-key" not in download.headers  # never sent to the report host
    assert key not in str(download.url)
    assert stats(sandbox)["auth_failures"] == 0


def test_the_api_key_never_reaches_a_log_line_or_an_error(caplog, tmp_path):
    key = "sk-live-0123456789abcdef"
    caplog.set_level(logging.DEBUG)
    with running_sandbox(api_key=key, quota=1) as server:
        sleeps_client = fast_client(server.base_url, key, max_retries=2,
                                    extra_headers={"x-sandbox-fault": "503-html; times=1"})
        wrong = fast_client(server.base_url, key[:-1] + "X")
        errors = []
        with sleeps_client, wrong:
            digest = new_hash()
            sleeps_client.stamp(digest)
            for call in (lambda: sleeps_client.stamp(new_hash()),  # 402: quota used up
                         lambda: wrong.check(digest),  # 401
                         lambda: sleeps_client.verify(digest, filesize=-1)):  # 400
                with pytest.raises(ServiceError) as caught:
                    call()
                errors.append(caught.value)
            wait_for_block(server)
            report = sleeps_client.verify(digest, report=True).report
            sleeps_client.download_report(report, tmp_path)
            assert key not in repr(sleeps_client) and key not in str(sleeps_client)
    assert [e.kind for e in errors] == ["plan_limit", "auth", "bad_request"]
    assert all(key not in str(e) and key not in repr(e) and key not in e.message for e in errors)
    assert caplog.records, "the client and httpx should have logged something"
    logged = "\n".join(f"{r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in caplog.records)
    assert "503" in logged or "unavailable" in logged  # the retry was logged...
    assert key not in logged and key[:-1] not in logged  # ...without the key


# ---- pool and concurrency ---------------------------------------------------------------------------


def test_one_connection_pool_is_reused_across_requests(sandbox):
    with fast_client(sandbox.base_url, sandbox.api_key) as client:
        for _ in range(6):
            client.check(new_hash())
    counters = stats(sandbox)
    assert counters["requests"] == 6
    assert counters["connections"] == 2  # one for the six requests, one for this stats request


def test_concurrent_requests_are_capped_at_the_client_concurrency(make_client, sandbox):
    client = make_client(concurrency=2, fault="slow:0.3", timeout=5)
    in_flight = []
    lock = threading.Lock()
    current = 0
    original = client._http.send

    def counting_send(*args, **kwargs):
        nonlocal current
        with lock:
            current += 1
            in_flight.append(current)
        try:
            return original(*args, **kwargs)
        finally:
            with lock:
                current -= 1

    client._http.send = counting_send
    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(client.check, [new_hash() for _ in range(6)]))
    assert all(r.status == "not_found" for r in results)
    assert max(in_flight) == 2 and stats(sandbox)["checks"] == 6
