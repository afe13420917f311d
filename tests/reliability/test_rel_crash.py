"""Crash safety: SIGKILL the CLI at a random moment of a 2,000-file `stamp --wait` batch, run the same
command again, and check that the batch completes, the history is consistent and passes
PRAGMA integrity_check (right after the kill too), and the service saw no more extra submissions than
requests that were in flight at the kill.

Each trial kills at a point of progress it observes (files hashed, stamps the sandbox counted, jobs
confirmed), never at a moment on the clock. The normal run does one trial (while submitting); the
slow ones (`scripts/reliability_soak.py`, or `pytest -m slow`) kill while hashing and while
following, and do 10 more at random points (see docs/reliability.md)."""

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
# Where a trial kills the batch: once this much progress is seen (hashing, submitting, following),
# never at a moment on the clock, which a loaded machine can stretch past the whole batch.
PHASES = {
    "hashed": (1, FILES - 1),           # jobs whose file is hashed (history)
    "submitted": (1, FILES - 1),        # stamps the sandbox has counted
    "confirmed": (1, FILES * 3 // 4),   # jobs confirmed (history); the last quarter ends too fast
}
PROGRESS_TIMEOUT = 120  # seconds for the batch to reach its kill point


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


def _history_count(db_path: Path, where: str) -> int:
    """Jobs matching ``where`` in the batch's history as another reader sees it (0 until it exists)."""
    if not db_path.exists():
        return 0
    try:
        db = sqlite3.connect(db_path, timeout=0.5)
        try:
            return db.execute(f"SELECT COUNT(*) FROM jobs WHERE kind = 'stamp' AND {where}").fetchone()[0]
        finally:
            db.close()
    except sqlite3.OperationalError:  # no schema yet, or the writer is creating it
        return 0


def _progress(phase: str, sandbox, db_path: Path) -> int:
    if phase == "submitted":
        return sandbox_stats(sandbox)["submissions"]
    if phase == "hashed":
        return _history_count(db_path, "sha3_256 IS NOT NULL")
    return _history_count(db_path, "state = 'confirmed'")


def _ended_early(process: subprocess.Popen, why: str, out: Path, err: Path) -> AssertionError:
    return AssertionError(f"{why}: exit {process.returncode}; stdout ends {out.read_bytes()[-300:]!r}; "
                          f"stderr ends {err.read_bytes()[-800:]!r}")


def run_trial(seed: int, folder: Path, paths: list[Path], work: Path, phase: str | None = None) -> dict:
    rng = random.Random(seed)
    phase = phase or rng.choice(sorted(PHASES))
    kill_at = rng.randint(*PHASES[phase])
    data = work / f"data-{seed}"
    db_path = data / "history.sqlite3"
    out, err = work / f"stdout-{seed}", work / f"stderr-{seed}"
    env = {**os.environ, "INTEGRITAS_DATA_DIR": str(data), "INTEGRITAS_BLOCK_TIME": "0.2"}
    with running_sandbox() as sandbox:
        command = [sys.executable, "-m", "integritas_gui.cli", "stamp", "--wait", str(folder),
                   "--base-url", sandbox.base_url, "--api-key", sandbox.api_key, "--json"]
        started = time.monotonic()
        with open(out, "wb") as stdout, open(err, "wb") as stderr:
            first = subprocess.Popen(command, env=env, stdout=stdout, stderr=stderr)
        deadline = started + PROGRESS_TIMEOUT
        try:
            while (seen := _progress(phase, sandbox, db_path)) < kill_at:
                if first.poll() is not None:
                    raise _ended_early(first, f"the batch ended at {seen} {phase}, before the kill at "
                                              f"{kill_at} {phase}", out, err)
                if time.monotonic() > deadline:
                    raise AssertionError(f"the batch reached {seen} of {kill_at} {phase} in "
                                         f"{PROGRESS_TIMEOUT} s; stderr ends {err.read_bytes()[-800:]!r}")
                time.sleep(0.005)
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait()
        if first.returncode != -signal.SIGKILL:  # it finished on its own between the check and the kill
            raise _ended_early(first, f"the batch ended before the kill at {kill_at} {phase}", out, err)
        killed_after = time.monotonic() - started
        at_kill = sandbox_stats(sandbox)["submissions"]
        states_at_kill = _states(db_path) if db_path.exists() else {}
        in_flight = states_at_kill.get("submitting", 0)

        second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180)
        elapsed = time.monotonic() - started
        stats = sandbox_stats(sandbox)

    assert second.returncode == 0, second.stderr[-2000:]
    assert "Traceback" not in second.stderr
    by_path = assert_history_consistent(db_path, paths, "stamp", allowed=("confirmed",))
    assert all(len(jobs) == 1 for jobs in by_path.values())  # the restart reused every job
    extra = stats["submissions"] - FILES
    assert 0 <= extra <= in_flight <= CONCURRENCY, (extra, in_flight, states_at_kill)
    assert stats["records"] == stats["submissions"]
    return {"seed": seed, "kill_at": f"{kill_at} {phase}", "killed_after": round(killed_after, 2),
            "submitted_at_kill": at_kill, "states_at_kill": states_at_kill, "in_flight": in_flight,
            "extra_submissions": extra, "seconds": round(elapsed, 1)}


def _report(results: list[dict]) -> None:
    for r in results:
        print(f"trial seed={r['seed']} kill at {r['kill_at']} ({r['killed_after']} s), "
              f"{r['submitted_at_kill']} submitted, "
              f"states {r['states_at_kill']}, in flight {r['in_flight']}, extra {r['extra_submissions']}, "
              f"{r['seconds']} s")


def test_sigkill_while_submitting(batch, tmp_path):
    folder, paths = batch
    _report([run_trial(11, folder, paths, tmp_path, phase="submitted")])


@pytest.mark.slow
def test_sigkill_while_hashing_and_while_following(batch, tmp_path):
    folder, paths = batch
    _report([run_trial(12, folder, paths, tmp_path, phase="hashed"),
             run_trial(13, folder, paths, tmp_path, phase="confirmed")])


@pytest.mark.slow
def test_sigkill_during_batch_ten_trials(batch, tmp_path):
    folder, paths = batch
    seeds = [int(s) for s in os.environ.get("INTEGRITAS_CRASH_SEEDS", "").split(",") if s] or list(range(101, 111))
    results = [run_trial(seed, folder, paths, tmp_path) for seed in seeds]
    _report(results)
    assert len(results) >= 10
