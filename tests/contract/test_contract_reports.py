"""Report download: streamed to disk, checked to be a PDF, size-capped, file name sanitised, only
HTTPS (or this machine), no redirects to other hosts. Real sandbox links plus a hostile loopback host."""

from __future__ import annotations

import base64
import re
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from integritas_gui.core.client import ReportLink, ServiceError
from tests.contract.contract_helpers import RecordingTransport, new_hash, stats
from tests.sandbox_fixture import fast_client, running_sandbox, wait_for_block

SMALL_PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
MiB = 1024 * 1024


class HostileReportHost:
    """A report host on 127.0.0.1 that misbehaves in the ways a download must survive."""

    def __init__(self):
        host = self
        self.big_bytes_sent = 0

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def reply(self, status, body=b"", content_type="application/pdf", headers=()):
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for name, value in headers:
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):  # noqa: N802
                path = self.path.split("?")[0]
                if path == "/ok.pdf":
                    self.reply(200, SMALL_PDF)
                elif path == "/html":
                    self.reply(200, b"<html><body>Access denied</body></html>", "text/html")
                elif path == "/big-chunked":
                    self.send_response(200)
                    self.send_header("Content-Type", "application/pdf")
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    chunk = b"%PDF-" + b"0" * (64 * 1024 - 5)
                    try:
                        for _ in range(320):  # 20 MiB if nobody stops reading
                            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                            host.big_bytes_sent += len(chunk)
                            chunk = b"0" * (64 * 1024)
                        self.wfile.write(b"0\r\n\r\n")
                    except OSError:
                        self.close_connection = True
                elif path == "/big-declared":
                    self.send_response(200)
                    self.send_header("Content-Type", "application/pdf")
                    self.send_header("Content-Length", str(100 * MiB))
                    self.end_headers()
                    self.close_connection = True
                elif path == "/cut-short":
                    self.send_response(200)
                    self.send_header("Content-Type", "application/pdf")
                    self.send_header("Content-Length", "100000")
                    self.end_headers()
                    self.wfile.write(SMALL_PDF)
                    self.close_connection = True
                elif path == "/expired":
                    self.reply(403, b"<Error><Code>AccessDenied</Code></Error>", "application/xml")
                elif path == "/redirect-same":
                    self.reply(302, headers=[("Location", "/ok.pdf")])
                elif path == "/redirect-other":
                    self.reply(302, headers=[("Location", f"http://localhost:{host.port}/ok.pdf")])
                elif path == "/redirect-loop":
                    self.reply(302, headers=[("Location", "/redirect-loop")])
                else:
                    self.reply(404, b"", "text/plain")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        daemon=True)
        self._thread.start()

    def link(self, path: str, name: str = "verification-report.pdf") -> ReportLink:
        return ReportLink(name, f"http://127.0.0.1:{self.port}{path}", None, "1 hour")

    def close(self):
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def hostile():
    host = HostileReportHost()
    yield host
    host.close()


@pytest.fixture
def out(tmp_path) -> Path:
    """An empty folder for downloads (tmp_path also holds the test's data dir)."""
    return tmp_path / "reports"


@pytest.fixture
def report_link(sandbox, sandbox_client):
    digest = new_hash()
    sandbox_client.stamp(digest)
    wait_for_block(sandbox)
    link = sandbox_client.verify(digest, report=True).report
    return digest, link


def pdf_text(pdf: bytes) -> bytes:
    """The page content of a ReportLab PDF (ASCII85 + Flate streams), to read what it says."""
    text = b""
    for stream in re.findall(rb"stream\r?\n(.*?)endstream", pdf, re.S):
        try:
            text += zlib.decompress(base64.a85decode(stream.strip().removesuffix(b"~>")))
        except (ValueError, zlib.error):
            continue
    return text


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# ---- the sandbox's real report ---------------------------------------------------------------------


def test_report_is_saved_whole_under_the_servers_name(sandbox, sandbox_client, report_link, out):
    digest, link = report_link
    dest = out / "new folder"
    saved = sandbox_client.download_report(link, dest)
    assert saved.parent == dest and saved.name == link.file_name
    pdf = saved.read_bytes()
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    assert len(pdf) == link.file_size
    assert digest.encode() in pdf_text(pdf)  # the report is about our hash
    assert leftovers(dest) == [link.file_name]  # no partial file left behind
    assert stats(sandbox)["reports"] == 1


def test_a_second_copy_never_overwrites_the_first(sandbox_client, out):
    link = sandbox_client.verify(new_hash(), report=True).report
    first = sandbox_client.download_report(link, out)
    second = sandbox_client.download_report(link, out)
    assert first != second and second.name == first.name[:-4] + " (2).pdf"
    assert first.read_bytes() == second.read_bytes()


HOSTILE_NAMES = [
    ("../../etc/passwd", "passwd.pdf"),
    ("..\\..\\Windows\\win.ini", "win.ini.pdf"),
    ("/absolute/report.pdf", "report.pdf"),
    ("CON", "report-CON.pdf"),
    ("report\x00\u202eevil\x1b.pdf", "reportevil.pdf"),
    ('a<b>:c|d?"e*.pdf', "a_b__c_d__e_.pdf"),
    (".hidden.pdf", "hidden.pdf"),
    ("....", "verification-report.pdf"),
    ("évaluation.PDF", "évaluation.pdf"),
    ("x" * 300 + ".pdf", "x" * 116 + ".pdf"),
]


def test_the_servers_file_name_is_sanitised(sandbox_client, out):
    link = sandbox_client.verify(new_hash(), report=True).report  # a "no match" report will do
    for index, (server_name, saved_name) in enumerate(HOSTILE_NAMES):
        hostile_link = ReportLink(server_name, link.download_url, link.file_size, link.expires_in)
        dest = out / str(index)
        saved = sandbox_client.download_report(hostile_link, dest)
        assert saved == dest / saved_name, server_name
        assert leftovers(dest) == [saved_name]
    assert leftovers(out) == sorted(str(i) for i in range(len(HOSTILE_NAMES)))


def test_an_expired_link_says_to_verify_again(out):
    with running_sandbox(report_ttl=0) as server, fast_client(server.base_url, server.api_key) as client:
        link = client.verify(new_hash(), report=True).report
        with pytest.raises(ServiceError) as caught:
            client.download_report(link, out)
    assert (caught.value.kind, caught.value.status) == ("report", 403)
    assert "expired" in caught.value.message and "Verify again" in caught.value.message
    assert leftovers(out) == []


def test_a_tampered_link_is_refused_by_the_sandbox(sandbox_client, out):
    link = sandbox_client.verify(new_hash(), report=True).report
    forged = ReportLink(link.file_name, link.download_url[:-4] + "0000", None, None)
    with pytest.raises(ServiceError) as caught:
        sandbox_client.download_report(forged, out)
    assert caught.value.status == 403 and leftovers(out) == []


# ---- links the client must not follow --------------------------------------------------------------


@pytest.mark.parametrize("url", ["http://integritas.technology/files/reports/r.pdf",
                                 "http://10.0.0.8/r.pdf", "ftp://127.0.0.1/r.pdf",
                                 "file:///etc/passwd", "javascript:alert(1)", ""])
def test_non_https_links_to_other_machines_are_refused_without_a_request(sandbox, out, url):
    transport = RecordingTransport()
    with fast_client(sandbox.base_url, sandbox.api_key, transport=transport) as client:
        with pytest.raises(ServiceError) as caught:
            client.download_report(ReportLink("r.pdf", url, None, None), out)
    assert caught.value.kind == "report"
    assert transport.requests == [] and leftovers(out) == []


def test_redirect_on_the_same_host_is_followed(sandbox_client, hostile, out):
    saved = sandbox_client.download_report(hostile.link("/redirect-same"), out)
    assert saved.read_bytes() == SMALL_PDF


def test_redirect_to_another_host_is_refused(sandbox_client, hostile, out):
    with pytest.raises(ServiceError) as caught:
        sandbox_client.download_report(hostile.link("/redirect-other"), out)
    assert "another site" in caught.value.message and leftovers(out) == []


def test_redirect_loop_gives_up(sandbox_client, hostile, out):
    with pytest.raises(ServiceError) as caught:
        sandbox_client.download_report(hostile.link("/redirect-loop"), out)
    assert "too many times" in caught.value.message


# ---- bodies that are not a whole, reasonable PDF -------------------------------------------------------


def test_an_html_page_is_not_saved_as_a_pdf(sandbox_client, hostile, out):
    with pytest.raises(ServiceError) as caught:
        sandbox_client.download_report(hostile.link("/html"), out)
    assert "did not return a PDF" in caught.value.message and leftovers(out) == []


def test_a_declared_size_over_the_cap_is_refused_before_reading(sandbox_client, hostile, out):
    with pytest.raises(ServiceError) as caught:
        sandbox_client.download_report(hostile.link("/big-declared"), out, max_bytes=5 * MiB)
    assert "larger than 5 MiB" in caught.value.message and leftovers(out) == []


def test_an_undeclared_stream_over_the_cap_is_stopped_while_streaming(sandbox_client, hostile, out):
    with pytest.raises(ServiceError) as caught:
        sandbox_client.download_report(hostile.link("/big-chunked"), out, max_bytes=1 * MiB)
    assert "download was stopped" in caught.value.message and leftovers(out) == []
    # Streamed: the client stopped reading long before the host's 20 MiB were sent.
    assert hostile.big_bytes_sent < 10 * MiB


def test_a_download_cut_short_leaves_nothing_behind(sandbox_client, hostile, out):
    with pytest.raises(ServiceError) as caught:
        sandbox_client.download_report(hostile.link("/cut-short"), out)
    assert "interrupted" in caught.value.message and leftovers(out) == []


def test_an_expired_presigned_link_is_named_as_such(sandbox_client, hostile, out):
    with pytest.raises(ServiceError) as caught:
        sandbox_client.download_report(hostile.link("/expired"), out)
    assert "expired" in caught.value.message and caught.value.status == 403
