"""Keep-alive HTTP/1.1 connections for the service's small JSON POSTs, straight on http.client.

The three endpoints the app calls per file (stamp, check, verify) send and receive a few hundred
bytes. Through httpx each costs ~0.75 ms of CPU here, through http.client ~0.16 ms (docs/benchmarks.md);
in a batch of thousands of files that CPU, held under the GIL, is most of the client's work. The
client uses this pool when httpx itself would connect directly (no proxy from the environment, no
injected transport) and keeps httpx for proxies and report downloads. Failures are raised as the
matching httpx exceptions, so the caller's retry rules see one vocabulary for both paths.
"""

from __future__ import annotations

import http.client
import select
import socket
import ssl
import threading

import httpx


class AnswerTooLarge(Exception):
    """The answer's body is (or says it is) larger than the caller accepts."""


def check_declared_length(headers, max_bytes: int) -> None:
    declared = headers.get("content-length")
    if declared is not None and declared.strip().isdigit() and int(declared) > max_bytes:
        raise AnswerTooLarge()


class AnswerHeaders(dict):
    """An answer's headers by lower-case name (the first of repeated ones), read with ``get``.

    ``http.client`` parses headers with the e-mail package's parser, ~80 us of CPU under the GIL
    per answer here; splitting the lines takes ~8 us."""

    def get(self, name: str, default=None):
        return dict.get(self, name.lower(), default)

    @classmethod
    def read(cls, fp) -> "AnswerHeaders":
        headers = cls()
        name = None
        for _ in range(http.client._MAXHEADERS + 1):
            line = fp.readline(http.client._MAXLINE + 1)
            if len(line) > http.client._MAXLINE:
                raise http.client.LineTooLong("header line")
            if line in (b"\r\n", b"\n", b""):
                return headers
            text = line.decode("iso-8859-1")
            if text[0] in " \t" and name is not None:  # a folded continuation of the previous header
                headers[name] = f"{headers[name]} {text.strip()}"
                continue
            key, colon, value = text.partition(":")
            if not colon:
                continue  # not a header line: ignored, as the e-mail parser's defects are
            name = key.strip().lower()
            if name in headers:
                name = None  # a repeat: the first one counts
                continue
            headers[name] = value.strip()
        raise http.client.HTTPException(f"got more than {http.client._MAXHEADERS} headers")


class _LeanResponse(http.client.HTTPResponse):
    """``HTTPResponse`` with ``AnswerHeaders``; what ``begin`` decides (chunked, length, keep-alive)
    follows ``http.client`` exactly."""

    def begin(self) -> None:
        if self.headers is not None:
            return
        while True:
            version, status, reason = self._read_status()
            if status != http.client.CONTINUE:
                break
            AnswerHeaders.read(self.fp)  # a 100 Continue's headers
        self.code = self.status = status
        self.reason = reason.strip()
        if version in ("HTTP/1.0", "HTTP/0.9"):
            self.version = 10
        elif version.startswith("HTTP/1."):
            self.version = 11
        else:
            raise http.client.UnknownProtocol(version)
        self.headers = self.msg = AnswerHeaders.read(self.fp)
        encoding = self.headers.get("transfer-encoding")
        self.chunked = bool(encoding) and encoding.lower() == "chunked"
        if self.chunked:
            self.chunk_left = None
        self.will_close = self._check_close()
        self.length = None
        length = self.headers.get("content-length")
        if length and not self.chunked:
            try:
                self.length = int(length)
            except ValueError:
                self.length = None
            else:
                if self.length < 0:
                    self.length = None
        if (status in (http.client.NO_CONTENT, http.client.NOT_MODIFIED) or 100 <= status < 200
                or self._method == "HEAD"):
            self.length = 0
        if not self.will_close and not self.chunked and self.length is None:
            self.will_close = True


class _LeanConnection(http.client.HTTPConnection):
    response_class = _LeanResponse


class _LeanTLSConnection(http.client.HTTPSConnection):
    response_class = _LeanResponse


class DirectReply:
    """The parts of an answer the client reads: status, headers (case-insensitive), body."""

    __slots__ = ("status_code", "headers", "content")

    def __init__(self, status_code: int, headers, content: bytes):
        self.status_code = status_code
        self.headers = headers
        self.content = content


class DirectJsonPool:
    """Idle connections to one origin, reused while the server keeps them open.

    Callers bound the number of requests in flight (the client's slots); this pool keeps at most
    ``max_idle`` connections open between requests.
    """

    def __init__(self, url: httpx.URL, *, connect_timeout: float, max_idle: int,
                 ssl_context: ssl.SSLContext | None = None):
        self._https = url.scheme == "https"
        self._host = url.host
        self._port = url.port or (443 if self._https else 80)
        self._connect_timeout = connect_timeout
        self._max_idle = max(1, max_idle)
        self._ssl_context = ssl_context if self._https else None
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        self._closed = False

    @property
    def idle_connections(self) -> int:
        return len(self._idle)

    def post(self, target: str, body: bytes, headers: dict[str, str], timeout: float,
             max_bytes: int) -> DirectReply:
        """POST ``body`` to ``target`` (path and query); raises httpx.TransportError subclasses,
        or AnswerTooLarge past ``max_bytes`` of body (the connection is dropped, not read to the end)."""
        conn = self._take() or self._connect()
        try:
            conn.sock.settimeout(timeout)
            conn.request("POST", target, body=body, headers=headers)
            response = conn.getresponse()
            check_declared_length(response.msg, max_bytes)
            content = response.read(max_bytes + 1)
            if len(content) > max_bytes:
                raise AnswerTooLarge()
        except AnswerTooLarge:
            conn.close()
            raise
        except socket.timeout:
            conn.close()
            raise httpx.ReadTimeout("The service did not answer in time.") from None
        except http.client.HTTPException as exc:
            conn.close()
            raise httpx.RemoteProtocolError(f"The service broke off the answer ({type(exc).__name__}).") from None
        except OSError as exc:
            conn.close()
            raise httpx.ReadError(f"The connection failed ({exc.__class__.__name__}).") from None
        reply = DirectReply(response.status, response.msg, content)
        if response.will_close or conn.sock is None:
            conn.close()
        else:
            self._give_back(conn)
        return reply

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    # -- connections ---------------------------------------------------------------------------

    def _connect(self) -> http.client.HTTPConnection:
        if self._https:
            conn = _LeanTLSConnection(self._host, self._port, timeout=self._connect_timeout,
                                      context=self._ssl_context)
        else:
            conn = _LeanConnection(self._host, self._port, timeout=self._connect_timeout)
        try:
            conn.connect()
        except socket.timeout:
            conn.close()
            raise httpx.ConnectTimeout("Connecting to the service timed out.") from None
        except OSError as exc:  # refused, unreachable, name not found, TLS handshake or certificate
            conn.close()
            raise httpx.ConnectError(f"Could not connect ({exc.__class__.__name__}).") from None
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn

    def _take(self) -> http.client.HTTPConnection | None:
        """An idle connection the server has not closed meanwhile, or None."""
        while True:
            with self._lock:
                if not self._idle:
                    return None
                conn = self._idle.pop()
            if conn.sock is not None and not _closed_by_peer(conn.sock):
                return conn
            conn.close()

    def _give_back(self, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            if not self._closed and len(self._idle) < self._max_idle:
                self._idle.append(conn)
                return
        conn.close()


def _closed_by_peer(sock: socket.socket) -> bool:
    """An idle keep-alive socket that is readable has been closed (or sent junk): do not reuse it."""
    if isinstance(sock, ssl.SSLSocket) and sock.pending():
        return True
    try:
        if hasattr(select, "poll"):  # no FD_SETSIZE limit
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            return bool(poller.poll(0))
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)
