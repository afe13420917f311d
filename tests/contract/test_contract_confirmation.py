"""Confirmation follow-up after a stamp: first check after about 10 s (scaled down here), backing
off, and "pending" (never "failed") past the window. Real client, real sandbox, real engine."""

from __future__ import annotations

import time

from integritas_gui.core.engine import ConfirmPolicy, Engine
from integritas_gui.core.history import History
from tests.contract.contract_helpers import new_hash, stats
from tests.sandbox_fixture import fast_client, running_sandbox


def test_the_real_policy_waits_10_s_and_keeps_pending_past_5_minutes():
    policy = ConfirmPolicy()
    assert (policy.first_delay, policy.pending_after) == (10.0, 300.0)
    assert 10.0 <= policy.interval <= 15.0 and policy.backoff > 1
    assert ConfirmPolicy.for_block_time(50) == policy  # Minima's own block time: the real policy


def engine_for(server, tmp_path, policy: ConfirmPolicy, **options):
    client = fast_client(server.base_url, server.api_key)
    engine = Engine(History(tmp_path / "history.sqlite3"), client, confirm=policy, **options)
    updates = []
    seen_at: dict[str, float] = {}

    def record(update):
        updates.append(update)
        seen_at.setdefault(update.state, time.monotonic())

    engine.subscribe(record)
    return engine, client, updates, seen_at


def test_engine_first_checks_after_the_delay_then_confirms_with_block_details(tmp_path):
    with running_sandbox(block_time=0.2) as server:
        policy = ConfirmPolicy(first_delay=0.6, interval=0.1, max_interval=0.2, pending_after=30)
        engine, client, updates, seen_at = engine_for(server, tmp_path, policy)
        try:
            file = tmp_path / "invoice.pdf"
            file.write_bytes(b"%PDF-1.4 invoice " * 100)
            [job_id] = engine.add_files("stamp", [file])
            deadline = time.monotonic() + 5
            while "pending" not in seen_at and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(max(0.0, seen_at["pending"] + 0.4 - time.monotonic()))
            assert stats(server)["checks"] == 0  # nobody asks before the first delay
            assert engine.wait_idle(timeout=10)
            assert seen_at["confirmed"] - seen_at["pending"] >= 0.6
            job = engine.history.get_job(job_id)
            assert job.state == "confirmed" and job.error is None
            counters = stats(server)
            assert counters["submissions"] == 1 and counters["checks"] >= 1
            # Block details come from verify, without a report unless asked.
            assert (counters["verifications"], counters["reports"]) == (1, 0)
            [record] = job.records
            assert job.block_number == record.block_number > 0
            states = [u.state for u in updates if u.job_id == job_id]
            assert states[-1] == "confirmed" and "failed" not in states
        finally:
            engine.shutdown()
            client.close()


def test_engine_keeps_a_late_stamp_pending_with_a_note_never_failed(tmp_path):
    with running_sandbox(block_time=60) as slow_chain:
        policy = ConfirmPolicy(first_delay=0.05, interval=0.05, max_interval=0.1, pending_after=0.3)
        engine, client, updates, _ = engine_for(slow_chain, tmp_path, policy)
        try:
            job_id = engine.add_hash("stamp", new_hash())
            deadline = time.monotonic() + 10
            while not any(u.note for u in updates) and time.monotonic() < deadline:
                time.sleep(0.05)
            notes = [u.note for u in updates if u.note]
            assert notes and "Still pending" in notes[0]
            job = engine.history.get_job(job_id)
            assert (job.state, job.error) == ("pending", None)
            assert stats(slow_chain)["checks"] >= 3 and stats(slow_chain)["submissions"] == 1
            assert "failed" not in [u.state for u in updates]
        finally:
            engine.shutdown()
            client.close()
