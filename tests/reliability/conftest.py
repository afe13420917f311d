"""Shared pieces of the reliability suite: fast client timing, the fault proxy, the CLI in-process,
and the history consistency check every case ends with."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest


from integritas_gui import cli

# Timing only: the CLI builds its own client; these make timeouts and backoff test-sized.
FAST_TIMING = {"timeout": 1.0, "verify_timeout": 1.5, "backoff_base": 0.01, "backoff_max": 0.05}
SLOW_FAULT_SECONDS = 3  # past FAST_TIMING's timeouts


@pytest.fixture
def fast_timing(monkeypatch):
    """Give every IntegritasClient the CLI builds test-sized timeouts and backoff (nothing else)."""
    from integritas_gui.core import client as client_module

    original = client_module.IntegritasClient.__init__
    overrides = dict(FAST_TIMING)

    def init(self, base_url, api_key=None, **options):
        options.update(overrides)
        original(self, base_url, api_key, **options)

    monkeypatch.setattr(client_module.IntegritasClient, "__init__", init)
    return overrides


@pytest.fixture
def zone(monkeypatch):
    """This process in a zone of UTC+05:30 all year, so a date shown in the wrong zone cannot pass."""
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    yield ZoneInfo("Asia/Kolkata")
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def on_chain(sandbox, tmp_path):
    """A file whose hash the sandbox already has in a block."""
    from integritas_gui.core.hashing import hash_file
    from tests.sandbox_fixture import wait_for_block

    [path] = make_files(tmp_path / "in", 1, prefix="on-chain")
    sandbox.do_stamp(hash_file(str(path)).sha3_256, "set-up")
    wait_for_block(sandbox)
    return path


@pytest.fixture
def reads(monkeypatch):
    """Paths the engine read to hash them (a spy: the real hash_file still does the work)."""
    from integritas_gui.core import hashing

    seen: list[str] = []
    real = hashing.hash_file

    def spy(path, *args, **kwargs):
        seen.append(str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(hashing, "hash_file", spy)
    return seen


ENGINE_READS_SPY = """\
import os

if os.environ.get("INTEGRITAS_TEST_READS_LOG"):
    from integritas_gui.core import hashing

    _real = hashing.hash_file

    def _spy(path, *args, **kwargs):
        with open(os.environ["INTEGRITAS_TEST_READS_LOG"], "a", encoding="utf-8") as log:
            log.write(str(path) + "\\n")
        return _real(path, *args, **kwargs)

    hashing.hash_file = _spy
"""


@pytest.fixture
def engine_reads(tmp_path, monkeypatch):
    """Paths the window's engine process read to hash them: the ``reads`` spy, installed in the
    child processes this test starts (a ``sitecustomize`` on their PYTHONPATH). Call it for the
    paths read so far."""
    import os

    spy_dir = tmp_path / "engine-reads-spy"
    spy_dir.mkdir()
    (spy_dir / "sitecustomize.py").write_text(ENGINE_READS_SPY, encoding="utf-8")
    log = tmp_path / "engine-reads.log"
    log.touch()
    monkeypatch.setenv("INTEGRITAS_TEST_READS_LOG", str(log))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(spy_dir), os.environ.get("PYTHONPATH")])))
    return lambda: log.read_text(encoding="utf-8").splitlines()


@pytest.fixture
def window_for(make_window, monkeypatch):
    """The real main window on a given service and key, with test-sized client timing."""

    def make(base_url: str, api_key: str):
        monkeypatch.setenv("INTEGRITAS_API_KEY", api_key)
        return make_window(base_url=base_url, force_sandbox=False,
                           client_options={**FAST_TIMING, "max_retries": 2})

    return make


@pytest.fixture
def proxy(sandbox):
    from tests.reliability.fault_proxy import FaultProxy

    server = FaultProxy(sandbox.origin).start()
    yield server
    server.stop()


@pytest.fixture
def run_cli(monkeypatch, capsys, fast_timing):
    """Call the CLI in-process; returns (exit code, JSON result lines, stderr)."""
    monkeypatch.setenv("INTEGRITAS_BLOCK_TIME", "0.2")

    def call(*argv: str, base_url: str | None = None, api_key: str | None = None, retries: int = 2):
        args = list(argv) + ["--json", "--retries", str(retries)]
        if base_url:
            args += ["--base-url", base_url]
        if api_key:
            args += ["--api-key", api_key]
        code = cli.main(args)
        captured = capsys.readouterr()
        lines = [json.loads(line) for line in captured.out.splitlines() if line.strip()]
        return code, lines, captured.err

    return call




def make_files(folder: Path, count: int, prefix: str = "file") -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"{prefix}-{i:05d}.txt"
        path.write_bytes(f"{prefix} {i}\n".encode())
        paths.append(path)
    return paths


def assert_history_consistent(db_path: Path, paths, kind: str, *, allowed=("confirmed", "done", "failed")):
    """Every path has a job of ``kind`` in a settled state; failures carry a plain reason, never
    'internal'; confirmed stamps carry a block; the database passes PRAGMA integrity_check."""
    db = sqlite3.connect(db_path)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = db.execute("SELECT path, state, error, error_kind, sha3_256, block_number FROM jobs "
                          "WHERE kind = ?", (kind,)).fetchall()
    finally:
        db.close()
    by_path: dict[str, list[tuple]] = {}
    for row in rows:
        by_path.setdefault(row[0], []).append(row)
    missing = [str(p) for p in paths if str(p) not in by_path]
    assert not missing, f"files lost from the history: {missing[:5]}"
    for path in paths:
        for _, state, error, error_kind, sha3, block in by_path[str(path)]:
            assert state in allowed, (path, state, error)
            assert error_kind != "internal", (path, error)
            if state == "failed":
                assert error and "Traceback" not in error, (path, error)
            if state == "confirmed":
                assert sha3 and block, (path, sha3, block)
    return by_path


def assert_clean_logs(data_dir: Path) -> None:
    """No traceback reached the app's log (expected failures are logged as one plain line)."""
    for log in (data_dir / "logs").glob("integritas.log*"):
        text = log.read_text(errors="replace")
        assert "Traceback" not in text and "Unexpected error" not in text, text[-2000:]
