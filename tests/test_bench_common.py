"""bench/common.run_measured: a child's peak RSS is its own, not the bench process's high-water mark."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MiB = 1024  # ru_maxrss is in KiB


@pytest.fixture(scope="module")
def common():
    spec = importlib.util.spec_from_file_location("bench_common", ROOT / "bench" / "common.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules[spec.name]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux counts the parent's peak into a child's")
def test_a_small_child_after_the_parent_grew_big_reports_its_own_small_peak(common):
    big = bytearray(400 << 20)
    big[::4096] = b"\1" * len(big[::4096])  # touched: resident, so this process's high-water mark is 400 MB+
    small = common.run_measured([sys.executable, "-c", "pass"])
    grown = common.run_measured([sys.executable, "-c", "b = bytearray(150 << 20); b[::4096] = b'x' * len(b[::4096])"])
    del big
    assert small.returncode == grown.returncode == 0
    assert small.max_rss_kib < 60 * MiB, small.max_rss_kib
    assert 150 * MiB < grown.max_rss_kib < 300 * MiB, grown.max_rss_kib


def test_the_command_keeps_its_exit_code_output_and_timeout(common):
    done = common.run_measured([sys.executable, "-c", "import sys; print('out'); sys.exit(3)"], capture=True)
    assert (done.returncode, done.stdout) == (3, b"out\n")
    assert 0 < done.wall < 30
    stopped = common.run_measured([sys.executable, "-c", "import time; time.sleep(30)"], timeout=0.5)
    assert stopped.returncode == -9 and stopped.wall < 10
    with pytest.raises(FileNotFoundError):
        common.run_measured(["integritas-no-such-program"])
