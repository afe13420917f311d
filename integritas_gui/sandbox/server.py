"""A local service that speaks the Integritas v2 API, for first-time users and for tests.

It is NOT a blockchain: stamps go into a SQLite ledger with simulated Minima blocks (see ledger.py).

Fault injection (``x-sandbox-fault``) is described and done in faults.py, answer shapes
(``x-sandbox-shape``) in shapes.py.

Browsers: every answer carries ``Access-Control-Allow-Origin: *`` and a CORS preflight (``OPTIONS``)
is answered, so a web page (such as the docs' API demo) can call the sandbox.

Each POST's path, ``x-request-id`` and ``x-report-required`` are kept (the last 1,000) for tests:
``SandboxServer.requests_seen()`` or ``GET /core/_sandbox/requests``.
"""

from __future__ import annotations

import collections
import hashlib
import hmac
import json
import logging
import math
import random
import re
import secrets
import socket
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from integritas_gui.sandbox.faults import RANDOM_FAULTS, FaultSpec, inject, slow_seconds
from integritas_gui.sandbox.ledger import MINIMA_SEND_ADDRESS, Ledger, Record, iso_utc, random_id, seconds_until
from integritas_gui.sandbox.shapes import parse_shapes, reshape

log = logging.getLogger(__name__)

API_PREFIX = "/core"
STAMP_PATH = "/core/v2/timestamp/post"
CHECK_PATH = "/core/v2/file/check"
VERIFY_PATH = "/core/v2/verify/file"
REPORTS_PREFIX = "/core/_sandbox/reports/"
STATS_PATH = "/core/_sandbox/stats"
HEALTH_PATH = "/core/_sandbox/health"
REQUESTS_PATH = "/core/_sandbox/requests"
REQUEST_LOG_SIZE = 1000
CORS_HEADERS = {
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Allow-Headers": "content-type, x-api-key, x-request-id, x-report-required, "
                                    "x-sandbox-fault, x-sandbox-shape",
    "Access-Control-Expose-Headers": "retry-after, x-ratelimit-limit, x-ratelimit-remaining, "
                                     "x-ratelimit-reset",
    "Access-Control-Max-Age": "600",
}

MAX_BODY = 1024 * 1024

_HEX64 = re.compile(r"[0-9a-fA-F]{64}")


def parse_rate_limit(value) -> tuple[int, float] | None:
    """"N/SECONDS" (or a (N, SECONDS) pair) -> (N, SECONDS)."""
    if value is None:
        return None
    if isinstance(value, str):
        match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+(?:\.\d+)?)\s*", value)
        if not match:
            raise ValueError("rate limit must look like N/SECONDS, e.g. 100/60")
        value = (int(match.group(1)), float(match.group(2)))
    count, seconds = int(value[0]), float(value[1])
    if count < 1 or seconds <= 0:
        raise ValueError("rate limit needs N >= 1 and SECONDS > 0")
    return count, seconds


class _RateLimiter:
    """Fixed windows aligned to the clock, like most API gateways."""

    def __init__(self, limit: int, window: float):
        self.limit, self.window = limit, window
        self._lock = threading.Lock()
        self._window_start = 0.0
        self._count = 0

    def hit(self, now: float) -> tuple[bool, int, float]:
        """(allowed, remaining, reset unix time) for one request at ``now``."""
        start = math.floor(now / self.window) * self.window
        with self._lock:
            if start != self._window_start:
                self._window_start, self._count = start, 0
            allowed = self._count < self.limit
            if allowed:
                self._count += 1
            return allowed, self.limit - self._count, start + self.window




class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "IntegritasSandbox/1.0"
    disable_nagle_algorithm = True
    timeout = 120  # idle keep-alive connections end after this

    @property
    def sandbox(self) -> SandboxServer:
        return self.server.sandbox  # type: ignore[attr-defined]

    def setup(self) -> None:
        super().setup()
        self.sandbox._track(self.connection, True)
        self.sandbox._count("connections")

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.sandbox._track(self.connection, False)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - stdlib signature
        log.debug("%s %s", self.address_string(), format % args)

    # -- plumbing ---------------------------------------------------------------------------------

    def _read_body(self) -> bytes | None:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunked()
        length = self.headers.get("Content-Length")
        if length is None:
            return b""
        try:
            size = int(length)
        except ValueError:
            return None
        if size < 0 or size > MAX_BODY:
            return None
        return self.rfile.read(size)

    def _read_chunked(self) -> bytes | None:
        """A chunked request body (streaming clients send JSON this way), or None if malformed."""
        body = b""
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                return None
            if size == 0:
                while self.rfile.readline(1024).strip():  # trailers
                    pass
                return body
            if size < 0 or len(body) + size > MAX_BODY:
                return None
            body += self.rfile.read(size)
            self.rfile.readline(16)  # CRLF after the chunk

    def _send(self, status: int, body: bytes, content_type: str = "application/json",
              headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Access-Control-Allow-Origin", "*")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def do_OPTIONS(self) -> None:  # noqa: N802 - stdlib name
        """A browser's CORS preflight: any origin may call the sandbox with the API's headers."""
        self.send_response(204)
        self.send_header("Access-Control-Allow-Origin", "*")
        for key, value in CORS_HEADERS.items():
            self.send_header(key, value)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _envelope(self, status: int, message: str, data, request_id: str,
                  headers: dict[str, str] | None = None, shapes: tuple[str, ...] = ()) -> None:
        body = {
            "service": "CORE_API",
            "apiVersion": 2,
            "requestId": request_id,
            "status": "success" if status < 400 else "error",
            "statusCode": status,
            "message": message,
            "timestamp": iso_utc(self.sandbox.clock()),
            "data": data,
        }
        if status < 400 and "minimal" in shapes:
            body = {key: body[key] for key in ("status", "statusCode", "data")}
        if status < 400 and "extra-fields" in shapes:
            body.update(region="eu-west-1", deprecation={"v1": "2027-01-01"}, traceId=random_id())
        self._send(status, json.dumps(body, separators=(",", ":")).encode(), headers=headers)

    # -- GET: reports, stats, health --------------------------------------------------------------

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        parts = urlsplit(self.path)
        if parts.path == STATS_PATH:
            self._send(200, json.dumps(self.sandbox.stats()).encode())
        elif parts.path == REQUESTS_PATH:
            self._send(200, json.dumps(self.sandbox.requests_seen()).encode())
        elif parts.path == HEALTH_PATH:
            body = {"status": "ok", "block_height": self.sandbox.ledger.height(),
                    "block_time": self.sandbox.ledger.block_time}
            self._send(200, json.dumps(body).encode())
        elif parts.path.startswith(REPORTS_PREFIX) and parts.path.endswith(".pdf"):
            self._serve_report(parts.path[len(REPORTS_PREFIX):-4], parse_qs(parts.query))
        else:
            self._send(404, b'{"status":"error","statusCode":404,"message":"Not found"}')

    def _serve_report(self, token: str, query: dict) -> None:
        expires = (query.get("expires") or [""])[0]
        signature = (query.get("sig") or [""])[0]
        denied = (b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code>"
                  b"<Message>%s</Message></Error>")
        if not hmac.compare_digest(signature, self.sandbox.sign(token, expires)):
            self._send(403, denied % b"Signature does not match", "application/xml")
            return
        if not expires.isdigit() or int(expires) < self.sandbox.clock():
            self._send(403, denied % b"Request has expired", "application/xml")
            return
        found = self.sandbox.ledger.report(token)
        if found is None:
            self._send(404, denied.replace(b"AccessDenied", b"NoSuchKey") % b"Not found",
                       "application/xml")
            return
        file_name, pdf = found
        self._send(200, pdf, "application/pdf",
                   {"Content-Disposition": f'attachment; filename="{file_name}"'})

    # -- POST: the v2 API -------------------------------------------------------------------------

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        sandbox = self.sandbox
        path = urlsplit(self.path).path.rstrip("/")
        body = self._read_body()
        request_id = (self.headers.get("x-request-id") or "")[:200] or str(uuid.uuid4())
        sandbox._log_request(path, self.headers.get("x-request-id"), self.headers.get("x-report-required"))
        if body is None:
            self.close_connection = True
            self._envelope(400, "Request body missing or too large", None, request_id)
            return
        if path not in (STAMP_PATH, CHECK_PATH, VERIFY_PATH):
            self._envelope(404, f"Cannot POST {path}", None, request_id)
            return

        fault_header = self.headers.get("x-sandbox-fault")
        try:
            fault = sandbox._choose_fault(fault_header)
        except ValueError as exc:
            self._envelope(400, str(exc), None, request_id)
            return
        if fault is not None and fault.name != "slow":
            inject(self, fault, request_id)
            return
        try:
            shapes = parse_shapes(self.headers.get("x-sandbox-shape"))
        except ValueError as exc:
            self._envelope(400, str(exc), None, request_id)
            return

        headers: dict[str, str] = {}
        if sandbox.rate_limiter is not None:
            now = sandbox.clock()
            allowed, remaining, reset = sandbox.rate_limiter.hit(now)
            headers = {"X-RateLimit-Limit": str(sandbox.rate_limiter.limit),
                       "X-RateLimit-Remaining": str(max(0, remaining)),
                       "X-RateLimit-Reset": str(math.ceil(reset))}
            if not allowed:
                sandbox._count("rate_limited")
                headers["Retry-After"] = str(max(1, seconds_until(reset, now)))
                self._envelope(429, "Too many requests, please slow down", None, request_id, headers)
                return

        if not hmac.compare_digest(self.headers.get("x-api-key") or "", sandbox.api_key):
            sandbox._count("auth_failures")
            self._envelope(401, "Invalid or missing API key", None, request_id, headers)
            return
        try:
            request = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            self._envelope(400, "Request body is not valid JSON", None, request_id, headers)
            return
        digest = request.get("hash") if isinstance(request, dict) else None
        if not isinstance(digest, str) or not _HEX64.fullmatch(digest):
            self._envelope(400, "Invalid hash: expected 64 hexadecimal characters", None,
                           request_id, headers)
            return
        digest = digest.lower()

        if path == STAMP_PATH:
            status, message, data = sandbox.do_stamp(digest, request_id)
        elif path == CHECK_PATH:
            status, message, data = sandbox.do_check(digest, request_id)
        else:
            report = (self.headers.get("x-report-required") or "").strip().lower() == "true"
            status, message, data = sandbox.do_verify(digest, request, report, request_id)

        if fault is not None:  # slow: done, but the answer comes late (or never reaches the client)
            sandbox._stopping.wait(slow_seconds(fault.arg))
            if sandbox._stopping.is_set():
                self.close_connection = True
                return
        if status < 400 and shapes:
            data = reshape(data, sandbox._lagging(shapes, path, digest), path)
        self._envelope(status, message, data, request_id, headers, shapes=shapes)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def __init__(self, address, sandbox: SandboxServer):
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.sandbox = sandbox
        super().__init__(address, _Handler)

    def handle_error(self, request, client_address) -> None:
        log.debug("sandbox connection from %s ended with an error", client_address, exc_info=True)


class SandboxServer:
    """Start with ``start()`` (returns at once; serves on a background thread), end with ``stop()``."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, api_key: str | None = None,
                 block_time: float = 50.0, db: str = ":memory:", quota: int | None = None,
                 rate_limit=None, fault_rate: float = 0.0, seed: int | None = None,
                 report_ttl: float = 3600, clock=time.time):
        self.host = host
        self.requested_port = port
        self.api_key = api_key or "sandbox-" + secrets.token_urlsafe(18)
        self.clock = clock
        self.ledger = Ledger(str(db), block_time=block_time, clock=clock)
        self.quota = quota
        self.rate_limiter = None
        limit = parse_rate_limit(rate_limit)
        if limit is not None:
            self.rate_limiter = _RateLimiter(*limit)
        if not 0.0 <= fault_rate <= 1.0:
            raise ValueError("fault_rate must be between 0 and 1")
        self.fault_rate = fault_rate
        self._rng = random.Random(seed)
        self.report_ttl = float(report_ttl)
        self._counters = dict.fromkeys(
            ("requests", "connections", "submissions", "checks", "verifications", "reports",
             "faults_injected", "rate_limited", "auth_failures", "quota_refused"), 0)
        self._fault_counts: dict[str, int] = {}
        self._request_log: collections.deque = collections.deque(maxlen=REQUEST_LOG_SIZE)
        self._lag_counts: dict[tuple[str, str], int] = {}  # (no-record shape, hash) -> answers so far
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self) -> SandboxServer:
        if self._httpd is not None:
            return self
        self._stopping.clear()
        self._httpd = _HTTPServer((self.host, self.requested_port), self)
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="integritas-sandbox", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Block until ``stop()`` (from a signal handler or another thread)."""
        self.start()
        self._stopping.wait()

    def stop(self) -> None:
        self._stopping.set()
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def close(self) -> None:
        """Stop serving and release the ledger; ``stop()`` alone can be followed by ``start()``."""
        self.stop()
        self.ledger.close()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SandboxServer({self.base_url if self._httpd else 'stopped'})"

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the sandbox is not running")
        return self._httpd.server_address[1]

    @property
    def origin(self) -> str:
        host = self.host if self.host not in ("", "0.0.0.0", "::") else "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        return self.origin + API_PREFIX

    # -- bookkeeping ------------------------------------------------------------------------------

    def _track(self, connection: socket.socket, alive: bool) -> None:
        with self._lock:
            if alive:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def _count(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self._counters[name] = self._counters.get(name, 0) + amount

    def _choose_fault(self, header: str | None) -> FaultSpec | None:
        self._count("requests")
        if header:
            spec = FaultSpec.parse(header)
            with self._lock:
                if spec.times is not None:
                    used = self._fault_counts.get(spec.key, 0)
                    if used >= spec.times:
                        return None
                    self._fault_counts[spec.key] = used + 1
                self._counters["faults_injected"] += 1
            return spec
        if self.fault_rate > 0:
            with self._lock:
                if self._rng.random() < self.fault_rate:
                    self._counters["faults_injected"] += 1
                    name = self._rng.choice(RANDOM_FAULTS)
                    return FaultSpec(name, None, None, name)
        return None

    def _log_request(self, path: str, request_id: str | None, report: str | None) -> None:
        with self._lock:
            self._request_log.append({"path": path, "request_id": request_id,
                                      "report": (report or "").strip().lower() == "true"})

    def requests_seen(self) -> list[dict]:
        """The latest POSTs, oldest first: ``{"path", "request_id", "report"}`` each."""
        with self._lock:
            return list(self._request_log)

    def _lagging(self, shapes: tuple[str, ...], path: str, digest: str) -> tuple[str, ...]:
        """The shapes with ``no-record:N`` as plain ``no-record`` while this hash has had fewer than
        N such verify answers, and left out after that."""
        due = []
        for shape in shapes:
            name, _, count = shape.partition(":")
            if name == "no-record" and count and path == VERIFY_PATH:
                with self._lock:
                    used = self._lag_counts.get((shape, digest), 0)
                    if used >= int(count):
                        continue
                    self._lag_counts[(shape, digest)] = used + 1
            due.append(name if name == "no-record" else shape)
        return tuple(due)

    def stats(self) -> dict:
        counts = self.ledger.counts()
        with self._lock:
            stats = dict(self._counters)
        stats.update(anchored_hashes=counts["anchored_hashes"], records=counts["records"],
                     pending=counts["pending"], block_height=counts["block_height"])
        return stats

    def sign(self, token: str, expires: str) -> str:
        return hmac.new(self.ledger.secret.encode(), f"{token}:{expires}".encode(),
                        hashlib.sha256).hexdigest()

    # -- the three operations ---------------------------------------------------------------------

    def do_stamp(self, digest: str, request_id: str) -> tuple[int, str, dict | None]:
        with self._lock:
            if self.quota is not None and self._counters["submissions"] >= self.quota:
                self._counters["quota_refused"] += 1
                return 402, "API usage limit reached for your plan. Upgrade to continue.", None
            self._counters["submissions"] += 1
        on_chain = self.ledger.confirmed(digest)
        self.ledger.submit(digest)  # stamping again adds another record, as the real service does
        if on_chain:
            return 200, "Hash already anchored - verification data returned", self._search_payload(
                request_id, self._verification(digest, on_chain))
        command = {
            "service": "MINIMA_NODE",
            "command": "send",
            "params": {"amount": "1e-22", "address": MINIMA_SEND_ADDRESS,
                       "state": {"99": "0x" + digest.upper()}},
            "status": True,
        }
        return 200, "Hash anchored successfully.", command

    def do_check(self, digest: str, request_id: str) -> tuple[int, str, dict]:
        started = time.perf_counter()
        self._count("checks")
        found = self.ledger.is_confirmed(digest)
        return 200, "Hash checked", {
            "service": "SEARCH_API", "apiVersion": 2, "requestId": request_id,
            "responseTime": f"{(time.perf_counter() - started) * 1000:.2f} ms",
            "hash": digest,
            "data": "Hash found." if found else "Hash not found.",
        }

    def do_verify(self, digest: str, request: dict, report: bool,
                  request_id: str) -> tuple[int, str, dict | None]:
        file_name = request.get("filename", "")
        file_size = request.get("filesize", 0)
        if file_name is None:
            file_name = ""
        if file_size is None:
            file_size = 0
        if (not isinstance(file_name, str) or len(file_name) > 1024 or isinstance(file_size, bool)
                or not isinstance(file_size, int) or file_size < 0):
            return 400, "Invalid filename or filesize", None
        self._count("verifications")
        started = time.perf_counter()
        records = self.ledger.confirmed(digest)
        verification = self._verification(digest, records, file_name=file_name, file_size=file_size)
        file_info = None
        if report:
            verification["nftCoinId"] = random_id()
            verification["nftTxnId"] = random_id()
            file_info = self._make_report(digest, verification, records, file_name, file_size)
        payload = self._search_payload(request_id, verification, started)
        if file_info is not None:
            payload["file"] = file_info
            return 200, "Verification complete - PDF uploaded", payload
        return 200, "Verification complete", payload

    # -- payload helpers --------------------------------------------------------------------------

    @staticmethod
    def _verification(digest: str, records: list[Record], *, file_name: str = "",
                      file_size: int = 0) -> dict:
        upper = digest.upper()
        return {
            "fileHash": upper,
            "fileName": file_name,
            "fileSize": file_size,
            "result": "full match" if records else "no match",
            "method": "file",
            "uniqueHashes": 1 if records else 0,
            "blockchainData": [
                {"blockNumber": r.block_number, "blockDate": r.block_date, "txpowId": r.txpow_id,
                 "transactionId": r.transaction_id, "matchedHash": r.hash.upper()}
                for r in records
            ],
            "fileSegments": ([{"matchedHash": upper, "offset": 0, "packetSize": file_size}]
                             if records else []),
        }

    @staticmethod
    def _search_payload(request_id: str, verification: dict, started: float | None = None) -> dict:
        elapsed = (time.perf_counter() - started) * 1000 if started else 0.5
        return {"service": "SEARCH_API", "apiVersion": 2, "requestId": request_id,
                "responseTime": f"{elapsed:.2f} ms", "data": verification}

    def _make_report(self, digest: str, verification: dict, records: list[Record], file_name: str,
                     file_size: int) -> dict:
        from integritas_gui.sandbox.report_pdf import render_report  # reportlab only when needed

        now = self.clock()
        stamp = iso_utc(now)
        pdf = render_report(file_hash=digest, result=verification["result"], records=records,
                            generated_at=stamp, file_name=file_name, file_size=file_size,
                            nft_coin_id=verification["nftCoinId"],
                            nft_txn_id=verification["nftTxnId"])
        report_name = f"verification-report-{stamp.replace(':', '-').replace('.', '-', 1)}.pdf"
        token = self.ledger.save_report(report_name, pdf)
        expires = str(int(now + self.report_ttl))
        self._count("reports")
        return {
            "fileName": report_name,
            "downloadUrl": (f"{self.origin}{REPORTS_PREFIX}{token}.pdf?expires={expires}"
                            f"&sig={self.sign(token, expires)}"),
            "fileSize": len(pdf),
            "expiresIn": _describe_ttl(self.report_ttl),
            "bucket": "reports",
        }


def _describe_ttl(seconds: float) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        hours = int(seconds // 3600)
        return f"{hours} hour" + ("s" if hours != 1 else "")
    if seconds >= 60 and seconds % 60 == 0:
        minutes = int(seconds // 60)
        return f"{minutes} minute" + ("s" if minutes != 1 else "")
    return f"{seconds:g} seconds"
