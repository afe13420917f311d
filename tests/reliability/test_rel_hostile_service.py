"""Hostile service answers: the response parsers fuzzed with random and mutated envelopes (only a
typed result or a ServiceError ever comes out), and report links that try path traversal, serve HTML
or an endless body, redirect to another host or use plain HTTP off this machine: refused with a clear
message, nothing written outside the chosen folder."""

from __future__ import annotations

import collections
import copy
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from integritas_gui.core.answers import decode_response, parse_check, parse_stamp, parse_verify
from integritas_gui.core.client import (
    CheckResult,
    IntegritasClient,
    ReportLink,
    ServiceError,
    StampResult,
    VerifyResult,
)
from integritas_gui.core.report_download import REPORT_ATTEMPTS

HASH = "106f1589b5818a400679a87a19214c43605dec3ebfdd61e45a776a81c120dd9b"
PDF = b"%PDF-1.4\n" + b"0" * 2000 + b"\n%%EOF\n"

VERIFY_ENVELOPE = {
    "service": "CORE_API", "apiVersion": 2, "requestId": "r", "status": "success", "statusCode": 200,
    "message": "Verification complete - PDF uploaded", "timestamp": "2026-01-29T13:54:50.427Z",
    "data": {
        "service": "SEARCH_API", "apiVersion": 2, "requestId": "r", "responseTime": "3346.43 ms",
        "data": {"fileHash": HASH.upper(), "fileName": "", "fileSize": 0, "result": "full match",
                 "nftCoinId": "0xB2", "nftTxnId": "0x00", "method": "file", "uniqueHashes": 1,
                 "blockchainData": [{"blockNumber": 1906787, "blockDate": "2026-01-21T09:55:48.726Z",
                                     "txpowId": "0x01", "transactionId": "0x02", "matchedHash": HASH}],
                 "fileSegments": [{"matchedHash": HASH, "offset": 0, "packetSize": 0}]},
        "file": {"fileName": "verification-report.pdf", "downloadUrl": "https://x.example/r.pdf",
                 "fileSize": 78082, "expiresIn": "1 hour", "bucket": "reports"},
    },
}
STAMP_ENVELOPE = {**VERIFY_ENVELOPE, "message": "Hash anchored successfully.",
                  "data": {"service": "MINIMA_NODE", "command": "send",
                           "params": {"amount": "1e-22", "address": "0x29", "state": {"99": "0x" + HASH}},
                           "status": True}}
CHECK_ENVELOPE = {**VERIFY_ENVELOPE, "message": "Hash checked",
                  "data": {"service": "SEARCH_API", "apiVersion": 2, "hash": HASH, "data": "Hash found."}}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-2**70, max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, prefix + (key,))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _paths(child, prefix + (index,))


@st.composite
def mutated_envelopes(draw):
    """A documented envelope with a few values replaced by random JSON, or keys deleted."""
    envelope = copy.deepcopy(draw(st.sampled_from([VERIFY_ENVELOPE, STAMP_ENVELOPE, CHECK_ENVELOPE])))
    for _ in range(draw(st.integers(1, 4))):
        paths = [p for p in _paths(envelope) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = envelope
        for step in path[:-1]:
            parent = parent[step]
        if draw(st.booleans()) and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(json_values)
    return envelope


bodies = st.one_of(
    mutated_envelopes().map(lambda e: json.dumps(e).encode()),
    json_values.map(lambda v: json.dumps(v).encode()),
    mutated_envelopes().flatmap(lambda e: st.integers(0, 400).map(lambda n: json.dumps(e).encode()[:n])),
    st.binary(max_size=300),
    st.just(b"<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1></body></html>"),
)
statuses = st.one_of(st.sampled_from([200, 201, 204, 301, 302, 400, 401, 402, 403, 404, 429, 500, 502, 503]),
                     st.integers(100, 599))
retry_after = st.one_of(st.none(), st.text(max_size=30), st.sampled_from(["1", "-5", "1e400", "nan",
                                                                          "Wed, 21 Oct 2015 07:28:00 GMT"]))


def _check_typed(result, kind: str) -> None:
    if kind == "stamp":
        assert isinstance(result, StampResult) and result.hash == HASH
        assert result.verification is None or isinstance(result.verification, VerifyResult)
    elif kind == "check":
        assert isinstance(result, CheckResult) and result.status in ("found", "not_found", "unknown")
    else:
        assert isinstance(result, VerifyResult)
        assert result.result in ("full match", "partial match", "no match", "unknown")
        assert all(isinstance(s.offset, int) and s.offset >= 0 for s in result.segments)
        assert result.report is None or isinstance(result.report, ReportLink)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(status=statuses, body=bodies, retry=retry_after, kind=st.sampled_from(["stamp", "check", "verify"]))
def test_parsers_return_typed_results_or_service_errors(status, body, retry, kind):
    headers = {"retry-after": retry} if retry is not None else {}
    parse = {"stamp": parse_stamp, "check": parse_check, "verify": parse_verify}[kind]
    try:
        result = parse(decode_response(status, body, headers), HASH)
    except ServiceError as exc:
        assert exc.kind in ServiceError.KINDS
        assert exc.message and "<" not in exc.message and "\n" not in exc.message
        assert exc.retry_after is None or exc.retry_after >= 0
        return
    assert 200 <= status < 300
    _check_typed(result, kind)


@settings(max_examples=300, deadline=None)
@given(envelope=json_values, kind=st.sampled_from(["stamp", "check", "verify"]))
def test_parsers_take_any_json_value_directly(envelope, kind):
    parse = {"stamp": parse_stamp, "check": parse_check, "verify": parse_verify}[kind]
    try:
        _check_typed(parse(envelope, HASH), kind)
    except ServiceError as exc:
        assert exc.kind in ServiceError.KINDS


def test_an_answer_about_another_hash_proves_nothing():
    envelope = copy.deepcopy(VERIFY_ENVELOPE)
    envelope["data"]["data"]["fileHash"] = "ff" * 32
    assert parse_verify(envelope, HASH).result == "unknown"
    check = copy.deepcopy(CHECK_ENVELOPE)
    check["data"]["hash"] = "ff" * 32
    assert parse_check(check, HASH).status == "unknown"


# ---- hostile report links, against a real HTTP server on loopback --------------------------------

class _Hostile(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    other_origin = ""

    def log_message(self, *args) -> None:
        pass

    def _send(self, status, body, content_type="application/pdf", extra=None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    gets: collections.Counter = collections.Counter()

    def _send_endless(self, content_type: str, first_chunk: bytes) -> None:
        """A chunked body that does not stop (bounded: at most 256 MiB, far past any client limit)."""
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        chunk = first_chunk
        try:
            for _ in range(4096):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                chunk = b"A" * (64 * 1024)
        except OSError:
            pass
        self.close_connection = True

    def _send_huge_declared(self, content_type: str) -> None:
        """Headers that promise 10 GiB, then nothing."""
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(10 * 1024**3))
        self.end_headers()
        self.close_connection = True

    def do_GET(self):  # noqa: N802
        path = self.path.split("?")[0]
        _Hostile.gets[path] += 1
        if path.startswith("/busy-then-ok/"):  # 503 (then 429 with Retry-After) before the PDF
            tries = _Hostile.gets[path]
            if tries == 1:
                self._send(503, b"busy", "text/plain")
            elif tries == 2:
                self._send(429, b"slow down", "text/plain", extra={"Retry-After": "1"})
            else:
                self._send(200, PDF)
        elif path.startswith("/always-busy/"):
            self._send(502, b"bad gateway", "text/plain")
        elif path == "/report.pdf":
            self._send(200, PDF)
        elif path == "/html":
            self._send(200, b"<!DOCTYPE html><html><body>Sign in</body></html>", "text/html")
        elif path == "/endless":
            self._send_endless("application/pdf", b"%PDF-" + b"A" * (64 * 1024 - 5))
        elif path == "/huge-declared":
            self._send_huge_declared("application/pdf")
        elif path == "/redirect-away":
            self._send(302, b"", extra={"Location": self.other_origin + "/report.pdf"})
        elif path == "/redirect-loop":
            self._send(302, b"", extra={"Location": "/redirect-loop"})
        elif path == "/redirect-same":
            self._send(302, b"", extra={"Location": "/report.pdf"})
        else:
            self._send(404, b"no")


    posts = 0

    def do_POST(self):  # noqa: N802 -- JSON answers that are not answers
        _Hostile.posts += 1
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        prefix = self.path.split("/")[1]
        if prefix == "endless":
            self._send_endless("application/json", b'{"status": "success", "data": {"pad": "' + b"A" * (64 * 1024))
        elif prefix == "huge-declared":
            self._send_huge_declared("application/json")
        elif prefix == "big":  # well-formed JSON, just far too big to be an answer
            body = json.dumps({"status": "success", "data": {"pad": "A" * (5 * 1024 * 1024)}}).encode()
            try:
                self._send(200, body, "application/json")
            except OSError:  # the client hung up after its limit
                self.close_connection = True
        else:
            self._send(404, b"no")


@pytest.fixture
def hostile():
    servers = []
    for host in ("127.0.0.1", "127.0.0.2"):
        handler = type("Handler", (_Hostile,), {})
        server = ThreadingHTTPServer((host, 0), handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(server)
    main, other = servers
    main.RequestHandlerClass.other_origin = f"http://127.0.0.2:{other.server_address[1]}"
    yield f"http://127.0.0.1:{main.server_address[1]}"
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def folders(tmp_path):
    """The chosen folder, inside a parent that must stay untouched."""
    parent = tmp_path / "parent"
    chosen = parent / "reports"
    chosen.mkdir(parents=True)
    (parent / "keep.txt").write_text("mine")
    return parent, chosen


def _untouched(parent: Path, chosen: Path) -> list[str]:
    return sorted(str(p.relative_to(parent)) for p in parent.rglob("*") if not p.is_relative_to(chosen))


@pytest.mark.parametrize("name", ["../../evil.pdf", "..\\..\\evil.pdf", "/etc/cron.d/evil.pdf", "",
                                  "....//....//evil", "CON.pdf", "a\x00b.pdf", ".hidden.pdf", "x" * 400,
                                  "report.pdf/../../../evil.pdf", "%2e%2e%2fevil.pdf"])
def test_report_name_cannot_leave_the_chosen_folder(name, hostile, folders):
    parent, chosen = folders
    with IntegritasClient(hostile + "/core", "k-123456") as client:
        saved = client.download_report(ReportLink(name, hostile + "/report.pdf", None, None), chosen)
    assert saved.parent == chosen and saved.suffix == ".pdf" and saved.read_bytes() == PDF
    assert len(saved.name) <= 120 and "/" not in saved.name and "\\" not in saved.name
    assert _untouched(parent, chosen) == ["keep.txt"]
    assert [p.name for p in chosen.iterdir()] == [saved.name]


@pytest.mark.parametrize("path, phrase", [
    ("/html", "did not return a PDF"),
    ("/endless", "larger than 1 MiB"),
    ("/huge-declared", "larger than 1 MiB"),
    ("/redirect-away", "redirected to another site"),
    ("/redirect-loop", "redirected too many times"),
    ("/missing", "expired or is no longer valid"),
])
def test_hostile_report_links_are_refused(path, phrase, hostile, folders):
    parent, chosen = folders
    with IntegritasClient(hostile + "/core", "k-123456") as client:
        with pytest.raises(ServiceError) as caught:
            client.download_report(ReportLink("r.pdf", hostile + path, None, None), chosen,
                                   max_bytes=1024 * 1024)
    assert caught.value.kind == "report" and phrase in caught.value.message
    assert list(chosen.iterdir()) == []  # no partial file, no temp file
    assert _untouched(parent, chosen) == ["keep.txt"]


def test_same_host_redirect_is_followed(hostile, folders):
    _, chosen = folders
    with IntegritasClient(hostile + "/core", "k-123456") as client:
        saved = client.download_report(ReportLink("r.pdf", hostile + "/redirect-same", None, None), chosen)
    assert saved.read_bytes() == PDF


@pytest.mark.parametrize("url, phrase", [
    ("http://reports.example.com/r.pdf", "not secure (plain http)"),
    ("ftp://reports.example.com/r.pdf", "cannot use"),
    ("file:///etc/passwd", "cannot use"),
    ("javascript:alert(1)", "cannot use"),
])
def test_report_links_off_this_machine_must_be_https(url, phrase, folders):
    _, chosen = folders
    seen = []
    transport = httpx.MockTransport(lambda request: seen.append(request) or httpx.Response(200, content=PDF))
    with IntegritasClient("https://integritas.example/core", "k-123456", transport=transport) as client:
        with pytest.raises(ServiceError) as caught:
            client.download_report(ReportLink("r.pdf", url, None, None), chosen)
    assert phrase in caught.value.message and seen == []  # refused before any request
    assert list(chosen.iterdir()) == []


def test_https_report_redirected_to_plain_http_elsewhere_is_refused(folders):
    _, chosen = folders
    seen = []

    def handler(request):
        seen.append(str(request.url))
        return httpx.Response(302, headers={"location": "http://evil.example.net/r.pdf"})

    with IntegritasClient("https://integritas.example/core", "k-123456",
                          transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(ServiceError) as caught:
            client.download_report(ReportLink("r.pdf", "https://files.integritas.example/r.pdf", None, None),
                                   chosen)
    assert "another site" in caught.value.message or "not secure" in caught.value.message
    assert seen == ["https://files.integritas.example/r.pdf"]
    assert list(chosen.iterdir()) == []


def test_report_request_never_carries_the_api_key(hostile, folders):
    """The presigned link is another host's business: the key stays with the API requests."""
    _, chosen = folders
    seen = []

    def handler(request):
        seen.append(dict(request.headers))
        return httpx.Response(200, content=PDF, headers={"content-type": "application/pdf"})

    with IntegritasClient("https://integritas.example/core", "k-SECRET-9",
                          transport=httpx.MockTransport(handler)) as client:
        client.download_report(ReportLink("r.pdf", "https://files.example/r.pdf", None, None), chosen)
    assert seen and all("k-SECRET-9" not in json.dumps(h) for h in seen)


@pytest.mark.parametrize("path", ["/endless", "/huge-declared", "/big"])
def test_an_oversized_json_answer_is_refused_at_once(path, hostile):
    """An endless or huge answer is cut off at 4 MiB with a plain message, not retried, and never
    held whole in memory."""
    import time

    before = _Hostile.posts
    with IntegritasClient(hostile + path, "k-123456", timeout=10) as client:
        started = time.monotonic()
        with pytest.raises(ServiceError) as caught:
            client.check("ab" * 32)
    assert caught.value.kind == "malformed"
    assert "larger than 4 MiB" in caught.value.message and "k-123456" not in caught.value.message
    assert _Hostile.posts - before == 1  # not retried
    assert time.monotonic() - started < 10


def test_a_busy_report_server_is_retried_before_giving_up(hostile, folders):
    """A report link is worth more than one try: asking again would mint another NFT."""
    import uuid

    parent, chosen = folders
    waits = []
    ok_path, busy_path = f"/busy-then-ok/{uuid.uuid4().hex}", f"/always-busy/{uuid.uuid4().hex}"
    with IntegritasClient(hostile + "/core", "k-123456", sleep=waits.append) as client:
        saved = client.download_report(ReportLink("r.pdf", hostile + ok_path, None, None), chosen)
        assert saved.read_bytes() == PDF
        assert _Hostile.gets[ok_path] == 3 and len(waits) == 2
        assert waits[1] == 1.0  # the 429's Retry-After
        with pytest.raises(ServiceError) as caught:
            client.download_report(ReportLink("r.pdf", hostile + busy_path, None, None), chosen)
        assert _Hostile.gets[busy_path] == REPORT_ATTEMPTS
        assert caught.value.kind == "report" and "HTTP 502" in caught.value.message
        missing = f"/missing/{uuid.uuid4().hex}"
        with pytest.raises(ServiceError):
            client.download_report(ReportLink("r.pdf", hostile + missing, None, None), chosen)
        assert _Hostile.gets[missing] == 1  # an expired link is not asked again
    assert sorted(p.name for p in chosen.iterdir()) == [saved.name]  # no partial files
    assert _untouched(parent, chosen) == ["keep.txt"]
