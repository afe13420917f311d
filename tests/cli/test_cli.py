"""The `integritas` command against the real sandbox over loopback: output, exit codes, resume."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from integritas_gui import cli
from tests.sandbox_fixture import sandbox_stats as stats

UNKNOWN = "00" * 31 + "ff"


@pytest.fixture
def run(sandbox, monkeypatch, capsys):
    """Call the CLI in-process against the sandbox; returns (exit code, JSON lines, stderr)."""
    monkeypatch.setenv("INTEGRITAS_SANDBOX_BLOCK_TIME", "0.2")

    def call(*argv: str, service: bool = True):
        args = list(argv) + ["--json"]
        if service:
            args += ["--base-url", sandbox.base_url, "--api-key", sandbox.api_key, "--retries", "1"]
        code = cli.main(args)
        captured = capsys.readouterr()
        lines = [json.loads(line) for line in captured.out.splitlines() if line.strip()]
        return code, lines, captured.err

    return call




def make_files(folder: Path, count: int, prefix: str = "file") -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"{prefix} {i:04d}.txt"
        path.write_bytes(f"{prefix} number {i}\n".encode() * (i % 7 + 1))
        paths.append(path)
    return paths


def test_hash_prints_what_openssl_prints(run, tmp_path):
    file = tmp_path / "résumé 2026.txt"
    file.write_bytes(b"x" * 200_001)
    code, lines, _ = run("hash", str(file), service=False)
    expected = subprocess.run(["openssl", "dgst", "-sha3-256", "-r", str(file)], capture_output=True,
                              text=True, check=True).stdout.split()[0]
    assert code == 0
    assert lines[0]["sha3_256"] == expected
    assert (lines[0]["size"], lines[0]["segment_size"], lines[0]["segment_count"]) == (200_001, 65536, 4)


def test_stamp_wait_then_check_and_verify_with_report(run, sandbox, tmp_path):
    files = make_files(tmp_path / "docs", 3)
    code, lines, _ = run("stamp", "--wait", str(tmp_path / "docs"))
    assert code == 0
    assert sorted(l["path"] for l in lines) == sorted(str(p) for p in files)
    assert all(l["state"] == "confirmed" and l["block_number"] for l in lines)

    code, lines, _ = run("check", str(files[0]))
    assert (code, lines[0]["outcome"]) == (0, "found")

    report = tmp_path / "out" / "report.pdf"
    code, lines, err = run("verify", str(files[1]), "--report", str(report))
    assert code == 0 and lines[0]["outcome"] == "full match"
    assert lines[0]["blockchain_data"][0]["block_number"] == lines[0]["block_number"]
    assert report.read_bytes().startswith(b"%PDF-")
    assert stats(sandbox)["reports"] == 1


def test_unknown_file_and_hash_are_not_found(run, tmp_path):
    stranger = tmp_path / "never stamped.bin"
    stranger.write_bytes(os.urandom(1000))
    code, lines, _ = run("verify", str(stranger))
    assert (code, lines[0]["outcome"]) == (1, "no match")
    code, lines, _ = run("check", "--hash", UNKNOWN)
    assert (code, lines[0]["outcome"]) == (1, "not found")


def test_stamping_again_reuses_the_stamp_unless_asked(run, sandbox, tmp_path):
    [file] = make_files(tmp_path, 1)
    assert run("stamp", "--wait", str(file))[0] == 0
    assert run("stamp", str(file))[0] == 0
    assert stats(sandbox)["submissions"] == 1
    assert run("stamp", "--again", "--wait", str(file))[0] == 0
    assert stats(sandbox)["submissions"] == 2


def test_changed_file_reports_the_changed_byte_ranges(run, tmp_path):
    file = tmp_path / "contract.bin"
    file.write_bytes(bytes(300_000))
    assert run("stamp", "--wait", str(file))[0] == 0
    with open(file, "r+b") as f:
        f.seek(70_000)
        f.write(b"tampered")
    code, lines, _ = run("verify", str(file))
    assert (code, lines[0]["outcome"]) == (1, "no match")
    assert lines[0]["receipt_check"]["status"] == "changed"
    assert lines[0]["receipt_check"]["changed"] == [[65536, 65536]]


def test_receipt_written_next_to_the_file_and_verified(run, tmp_path):
    file = tmp_path / "photo.jpg"
    file.write_bytes(os.urandom(150_000))
    assert run("stamp", "--wait", str(file))[0] == 0
    code, lines, _ = run("receipt", str(file), service=False)
    assert code == 0 and lines[0]["confirmed"] is True
    receipt = Path(lines[0]["receipt"])
    assert json.loads(receipt.read_text())["format"] == "integritas-receipt"
    assert run("receipt", str(file), "--verify", service=False)[0] == 0
    with open(file, "ab") as f:
        f.write(b"!")
    code, lines, _ = run("receipt", str(file), "--verify", service=False)
    assert code == 1 and lines[0]["status"] == "changed"


def test_bad_input_exits_2_with_one_plain_line(run, tmp_path):
    code, lines, err = run("stamp", str(tmp_path / "missing.txt"))
    assert code == 2 and "was not found" in lines[0]["error"]
    code, _, err = run("check", "--hash", "not-a-hash")
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err


def test_no_api_key_exits_2_and_says_where_keys_come_from(run, tmp_path):
    code, _, err = run("check", "--hash", UNKNOWN, "--base-url", "http://127.0.0.1:9/core", service=False)
    assert code == 2 and "API key" in err


def test_service_down_exits_3_and_bad_key_is_named(run, sandbox, tmp_path):
    [file] = make_files(tmp_path, 1)
    closed_port = sandbox.port
    sandbox.stop()
    code, lines, _ = run("stamp", str(file), "--base-url", f"http://127.0.0.1:{closed_port}/core",
                         "--api-key", "k", "--retries", "0", service=False)
    assert code == 3 and "Could not connect" in lines[0]["error"]
    sandbox.start()
    code, lines, _ = run("stamp", str(file), "--base-url", sandbox.base_url, "--api-key", "wrong-key",
                         service=False)
    assert code == 3 and "API key" in lines[0]["error"] and "wrong-key" not in lines[0]["error"]


def test_batch_killed_mid_flight_resumes_without_double_stamping(sandbox, tmp_path):
    """SIGKILL the CLI during a batch; the same command finishes it, and the service saw each file
    at most once more than the requests in flight at the kill."""
    files = make_files(tmp_path / "batch", 300)
    data_dir = tmp_path / "data"
    env = {**os.environ, "INTEGRITAS_DATA_DIR": str(data_dir), "INTEGRITAS_SANDBOX_BLOCK_TIME": "0.2"}
    command = [sys.executable, "-m", "integritas_gui.cli", "stamp", "--wait", str(tmp_path / "batch"),
               "--base-url", sandbox.base_url, "--api-key", sandbox.api_key, "--json"]
    first = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while stats(sandbox)["submissions"] < 60 and time.monotonic() < deadline:
        time.sleep(0.02)
    first.send_signal(signal.SIGKILL)
    first.wait()
    at_kill = stats(sandbox)["submissions"]
    assert 0 < at_kill < len(files), "the kill should land mid-batch"

    second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert second.returncode == 0, second.stderr
    db = sqlite3.connect(data_dir / "history.sqlite3")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    confirmed = db.execute("SELECT COUNT(DISTINCT path) FROM jobs WHERE kind='stamp' AND state='confirmed'").fetchone()[0]
    assert confirmed == len(files)
    in_flight_allowance = 8  # the client's concurrency: requests that may have been in flight
    assert stats(sandbox)["submissions"] <= len(files) + in_flight_allowance
