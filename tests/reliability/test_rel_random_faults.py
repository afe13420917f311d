"""Random faults on 30% of requests over a 2,000-file stamp batch: every file ends confirmed (or with
a stated reason) and none is stamped more often than needed."""

from __future__ import annotations

import time

import pytest

from tests.reliability.conftest import assert_clean_logs, assert_history_consistent, make_files
from tests.sandbox_fixture import sandbox_stats
from tests.sandbox_fixture import running_sandbox

FILES = 2000
FAULT_RATE = 0.3
RETRIES = 8  # 0.3 ** 9: about one request in 50,000 fails every attempt


@pytest.mark.xdist_group("heavy")  # CPU-heavy or timed: one at a time (tests/conftest.py)
def test_random_faults_over_a_2000_file_batch(run_cli, fast_timing, tmp_path, data_dir, record_property):
    # A quarter of the faults are 429 with Retry-After: 1, honoured in full; more requests in
    # parallel keep those waits from adding up (the default of 8 takes about 95 s here).
    fast_timing["concurrency"] = 32
    # None of these faults is a slow answer, so a read timeout here could only come from a loaded
    # machine; a stamp retried after one is a second submission the count below would blame on
    # the faults. Timeouts have their own tests (test_rel_fault_matrix, test_cli_settings).
    fast_timing.update(timeout=15.0, verify_timeout=20.0)
    paths = make_files(tmp_path / "batch", FILES)
    with running_sandbox(fault_rate=FAULT_RATE, seed=20260) as sandbox:
        started = time.monotonic()
        code, lines, err = run_cli("stamp", "--wait", str(tmp_path / "batch"), base_url=sandbox.base_url,
                                   api_key=sandbox.api_key, retries=RETRIES)
        elapsed = time.monotonic() - started
        stats = sandbox_stats(sandbox)

    by_path = assert_history_consistent(data_dir / "history.sqlite3", paths, "stamp")
    assert "Traceback" not in err
    assert_clean_logs(data_dir)
    assert len(lines) == FILES and {line["path"] for line in lines} == {str(p) for p in paths}
    failed = [line for line in lines if line["state"] != "confirmed"]
    for line in failed:  # allowed, but only with a stated reason
        assert line["state"] == "failed" and line["error"], line
    assert code == (0 if not failed else 3)
    assert all(len(jobs) == 1 for jobs in by_path.values())  # one job per file

    assert stats["faults_injected"] > 0.2 * stats["requests"]  # the faults really happened
    # Random faults leave the service untouched, so each file needs exactly one submission (a file
    # can only fail at the stamp step, whose every attempt then met a fault: no submission at all);
    # records == distinct hashes: no hash was put on chain twice.
    assert stats["submissions"] == FILES - len(failed)
    assert stats["anchored_hashes"] == stats["records"] == stats["submissions"]
    record_property("seconds", round(elapsed, 1))
    record_property("requests", stats["requests"])
    record_property("faults", stats["faults_injected"])
    print(f"\n2000 files, fault rate 0.3: {elapsed:.1f} s, {stats['requests']} requests, "
          f"{stats['faults_injected']} faults, {stats['submissions']} submissions, {len(failed)} failed")
