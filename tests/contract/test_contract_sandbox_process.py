"""The `integritas-sandbox` console script as a user runs it: the service docs' curl requests work
against it unchanged apart from the base URL, its ledger survives a restart, its limits answer like
the real service, and the `integritas` CLI works end to end against it."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import secrets
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

LISTENING = re.compile(r"Integritas sandbox listening on (http://127\.0\.0\.1:\d+/core)$")
ENVELOPE_KEYS = {"service", "apiVersion", "requestId", "status", "statusCode", "message", "timestamp",
                 "data"}
VERIFICATION_KEYS = {"fileHash", "fileName", "fileSize", "result", "method", "uniqueHashes",
                     "blockchainData", "fileSegments"}
RECORD_KEYS = {"blockNumber", "blockDate", "txpowId", "transactionId", "matchedHash"}
ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
CURL = shutil.which("curl")

pytestmark = pytest.mark.skipif(CURL is None, reason="curl is not installed")


def console_script(name: str, module: str) -> list[str]:
    """The installed console script, or the same entry point through this Python."""
    found = shutil.which(name)
    return [found] if found else [sys.executable, "-m", module]


class SandboxProcess:
    def __init__(self, *args: str):
        command = console_script("integritas-sandbox", "integritas_gui.sandbox")
        self.process = subprocess.Popen(
            [*command, "--port", "0", "--block-time", "0.2", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()
        self.base_url = self.api_key = None
        deadline = time.monotonic() + 20
        while self.base_url is None or self.api_key is None:
            try:
                line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                self.process.kill()
                raise AssertionError("the sandbox did not print its address: "
                                     + self.process.stderr.read()) from None
            if match := LISTENING.fullmatch(line):
                self.base_url = match.group(1)
            elif line.startswith("API key: "):
                self.api_key = line.removeprefix("API key: ")

    def _pump(self) -> None:
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def stop(self) -> int:
        self.process.terminate()
        return self.process.wait(timeout=10)


@contextlib.contextmanager
def sandbox_process(*args: str):
    server = SandboxProcess(*args)
    try:
        yield server
    finally:
        if server.process.poll() is None:
            assert server.stop() == 0  # SIGTERM ends it cleanly


def curl(*args: str) -> tuple[int, dict[str, str], bytes]:
    """Run curl with -i; (status, lower-case headers, body)."""
    done = subprocess.run([CURL, "-sS", "-i", *args], capture_output=True, timeout=30, check=True)
    head, _, body = done.stdout.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers, body


def post(base_url: str, path: str, body: dict, api_key: str | None, *extra_headers: str):
    """The docs' request: POST JSON with x-api-key (and any extra -H headers)."""
    args = ["-X", "POST", f"{base_url}{path}", "-H", "Content-Type: application/json"]
    if api_key is not None:
        args += ["-H", f"x-api-key: {api_key}"]
    for header in extra_headers:
        args += ["-H", header]
    status, headers, raw = curl(*args, "-d", json.dumps(body))
    return status, headers, json.loads(raw)


def assert_envelope(answer: dict, status: int, state: str = "success") -> None:
    assert set(answer) == ENVELOPE_KEYS
    assert (answer["service"], answer["apiVersion"]) == ("CORE_API", 2)
    assert (answer["status"], answer["statusCode"]) == (state, status)
    assert ISO_UTC.fullmatch(answer["timestamp"]) and answer["message"]


def test_the_docs_curl_requests_work_against_the_console_script(tmp_path):
    digest = secrets.token_hex(32)
    with sandbox_process() as sandbox:
        assert sandbox.api_key  # a random default key, printed at start
        base, key = sandbox.base_url, sandbox.api_key

        status, _, stamped = post(base, "/v2/timestamp/post", {"hash": digest}, key,
                                  "x-request-id: POSTMAN")
        assert status == 200
        assert_envelope(stamped, 200)
        assert stamped["requestId"] == "POSTMAN"
        assert stamped["message"] == "Hash anchored successfully."
        command = stamped["data"]
        assert (command["service"], command["command"], command["status"]) == ("MINIMA_NODE", "send", True)
        assert set(command["params"]) == {"amount", "address", "state"}
        assert command["params"]["state"]["99"].lower() == "0x" + digest

        status, _, checked = post(base, "/v2/file/check", {"hash": digest}, key)
        assert status == 200 and checked["data"]["data"] == "Hash not found."
        time.sleep(0.3)  # the next simulated block
        status, _, checked = post(base, "/v2/file/check", {"hash": digest}, key)
        assert_envelope(checked, 200)
        assert checked["message"] == "Hash checked"
        assert set(checked["data"]) == {"service", "apiVersion", "requestId", "responseTime", "hash",
                                        "data"}
        assert (checked["data"]["hash"], checked["data"]["data"]) == (digest, "Hash found.")

        # Stamping again: "returns verification data", and the chain gets a second record.
        status, _, again = post(base, "/v2/timestamp/post", {"hash": digest}, key)
        assert status == 200 and again["data"]["data"]["result"] == "full match"
        time.sleep(0.3)

        status, _, verified = post(base, "/v2/verify/file",
                                   {"hash": digest, "filename": "contract.pdf", "filesize": 123}, key,
                                   "x-report-required: true")
        assert_envelope(verified, 200)
        assert verified["message"] == "Verification complete - PDF uploaded"
        result = verified["data"]["data"]
        assert VERIFICATION_KEYS | {"nftCoinId", "nftTxnId"} == set(result)
        assert result["fileHash"] == digest.upper() and result["result"] == "full match"
        assert (result["fileName"], result["fileSize"]) == ("contract.pdf", 123)
        assert len(result["blockchainData"]) == 2  # stamped twice
        for record in result["blockchainData"]:
            assert set(record) == RECORD_KEYS and ISO_UTC.fullmatch(record["blockDate"])
        assert result["fileSegments"] == [{"matchedHash": digest.upper(), "offset": 0, "packetSize": 123}]
        report = verified["data"]["file"]
        assert set(report) == {"fileName", "downloadUrl", "fileSize", "expiresIn", "bucket"}
        assert report["expiresIn"] == "1 hour"

        pdf = tmp_path / "report.pdf"
        got = subprocess.run([CURL, "-sS", "-o", str(pdf), "-w", "%{http_code} %{content_type}",
                              report["downloadUrl"]], capture_output=True, text=True, check=True)
        assert got.stdout == "200 application/pdf"
        assert pdf.read_bytes().startswith(b"%PDF-") and pdf.stat().st_size == report["fileSize"]

        # A streaming client's chunked body is read like any other.
        status, _, chunked = post(base, "/v2/file/check", {"hash": digest}, key,
                                  "Transfer-Encoding: chunked")
        assert (status, chunked["data"]["data"]) == (200, "Hash found.")

        status, _, unknown = post(base, "/v2/verify/file", {"hash": secrets.token_hex(32)}, key)
        nothing = unknown["data"]["data"]
        assert (nothing["result"], nothing["uniqueHashes"]) == ("no match", 0)
        assert nothing["blockchainData"] == [] and nothing["fileSegments"] == []
        assert "file" not in unknown["data"] and "nftCoinId" not in nothing

        status, _, refused = post(base, "/v2/file/check", {"hash": digest}, None)
        assert status == 401
        assert_envelope(refused, 401, "error")
        status, _, bad = post(base, "/v2/file/check", {"hash": "xyz"}, key)
        assert status == 400
        assert_envelope(bad, 400, "error")

        status, _, counters = curl(f"{base}/_sandbox/stats")
        counters = json.loads(counters)
        assert (counters["submissions"], counters["checks"], counters["verifications"]) == (2, 3, 2)
        assert (counters["reports"], counters["records"], counters["auth_failures"]) == (1, 2, 1)


def test_a_restart_with_db_keeps_the_chain(tmp_path):
    db = tmp_path / "ledger.sqlite3"
    digest = secrets.token_hex(32)
    with sandbox_process("--db", str(db), "--api-key", "k1") as first:
        post(first.base_url, "/v2/timestamp/post", {"hash": digest}, "k1")
        time.sleep(0.3)
        _, _, before = post(first.base_url, "/v2/verify/file", {"hash": digest}, "k1")
        height = json.loads(curl(f"{first.base_url}/_sandbox/stats")[2])["block_height"]
    with sandbox_process("--db", str(db), "--api-key", "k1") as second:
        _, _, checked = post(second.base_url, "/v2/file/check", {"hash": digest}, "k1")
        assert checked["data"]["data"] == "Hash found."
        _, _, after = post(second.base_url, "/v2/verify/file", {"hash": digest}, "k1")
        assert after["data"]["data"]["blockchainData"] == before["data"]["data"]["blockchainData"]
        assert json.loads(curl(f"{second.base_url}/_sandbox/stats")[2])["block_height"] >= height


def test_quota_gives_402_and_rate_limit_gives_429_with_headers():
    with sandbox_process("--api-key", "k2", "--quota", "1", "--rate-limit", "3/3600") as sandbox:
        base = sandbox.base_url
        status, headers, first = post(base, "/v2/timestamp/post", {"hash": secrets.token_hex(32)}, "k2")
        assert status == 200
        assert (headers["x-ratelimit-limit"], headers["x-ratelimit-remaining"]) == ("3", "2")
        status, _, over_quota = post(base, "/v2/timestamp/post", {"hash": secrets.token_hex(32)}, "k2")
        assert status == 402
        assert_envelope(over_quota, 402, "error")
        assert "limit" in over_quota["message"]
        status, headers, _ = post(base, "/v2/file/check", {"hash": secrets.token_hex(32)}, "k2")
        assert status == 200 and headers["x-ratelimit-remaining"] == "0"
        status, headers, limited = post(base, "/v2/file/check", {"hash": secrets.token_hex(32)}, "k2")
        assert status == 429
        assert_envelope(limited, 429, "error")
        assert 1 <= int(headers["retry-after"]) <= 3600
        assert headers["x-ratelimit-limit"] == "3" and headers["x-ratelimit-remaining"] == "0"
        reset = int(headers["x-ratelimit-reset"])
        assert reset % 3600 == 0 and 0 < reset - time.time() <= 3600


def test_the_cli_stamps_waits_checks_and_verifies_with_a_report(tmp_path, data_dir):
    document = tmp_path / "signed contract.pdf"
    document.write_bytes(b"%PDF-1.7 signed " + secrets.token_bytes(5000))
    report = tmp_path / "reports" / "contract report.pdf"
    with sandbox_process() as sandbox:
        env = {**os.environ, "INTEGRITAS_DATA_DIR": str(data_dir), "INTEGRITAS_BLOCK_TIME": "0.2",
               "INTEGRITAS_API_KEY": sandbox.api_key}
        cli = console_script("integritas", "integritas_gui.cli")

        def run(*args: str) -> tuple[int, list[dict], str]:
            done = subprocess.run([*cli, *args, "--base-url", sandbox.base_url, "--json"], env=env,
                                  capture_output=True, text=True, timeout=60)
            lines = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
            return done.returncode, lines, done.stderr

        code, [stamped], err = run("stamp", "--wait", str(document))
        assert code == 0, err
        assert stamped["state"] == "confirmed" and stamped["block_number"] > 0
        code, [checked], err = run("check", str(document))
        assert (code, checked["outcome"]) == (0, "found"), err
        code, [verified], err = run("verify", str(document), "--report", str(report))
        assert (code, verified["outcome"]) == (0, "full match"), err
        assert verified["sha3_256"] == stamped["sha3_256"]
        assert verified["blockchain_data"][0]["block_number"] == stamped["block_number"]
        assert report.read_bytes().startswith(b"%PDF-")
        assert sandbox.api_key not in err
        counters = json.loads(curl(f"{sandbox.base_url}/_sandbox/stats")[2])
        assert (counters["submissions"], counters["reports"]) == (1, 1)
    logs = "".join(p.read_text(errors="replace") for p in Path(data_dir).rglob("*.log*") if p.is_file())
    assert sandbox.api_key not in logs
