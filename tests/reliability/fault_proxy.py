"""A loopback proxy in front of the sandbox that aims faults at one endpoint.

The CLI cannot send the sandbox's ``x-sandbox-fault`` header itself, so tests point it at this
proxy instead. For the three POST endpoints the proxy adds the header (the sandbox injects the fault
and counts it in its stats); for report downloads, and for 401/402 answers on any endpoint, the
proxy answers itself. Verify answers are rewritten so their report links lead through the proxy (or
to ``report_origin``, e.g. a port where nothing listens).
"""

from __future__ import annotations

import http.client
import json
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

ENDPOINTS = {
    "/core/v2/timestamp/post": "stamp",
    "/core/v2/file/check": "check",
    "/core/v2/verify/file": "verify",
}
REPORT_PREFIX = "/core/_sandbox/reports/"

_HTML_503 = b"<!DOCTYPE html><html><body><h1>503 Service Temporarily Unavailable</h1></body></html>"
_HTML_502 = b"<html><body><h1>502 Bad Gateway</h1><hr>cloudflare</body></html>"


def _envelope(status: int, message: str) -> bytes:
    return json.dumps({"service": "CORE_API", "apiVersion": 2, "requestId": "proxy", "status": "error",
                       "statusCode": status, "message": message, "data": None}).encode()


class _QuietOnHangUp(ThreadingHTTPServer):
    """A client that hangs up on a kept-alive connection (the app closing an error answer it did not
    read) is normal here: only other errors are printed, where the tests look for tracebacks."""

    def handle_error(self, request, client_address) -> None:
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            return
        super().handle_error(request, client_address)


class FaultProxy:
    """``aim(endpoint, fault, times=None)``; ``counts[endpoint]`` = requests seen per endpoint."""

    def __init__(self, upstream_origin: str):
        self.upstream = urlsplit(upstream_origin)
        self.rules: dict[str, tuple[str, int | None]] = {}
        self.used: dict[str, int] = {}
        self.counts: dict[str, int] = {}
        self.report_origin: str | None = None
        self.shape: str | None = None  # an x-sandbox-shape for every POST passed through
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        proxy = self

        class Handler(_Handler):
            owner = proxy

        self.httpd = _QuietOnHangUp(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    @property
    def base_url(self) -> str:
        return self.origin + "/core"

    def start(self) -> "FaultProxy":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def aim(self, endpoint: str, fault: str, times: int | None = None) -> None:
        with self.lock:
            self.rules[endpoint] = (fault, times)
            self.used[endpoint] = 0

    def take(self, endpoint: str) -> str | None:
        """Count a request; the fault it should meet (None: pass it through)."""
        with self.lock:
            self.counts[endpoint] = self.counts.get(endpoint, 0) + 1
            rule = self.rules.get(endpoint)
            if rule is None:
                return None
            fault, times = rule
            if times is not None and self.used[endpoint] >= times:
                return None
            self.used[endpoint] += 1
            return fault


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    owner: FaultProxy

    def log_message(self, *args) -> None:
        pass

    def _send(self, status: int, body: bytes, content_type: str = "application/json",
              headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        try:
            self.wfile.write(body)
        except OSError:
            self.close_connection = True

    def _reset(self) -> None:
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.connection.close()

    def _forward(self, method: str, body: bytes | None, extra: dict[str, str]) -> tuple[int, dict, bytes]:
        upstream = http.client.HTTPConnection(self.owner.upstream.hostname, self.owner.upstream.port,
                                              timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
        headers.update(extra)
        try:
            upstream.request(method, self.path, body=body, headers=headers)
            response = upstream.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            upstream.close()

    def _relay(self, status: int, headers: dict, body: bytes) -> None:
        target = self.owner.report_origin or self.owner.origin
        sandbox = f"http://{self.owner.upstream.hostname}:{self.owner.upstream.port}"
        body = body.replace(sandbox.encode(), target.encode())
        keep = {k: v for k, v in headers.items()
                if k.lower() in ("retry-after", "content-disposition") or k.lower().startswith("x-ratelimit")}
        self._send(status, body, headers.get("Content-Type", "application/json"), keep)

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        endpoint = ENDPOINTS.get(urlsplit(self.path).path.rstrip("/"), "other")
        fault = self.owner.take(endpoint)
        if fault == "401":
            self._send(401, _envelope(401, "Invalid or missing API key"))
            return
        if fault == "402":
            self._send(402, _envelope(402, "API usage limit reached for your plan. Upgrade to continue."))
            return
        extra = {"x-sandbox-fault": fault} if fault else {}
        if self.owner.shape:
            extra["x-sandbox-shape"] = self.owner.shape
        try:
            status, headers, answer = self._forward("POST", body, extra)
        except (ConnectionError, http.client.HTTPException, OSError):
            self._reset()  # the sandbox reset or dropped us: pass that on
            return
        self._relay(status, headers, answer)

    def do_GET(self) -> None:  # noqa: N802
        path = urlsplit(self.path).path
        endpoint = "report" if path.startswith(REPORT_PREFIX) else "other"
        fault = self.owner.take(endpoint)
        if fault is None or fault.startswith("slow"):
            if fault:
                self.owner.stopping.wait(float(fault.partition(":")[2] or 5))
            try:
                status, headers, answer = self._forward("GET", None, {})
            except (ConnectionError, http.client.HTTPException, OSError):
                self._reset()
                return
            self._relay(status, headers, answer)
        elif fault == "503-html":
            self._send(503, _HTML_503, "text/html")
        elif fault == "502":
            self._send(502, _HTML_502, "text/html")
        elif fault == "429":
            self._send(429, _envelope(429, "Too many requests"), headers={"Retry-After": "1"})
        elif fault == "401":
            self._send(401, b"<Error><Code>AccessDenied</Code></Error>", "application/xml")
        elif fault == "402":
            self._send(402, _envelope(402, "Payment required"))
        elif fault == "reset":
            self._reset()
        elif fault == "truncated-json":  # for a PDF: promise the whole file, send half, hang up
            status, headers, answer = self._forward("GET", None, {})
            self.send_response(status)
            self.send_header("Content-Type", "application/pdf")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer[: len(answer) // 2])
            self.wfile.flush()
            time.sleep(0.05)
            self._reset()
        else:
            raise ValueError(f"unknown report fault {fault}")
