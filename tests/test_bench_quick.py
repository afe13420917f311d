"""bench/run.py --quick runs every benchmark script at small sizes: it proves the scripts work (it
does not judge speed: the quick sizes are too small and CI machines too noisy for that)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

FIGURES = (
    "single file vs openssl",
    "single file vs hashlib",
    "many files throughput",
    "peak RSS CLI hashing 8 GiB sparse",
    "peak RSS GUI process",
    "GUI stall hashing 2 GiB",
    "GUI stall 10,000 files queued",
    "GUI stall results streaming",
    "start-up integritas --version",
    "start-up integritas-gui --smoke-test",
    "batch requests per confirmed stamp",
    "batch 10,000 files confirmed at 100 req/min",
    "batch client CPU per file",
    "rate-limited batch request rate",
    "history search 100,000 entries",
    "stamps per minute through the node",
)


@pytest.mark.xdist_group("heavy")  # CPU-heavy or timed: one at a time (tests/conftest.py)
def test_quick_benchmarks_print_every_figure(tmp_path):
    scratch = tmp_path / "bench"
    scratch.mkdir()
    env = dict(os.environ, INTEGRITAS_BENCH_TMP=str(scratch), QT_QPA_PLATFORM="offscreen")
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "--quick"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=170)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    table = done.stdout.split("== Integritas Desktop benchmarks", 1)[1]
    lines = table.splitlines()
    for figure in FIGURES:
        row = next((line for line in lines if line.startswith(figure + " ")), None)
        assert row is not None, f"{figure!r} missing from:\n{table}"
        assert row.rstrip().endswith(("PASS", "MISS", "NOT MEASURED")), row
    assert "ERROR" not in table
    assert not list(scratch.iterdir()), "the benchmarks left files behind"
