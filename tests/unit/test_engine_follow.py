"""core.engine's follow-up of pending stamps against the real sandbox over loopback: the stamps of
one batch are followed together (one check per round), also after a restart and when one is
cancelled; a stamp is confirmed only with its block."""

from __future__ import annotations

import time

from integritas_gui.core.engine import AWAITING_BLOCK, ConfirmPolicy, Engine
from tests.sandbox_fixture import fast_client, running_sandbox
from tests.sandbox_fixture import sandbox_stats as stats

BLOCK = 0.5
POLICY = ConfirmPolicy.for_block_time(BLOCK)
NEVER = ConfirmPolicy(first_delay=600, interval=600)  # an engine that never gets to follow


def files(folder, count):
    folder.mkdir(parents=True, exist_ok=True)
    made = []
    for n in range(count):
        path = folder / f"f{n:02d}.txt"
        path.write_bytes(f"file {n}\n".encode() * (n + 3))
        made.append(path)
    return made


def stamp_then_quit(history, client, folder, count):
    """A batch stamped by an engine that quits before following it; its job ids."""
    first = Engine(history, client, confirm=NEVER)
    ids = first.add_files("stamp", files(folder, count))
    assert first.wait_idle(30, include_pending=False)
    first.shutdown()
    return ids


def resume_to_the_end(history, client, ids):
    """A new engine resumes the pending stamps and follows them until done; closes ``client``."""
    second = Engine(history, client, confirm=POLICY)
    try:
        assert sorted(second.resume_unfinished()) == sorted(ids)
        assert second.wait_idle(30)
    finally:
        second.shutdown()
        client.close()


def test_a_restarted_engine_follows_a_pending_batch_with_one_check_per_round(history, tmp_path):
    with running_sandbox(block_time=BLOCK) as server:
        client = fast_client(server.base_url)
        ids = stamp_then_quit(history, client, tmp_path / "batch", 25)
        assert {history.get_job(i).state for i in ids} == {"pending"}
        assert stats(server)["checks"] == 0
        time.sleep(POLICY.first_delay + BLOCK)  # the app was closed a while: all of them are in a block
        resume_to_the_end(history, client, ids)
        jobs = history.jobs(ids)
        assert all(j.state == "confirmed" and j.block_number for j in jobs)
        counters = stats(server)
        assert (counters["submissions"], counters["verifications"]) == (25, 25)
        assert counters["checks"] == 1  # the newest stamp was found: the whole batch is in a block


def test_a_slow_resume_still_follows_the_batch_with_one_check(history, tmp_path, monkeypatch):
    """On a busy machine a round could start while the resume is still adding the batch's stamps:
    it would find the first few, then need another round (another check) for the rest."""
    with running_sandbox(block_time=BLOCK) as server:
        client = fast_client(server.base_url)
        ids = stamp_then_quit(history, client, tmp_path / "batch", 6)
        time.sleep(POLICY.first_delay + BLOCK)  # all of them are in a block
        real_follow = Engine._follow
        paused = []

        def slow_follow(self, job, *args, **kwargs):
            real_follow(self, job, *args, **kwargs)
            if not paused:  # after the first stamp, give a round the time to start and check
                paused.append(job.id)
                deadline = time.monotonic() + 1.0
                while stats(server)["checks"] == 0 and time.monotonic() < deadline:
                    time.sleep(0.02)

        monkeypatch.setattr(Engine, "_follow", slow_follow)
        resume_to_the_end(history, client, ids)
        assert paused and all(j.state == "confirmed" for j in history.jobs(ids))
        assert (stats(server)["checks"], stats(server)["verifications"]) == (1, 6)


def test_a_cancelled_stamp_leaves_the_rest_of_its_batch_followed(history, tmp_path):
    with running_sandbox(block_time=BLOCK) as server:
        client = fast_client(server.base_url)
        engine = Engine(history, client, confirm=POLICY)
        try:
            ids = engine.add_files("stamp", files(tmp_path / "batch", 6))
            assert engine.wait_idle(30, include_pending=False)
            newest = max(ids, key=lambda i: history.get_job(i).submitted_at)
            engine.cancel(newest)  # the stamp a round would have checked
            assert engine.wait_idle(30)
        finally:
            engine.shutdown()
            client.close()
        assert history.get_job(newest).state == "cancelled"
        assert all(history.get_job(i).state == "confirmed" for i in ids if i != newest)
        assert stats(server)["verifications"] == 5


def test_already_on_chain_without_a_record_stays_pending_until_its_block_is_listed(history, tmp_path):
    with running_sandbox(block_time=0.2) as server:
        plain = fast_client(server.base_url)
        lagging = fast_client(server.base_url, extra_headers={"x-sandbox-shape": "no-record:2"})
        path = files(tmp_path / "one", 1)[0]
        engine = Engine(history, plain, confirm=ConfirmPolicy.for_block_time(0.2))
        try:
            [first] = engine.add_files("stamp", [path])
            assert engine.wait_idle(30)
        finally:
            engine.shutdown()
            plain.close()
        engine = Engine(history, lagging, confirm=ConfirmPolicy.for_block_time(0.2))
        updates = []
        engine.subscribe(updates.append)
        try:
            [again] = engine.add_files("stamp", [path], restamp=True)  # "already anchored", no record
            deadline = time.monotonic() + 10
            while not any(u.error_kind == AWAITING_BLOCK for u in updates) and time.monotonic() < deadline:
                time.sleep(0.01)
            assert engine.wait_idle(30)
        finally:
            engine.shutdown()
            lagging.close()
        assert again != first
        awaiting = [u for u in updates if u.job_id == again and u.error_kind == AWAITING_BLOCK]
        assert awaiting and all(u.state == "pending" and u.block_number is None for u in awaiting)
        job = history.get_job(again)
        assert job.state == "confirmed" and job.block_number and job.error is None
        assert job.response["already_on_chain"] is True
