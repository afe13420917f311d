"""Crash safety: SIGKILL the CLI at a random moment of a 2,000-file `stamp --wait` batch, run the same
command again, and check that the batch completes, the history is consistent and passes
PRAGMA integrity_check (right after the kill too), and the service saw no more extra submissions than
requests that were in flight at the kill.

The normal run does 3 trials; `scripts/reliability_soak.py` (or INTEGRITAS_SLOW=1 pytest -m slow)
does 10 (see docs/reliability.md)."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.reliability.conftest import assert_history_consistent, make_files
from tests.sandbox_fixture import sandbox_stats
from tests.sandbox_fixture import running_sandbox

FILES = 2000
CONCURRENCY = 8  # the client's default: at most this many requests in flight at any moment
KILL_WINDOW = (0.0, 8.0)  # seconds after the batch starts: hashing, submitting and following


@pytest.fixture(scope="module")
def batch(tmp_path_factory) -> tuple[Path, list[Path]]:
    folder = tmp_path_factory.mktemp("crash") / "batch"
    return folder, make_files(folder, FILES)


def _states(db_path: Path) -> dict[str, int]:
    db = sqlite3.connect(db_path)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return dict(db.execute("SELECT state, COUNT(*) FROM jobs WHERE kind='stamp' GROUP BY state"))
    finally:
        db.close()


def run_trial(seed: int, folder: Path, paths: list[Path], work: Path) -> dict:
    rng = random.Random(seed)
    data = work / f"data-{seed}"
    env = {**os.environ, "INTEGRITAS_DATA_DIR": str(data), "INTEGRITAS_BLOCK_TIME": "0.2"}
    with running_sandbox() as sandbox:
        command = [sys.executable, "-m", "integritas_gui.cli", "stamp", "--wait", str(folder),
                   "--base-url", sandbox.base_url, "--api-key", sandbox.api_key, "--json"]
        kill_after = rng.uniform(*KILL_WINDOW)
        started = time.monotonic()
        first = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        # the moment is counted from when the batch starts (its history exists), not from the
        # interpreter's start-up, which a loaded machine can stretch past the whole window
        while not (data / "history.sqlite3").exists() and first.poll() is None:
            time.sleep(0.01)
        try:
            first.wait(timeout=kill_after)
            raise AssertionError(f"the batch ended before the kill at {kill_after:.1f} s: "
                                 f"{first.stderr.read()[-500:]!r}")
        except subprocess.TimeoutExpired:
            pass
        first.send_signal(signal.SIGKILL)
        first.wait()
        first.stderr.close()
        at_kill = sandbox_stats(sandbox)["submissions"]
        states_at_kill = _states(data / "history.sqlite3") if (data / "history.sqlite3").exists() else {}
        in_flight = states_at_kill.get("submitting", 0)

        second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180)
        elapsed = time.monotonic() - started
        stats = sandbox_stats(sandbox)

    assert second.returncode == 0, second.stderr[-2000:]
    assert "Traceback" not in second.stderr
    by_path = assert_history_consistent(data / "history.sqlite3", paths, "stamp", allowed=("confirmed",))
    assert all(len(jobs) == 1 for jobs in by_path.values())  # the restart reused every job
    extra = stats["submissions"] - FILES
    assert 0 <= extra <= in_flight <= CONCURRENCY, (extra, in_flight, states_at_kill)
    assert stats["records"] == stats["submissions"]
    return {"seed": seed, "kill_after": round(kill_after, 2), "submitted_at_kill": at_kill,
            "states_at_kill": states_at_kill, "in_flight": in_flight, "extra_submissions": extra,
            "seconds": round(elapsed, 1)}


def _report(results: list[dict]) -> None:
    for r in results:
        print(f"trial seed={r['seed']} kill at {r['kill_after']} s, {r['submitted_at_kill']} submitted, "
              f"states {r['states_at_kill']}, in flight {r['in_flight']}, extra {r['extra_submissions']}, "
              f"{r['seconds']} s")


def test_sigkill_during_batch_three_trials(batch, tmp_path):
    folder, paths = batch
    results = [run_trial(seed, folder, paths, tmp_path) for seed in (11, 12, 13)]
    _report(results)


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("INTEGRITAS_SLOW"),
                    reason="10 crash trials take ~3 min: run scripts/reliability_soak.py")
def test_sigkill_during_batch_ten_trials(batch, tmp_path):
    folder, paths = batch
    seeds = [int(s) for s in os.environ.get("INTEGRITAS_CRASH_SEEDS", "").split(",") if s] or list(range(101, 111))
    results = [run_trial(seed, folder, paths, tmp_path) for seed in seeds]
    _report(results)
    assert len(results) >= 10
