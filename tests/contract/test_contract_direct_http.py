"""The direct JSON path (core/direct_http.py): when it is used, idle connections the server closed,
and HTTPS with the system's trust rules (a TLS-wrapped sandbox and a self-signed certificate)."""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import subprocess
import threading
import time

import pytest

from integritas_gui.core.client import IntegritasClient, ServiceError
from tests.contract.contract_helpers import new_hash
from tests.sandbox_fixture import fast_client, wait_for_block

# ---- which path --------------------------------------------------------------------------------


def test_a_direct_connection_uses_the_light_path_and_a_proxy_keeps_httpx(clean_proxy_env):
    url = "https://integritas.example/core"
    with IntegritasClient(url, "k") as client:
        assert client._direct is not None
    clean_proxy_env.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    with IntegritasClient(url, "k") as client:
        assert client._direct is None
    clean_proxy_env.setenv("NO_PROXY", "integritas.example")
    with IntegritasClient(url, "k") as client:
        assert client._direct is not None  # the proxy is bypassed for this host, as httpx would


# ---- keep-alive ----------------------------------------------------------------------------------


class OneAnswerPerConnection:
    """Answers one check per connection as if keeping it alive, then closes it: a server whose
    idle timeout ran out between two requests."""

    def __init__(self):
        self.connections = 0
        self._server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._server.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(65536)
                head, _, body = data.partition(b"\r\n\r\n")
                length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                                  if line.lower().startswith(b"content-length")))
                while len(body) < length:
                    body += conn.recv(65536)
                digest = json.loads(body)["hash"]
                answer = json.dumps({"status": "success", "statusCode": 200, "message": "Hash checked",
                                     "data": {"hash": digest, "data": "Hash not found."}}).encode()
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Content-Length: %d\r\n\r\n%s" % (len(answer), answer))
                time.sleep(0.05)

    def close(self) -> None:
        self._server.close()


def test_an_idle_connection_the_server_closed_is_not_reused():
    server = OneAnswerPerConnection()
    try:
        with fast_client(server.url, "k", max_retries=0) as client:
            for _ in range(3):
                assert client.check(new_hash()).status == "not_found"
                time.sleep(0.2)  # the server has closed its end by now
        assert server.connections == 3  # each request found the old connection dead, no retry needed
    finally:
        server.close()


# ---- HTTPS ---------------------------------------------------------------------------------------


@pytest.fixture
def tls_sandbox(sandbox, tmp_path):
    """The sandbox behind TLS with a self-signed certificate for 127.0.0.1; yields (url, cert path)."""
    if not shutil.which("openssl"):
        pytest.skip("openssl is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    httpd = sandbox._httpd
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    yield sandbox.base_url.replace("http://", "https://"), cert


def test_https_through_the_direct_path_trusts_what_the_environment_trusts(tls_sandbox, sandbox,
                                                                          clean_proxy_env):
    url, cert = tls_sandbox
    clean_proxy_env.setenv("SSL_CERT_FILE", str(cert))
    digest = new_hash()
    with fast_client(url, sandbox.api_key) as client:
        assert client._direct is not None
        client.stamp(digest)
        wait_for_block(sandbox)
        assert client.check(digest).status == "found"
        assert client.verify(digest).records
        assert client._direct.idle_connections == 1  # one TLS connection kept for all three
    assert sandbox.stats()["anchored_hashes"] == 1


def test_https_refuses_a_certificate_nobody_trusts(tls_sandbox, sandbox, clean_proxy_env):
    url, _ = tls_sandbox
    clean_proxy_env.delenv("SSL_CERT_FILE", raising=False)
    clean_proxy_env.delenv("SSL_CERT_DIR", raising=False)
    with fast_client(url, sandbox.api_key, max_retries=0) as client:
        with pytest.raises(ServiceError) as caught:
            client.stamp(new_hash())
    assert caught.value.kind == "network" and "Could not connect" in caught.value.message
    assert sandbox.stats()["submissions"] == 0


# ---- header parsing ------------------------------------------------------------------------------

@pytest.mark.parametrize("raw", [
    b"Content-Type: application/json\r\nContent-Length: 12\r\nRetry-After: 3\r\n\r\n",
    b"content-length: 5\r\nCONTENT-LENGTH: 7\r\nRateLimit-Remaining: 0\r\n\r\n",  # the first counts
    b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
    b"X-Empty:\r\nX-Spaced:   padded value   \r\n\r\n",
    b"Retry-After: 1\n\n",  # bare newlines
    b"Date: Mon, 23 Nov 2026 18:20:00 GMT\r\n",  # the answer ends without the blank line
])
def test_answer_headers_read_as_http_client_reads_them(raw):
    import http.client
    import io

    from integritas_gui.core.direct_http import AnswerHeaders

    ours = AnswerHeaders.read(io.BytesIO(raw))
    theirs = http.client.parse_headers(io.BytesIO(raw))
    assert ours and set(ours) == {name.lower() for name in theirs.keys()}
    for name in theirs.keys():
        assert ours.get(name) == ours.get(name.upper()) == theirs.get(name).strip()


def test_answer_headers_join_folded_lines_and_refuse_floods():
    import http.client
    import io

    from integritas_gui.core.direct_http import AnswerHeaders

    folded = AnswerHeaders.read(io.BytesIO(b"X-Note: one\r\n  two\r\n\tthree\r\nA: b\r\n\r\n"))
    assert folded == {"x-note": "one two three", "a": "b"}
    with pytest.raises(http.client.HTTPException):
        AnswerHeaders.read(io.BytesIO(b"".join(b"H%d: v\r\n" % i for i in range(200)) + b"\r\n"))
    with pytest.raises(http.client.LineTooLong):
        AnswerHeaders.read(io.BytesIO(b"X-Long: " + b"a" * 70_000 + b"\r\n\r\n"))
