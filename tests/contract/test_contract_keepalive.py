"""The client's one httpx pool: keep-alive, idle connections the server closed, and HTTPS with the
environment's trust rules (a TLS-wrapped sandbox and a self-signed certificate)."""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import subprocess
import threading
import time

import pytest

from integritas_gui.core.client import ServiceError
from tests.contract.contract_helpers import new_hash
from tests.sandbox_fixture import fast_client, wait_for_block

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


def test_https_trusts_what_the_environment_trusts_over_one_kept_connection(tls_sandbox, sandbox,
                                                                           clean_proxy_env):
    url, cert = tls_sandbox
    clean_proxy_env.setenv("SSL_CERT_FILE", str(cert))
    digest = new_hash()
    before = sandbox.stats()["connections"]
    with fast_client(url, sandbox.api_key) as client:
        client.stamp(digest)
        wait_for_block(sandbox)
        assert client.check(digest).status == "found"
        assert client.verify(digest).records
    stats = sandbox.stats()
    assert stats["connections"] - before == 1  # one TLS connection kept for all three requests
    assert stats["anchored_hashes"] == 1


def test_https_refuses_a_certificate_nobody_trusts(tls_sandbox, sandbox, clean_proxy_env):
    url, _ = tls_sandbox
    clean_proxy_env.delenv("SSL_CERT_FILE", raising=False)
    clean_proxy_env.delenv("SSL_CERT_DIR", raising=False)
    with fast_client(url, sandbox.api_key, max_retries=0) as client:
        with pytest.raises(ServiceError) as caught:
            client.stamp(new_hash())
    assert caught.value.kind == "network" and "Could not connect" in caught.value.message
    assert sandbox.stats()["submissions"] == 0
