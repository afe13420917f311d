"""`integritas stamp --wait` / `resume` while the service answers in the shapes that used to fool the
follow-up: a hash found whose block verify does not list yet, a Minima node status sent as text.
The real sandbox over loopback; its answer shapes and faults are asked for with request headers."""

from __future__ import annotations

import json
import os

import pytest

from integritas_gui import cli
from integritas_gui.core import client as client_module
from tests.sandbox_fixture import running_sandbox
from tests.sandbox_fixture import sandbox_stats as stats

AWAITING = "found, waiting for the block details"


@pytest.fixture
def headers(monkeypatch):
    """Request headers every client the CLI builds sends (the sandbox's shape and fault requests)."""
    sent: dict[str, str] = {}
    original = client_module.IntegritasClient.__init__

    def init(self, base_url, api_key=None, **options):
        options["extra_headers"] = {**(options.get("extra_headers") or {}), **sent}
        options.update(backoff_base=0.01, backoff_max=0.05)
        original(self, base_url, api_key, **options)

    monkeypatch.setattr(client_module.IntegritasClient, "__init__", init)
    return sent


@pytest.fixture
def run(sandbox, monkeypatch, capsys, headers):
    """The CLI in-process against the sandbox: (exit code, JSON lines or text, stderr)."""
    monkeypatch.setenv("INTEGRITAS_BLOCK_TIME", "0.2")

    def call(*argv: str, as_json: bool = True, server=None):
        server = server or sandbox
        args = list(argv) + ["--base-url", server.base_url, "--api-key", server.api_key, "--retries", "1"]
        code = cli.main(args + (["--json"] if as_json else []))
        captured = capsys.readouterr()
        if not as_json:
            return code, captured.out, captured.err
        return code, [json.loads(line) for line in captured.out.splitlines() if line.strip()], captured.err

    return call


def a_file(tmp_path, name="deed.txt"):
    path = tmp_path / name
    path.write_bytes(os.urandom(2000))
    return path


def test_found_without_a_block_stays_pending_and_verify_is_asked_again(run, headers, sandbox, tmp_path):
    headers["x-sandbox-shape"] = "no-record"
    file = a_file(tmp_path)
    code, text, err = run("stamp", "--wait", "--timeout", "3", str(file), as_json=False)
    assert code == 3, (text, err)
    assert "confirmed" not in text and "block None" not in text
    assert text.strip() == f"{file}: {AWAITING}  sha3_256={text.split('sha3_256=')[1].strip()}"
    assert "gave up waiting" in err
    counters = stats(sandbox)
    assert counters["checks"] == 1  # found once; after that only its block is asked for
    assert counters["verifications"] >= 3  # asked again, with backoff (0.12 s, 0.18 s, ...)
    assert counters["verifications"] < 25


def test_found_stamp_is_confirmed_once_verify_lists_its_block(run, headers, sandbox, tmp_path):
    headers["x-sandbox-shape"] = "no-record:2"  # the first two verify answers lag behind the chain
    file = a_file(tmp_path)
    code, [line], _ = run("stamp", "--wait", "--timeout", "20", str(file))
    assert code == 0
    assert line["state"] == "confirmed" and line["block_number"] > 0 and line["error"] is None
    assert line["blockchain_data"][0]["block_number"] == line["block_number"]
    assert stats(sandbox)["verifications"] == 3


def test_resume_keeps_a_found_stamp_pending_until_its_block_is_listed(run, headers, sandbox, tmp_path):
    headers["x-sandbox-shape"] = "no-record"
    file = a_file(tmp_path)
    assert run("stamp", "--wait", "--timeout", "1.5", str(file))[0] == 3
    checks = stats(sandbox)["checks"]

    code, [line], _ = run("resume", "--wait", "--timeout", "1.5")  # a new engine: as after a restart
    assert code == 3
    assert (line["state"], line["block_number"]) == ("pending", None)
    assert line["error"].startswith("Found, waiting for the block details")
    code, text, _ = run("resume", "--timeout", "1", as_json=False)
    assert AWAITING in text and code == 0  # without --wait a pending stamp is a fine answer
    assert stats(sandbox)["checks"] == checks  # it was found before: only verify is asked

    del headers["x-sandbox-shape"]
    code, [line], _ = run("resume", "--wait", "--timeout", "20")
    assert code == 0 and line["state"] == "confirmed" and line["block_number"] > 0


@pytest.mark.parametrize("status", ['"false"', "0", '"0"', '"False"'])
def test_a_node_status_false_as_text_or_number_is_a_failed_stamp_never_polled(run, headers, sandbox,
                                                                               tmp_path, status):
    headers["x-sandbox-fault"] = f"node-failed:{status}"
    file = a_file(tmp_path)
    code, [line], _ = run("stamp", "--wait", "--timeout", "3", str(file))
    assert code == 3
    assert line["state"] == "failed"
    assert "nothing was anchored" in line["error"] and "Insufficient funds" in line["error"]
    assert "again" in line["error"]
    counters = stats(sandbox)
    assert (counters["checks"], counters["verifications"], counters["pending"]) == (0, 0, 0)


def test_a_batch_is_followed_with_one_check_per_round_not_one_per_file(run, monkeypatch, tmp_path):
    """40 stamps of one batch: each is sent once and verified once for its block; the follow-up
    checks only the newest stamp of a round, so checks stay far below one per file."""
    monkeypatch.setenv("INTEGRITAS_BLOCK_TIME", "1")
    folder = tmp_path / "batch"
    folder.mkdir()
    for n in range(40):
        (folder / f"f{n:02d}.txt").write_bytes(f"file {n}\n".encode() * (n + 1))
    with running_sandbox(block_time=1.0) as server:
        code, lines, _ = run("stamp", "--wait", "--timeout", "60", str(folder), server=server)
        counters = stats(server)
    assert code == 0 and len(lines) == 40
    assert all(line["state"] == "confirmed" and line["block_number"] for line in lines)
    assert (counters["submissions"], counters["verifications"]) == (40, 40)
    assert counters["checks"] <= 10, counters
    assert counters["requests"] <= 2 * 40 + 10
