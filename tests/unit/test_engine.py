"""core.engine against the real sandbox over loopback: the job life cycle both front ends rely on."""

from __future__ import annotations

import threading

import pytest

from integritas_gui.core.engine import ConfirmPolicy, Engine
from integritas_gui.core.verify_reference import changed_ranges
from tests.sandbox_fixture import TEST_BLOCK_TIME, fast_client, running_sandbox
from tests.sandbox_fixture import sandbox_stats as stats

POLICY = ConfirmPolicy.for_block_time(TEST_BLOCK_TIME)


class Recorder:
    """Collects JobUpdates from worker threads."""

    def __init__(self):
        self.updates = []
        self.lock = threading.Lock()

    def __call__(self, update):
        with self.lock:
            self.updates.append(update)

    def states(self, job_id):
        with self.lock:
            return [u.state for u in self.updates if u.job_id == job_id]


@pytest.fixture
def make_engine(history, sandbox, data_dir):
    engines = []

    def make(client=None, **options):
        client = client or fast_client(sandbox.base_url, sandbox.api_key)
        options.setdefault("confirm", POLICY)
        options.setdefault("reports_dir", data_dir / "reports")
        engine = Engine(history, client, **options)
        recorder = Recorder()
        engine.subscribe(recorder)
        engines.append((engine, client))
        return engine, recorder

    yield make
    for engine, client in engines:
        engine.shutdown(wait=True)
        client.close()




def write(path, data: bytes):
    path.write_bytes(data)
    return path


def test_stamp_moves_through_every_state_to_confirmed_with_a_record(make_engine, history, tmp_path):
    engine, recorder = make_engine()
    file = write(tmp_path / "deed.txt", b"a deed\n" * 1000)
    [job_id] = engine.add_files("stamp", [file])
    assert engine.wait_idle(30)
    job = history.get_job(job_id)
    assert job.state == "confirmed" and job.block_number and job.records
    assert job.records[0].txpow_id and job.records[0].transaction_id
    seen = recorder.states(job_id)
    for state in ("queued", "hashing", "hashed", "submitting", "pending", "confirmed"):
        assert state in seen, f"{state} was never announced: {seen}"
    assert seen.index("pending") < seen.index("confirmed")


def test_stamping_the_same_unchanged_file_again_reuses_the_job(make_engine, sandbox, tmp_path):
    engine, _ = make_engine()
    file = write(tmp_path / "once.txt", b"once")
    [first] = engine.add_files("stamp", [file])
    assert engine.wait_idle(30)
    [again] = engine.add_files("stamp", [file])
    assert engine.wait_idle(30)
    assert again == first
    assert stats(sandbox)["submissions"] == 1


def test_verify_full_match_changed_and_unknown(make_engine, history, tmp_path):
    engine, _ = make_engine()
    kept = write(tmp_path / "kept.bin", bytes(range(256)) * 2048)  # 512 KiB: 8 segments of 64 KiB
    changed = write(tmp_path / "changed.bin", bytes(range(256)) * 2048)
    engine.add_files("stamp", [kept, changed])
    assert engine.wait_idle(30)

    data = bytearray(changed.read_bytes())
    data[200_000] ^= 0xFF  # inside the fourth segment (196,608 - 262,143)
    changed.write_bytes(bytes(data))
    unknown = write(tmp_path / "unknown.bin", b"never stamped")

    kept_id, changed_id, unknown_id = engine.add_files("verify", [kept, changed, unknown])
    assert engine.wait_idle(30)

    kept_job = history.get_job(kept_id)
    assert kept_job.outcome == "full match" and kept_job.records
    assert kept_job.receipt_check["status"] == "match"

    changed_job = history.get_job(changed_id)
    assert changed_job.outcome == "no match"
    assert changed_job.receipt_check["status"] == "changed"
    assert changed_job.receipt_check["changed"] == [[196_608, 65_536]]

    unknown_job = history.get_job(unknown_id)
    assert unknown_job.outcome == "no match" and not unknown_job.records
    assert unknown_job.receipt_check is None  # never stamped here: nothing to compare with


def test_check_of_a_pasted_hash(make_engine, history, tmp_path):
    engine, _ = make_engine()
    [stamped] = engine.add_files("stamp", [write(tmp_path / "x.txt", b"x")])
    assert engine.wait_idle(30)
    known = history.get_job(stamped).sha3_256
    found = engine.add_hash("check", "0x" + known.upper())
    missing = engine.add_hash("check", "ab" * 32)
    assert engine.wait_idle(30)
    assert history.get_job(found).outcome == "found"
    assert history.get_job(missing).outcome == "not found"


def test_verify_with_report_saves_the_pdf(make_engine, history, tmp_path, data_dir):
    engine, _ = make_engine()
    file = write(tmp_path / "r.txt", b"report me")
    engine.add_files("stamp", [file])
    assert engine.wait_idle(30)
    [job_id] = engine.add_files("verify", [file], report=True)
    assert engine.wait_idle(30)
    job = history.get_job(job_id)
    assert job.report_path and job.report_path.startswith(str(data_dir / "reports"))
    with open(job.report_path, "rb") as pdf:
        assert pdf.read(5) == b"%PDF-"


def test_unreadable_entries_fail_alone_with_a_plain_message(make_engine, history, tmp_path):
    engine, _ = make_engine()
    good = write(tmp_path / "good.txt", b"fine")
    missing = tmp_path / "gone.txt"
    good_id, missing_id = engine.add_files("stamp", [good, missing])
    assert engine.wait_idle(30)
    assert history.get_job(good_id).state == "confirmed"
    failed = history.get_job(missing_id)
    assert failed.state == "failed" and failed.error and "Traceback" not in failed.error


def test_service_down_fails_then_retry_completes(history, tmp_path, data_dir):
    file = write(tmp_path / "later.txt", b"later")
    with running_sandbox() as server:
        down_url = server.base_url
        server.stop()
        client = fast_client(down_url, max_retries=0)
        engine = Engine(history, client, confirm=POLICY)
        try:
            [job_id] = engine.add_files("stamp", [file])
            assert engine.wait_idle(30)
            job = history.get_job(job_id)
            assert job.state == "failed" and job.error_kind == "network" and job.sha3_256
            server.start()
            client.close()
            engine.client = fast_client(server.base_url, max_retries=0)
            engine.retry(job_id)
            assert engine.wait_idle(30)
            assert history.get_job(job_id).state == "confirmed"
        finally:
            engine.shutdown()
            engine.client.close()


def test_cancel_mid_hash_leaves_the_job_cancelled(make_engine, history, tmp_path):
    engine, recorder = make_engine()
    big = tmp_path / "big.img"
    with open(big, "wb") as f:
        f.truncate(2 * 1024**3)
    [job_id] = engine.add_files("stamp", [big])
    for _ in range(500):
        if "hashing" in recorder.states(job_id):
            break
        threading.Event().wait(0.01)
    engine.cancel(job_id)
    assert engine.wait_idle(30)
    assert history.get_job(job_id).state == "cancelled"


def test_shutdown_while_pending_then_a_new_engine_resumes_to_confirmed(history, sandbox, tmp_path):
    slow_policy = ConfirmPolicy(first_delay=60, interval=60)  # the first engine never polls
    client = fast_client(sandbox.base_url)
    first = Engine(history, client, confirm=slow_policy)
    [job_id] = first.add_files("stamp", [write(tmp_path / "p.txt", b"pending")])
    assert first.wait_idle(30, include_pending=False)
    assert history.get_job(job_id).state == "pending"
    first.shutdown()

    second = Engine(history, client, confirm=POLICY)
    try:
        assert second.resume_unfinished() == [job_id]
        assert second.wait_idle(30)
        assert history.get_job(job_id).state == "confirmed"
        assert stats(sandbox)["submissions"] == 1  # resumed by polling, not by stamping again
    finally:
        second.shutdown()
        client.close()


@pytest.mark.parametrize("reached_the_service", [True, False])
def test_a_stamp_interrupted_mid_request_is_looked_up_before_it_is_sent_again(
        history, sandbox, tmp_path, reached_the_service):
    """A crash between "submitting" and the answer: the service may have the stamp. The resuming
    engine confirms it from the chain if so (no second stamp), and sends it once otherwise."""
    from integritas_gui.core.hashing import hash_file

    path = write(tmp_path / "interrupted.txt", b"sent just before the crash")
    digest = hash_file(str(path))
    job_id = history.add_job("stamp", path=str(path), name=path.name, size=digest.size, state="queued")
    history.save_digest(job_id, digest)
    history.update(job_id, state="submitting", attempts=1)
    if reached_the_service:
        sandbox.do_stamp(digest.sha3_256, "before-the-crash")
    client = fast_client(sandbox.base_url)
    engine = Engine(history, client, confirm=POLICY)
    try:
        assert engine.resume_unfinished() == [job_id]
        assert engine.wait_idle(30)
        assert history.get_job(job_id).state == "confirmed"
        assert stats(sandbox)["submissions"] == 1
        assert sandbox.ledger.counts()["all_records"] == 1
    finally:
        engine.shutdown()
        client.close()


@pytest.mark.parametrize("per_second", [pytest.param(5, marks=pytest.mark.slow), 20])  # 9 s / 2 s
def test_rate_limit_is_waited_out_not_failed(history, tmp_path, per_second):
    with running_sandbox(rate_limit=(per_second, 1.0)) as server:
        client = fast_client(server.base_url, max_retries=0)
        engine = Engine(history, client, confirm=POLICY)
        try:
            files = [write(tmp_path / f"r{i}.txt", f"rate {i}".encode()) for i in range(15)]
            ids = engine.add_files("stamp", files)
            assert engine.wait_idle(60)
            states = [history.get_job(i).state for i in ids]
            assert states == ["confirmed"] * len(files)
        finally:
            engine.shutdown()
            client.close()


def test_changed_ranges_covers_growth_shrink_and_edits():
    seg = 65536
    a, b, c = "a" * 64, "b" * 64, "c" * 64
    assert changed_ranges(seg, 3 * seg, [a, b, c], 3 * seg, [a, b, c]) == []
    assert changed_ranges(seg, 3 * seg, [a, b, c], 3 * seg, [a, c, c]) == [(seg, seg)]
    grown = changed_ranges(seg, 2 * seg, [a, b], 3 * seg, [a, b, c])
    assert grown == [(2 * seg, seg)]
    shrunk = changed_ranges(seg, 3 * seg, [a, b, c], 2 * seg, [a, b])
    assert shrunk and shrunk[-1][0] == 2 * seg
