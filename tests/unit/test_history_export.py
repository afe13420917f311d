"""History export (CSV, JSON) and import (exports, receipts, legacy v1 proofs)."""

from __future__ import annotations

import csv
import hashlib
import json
import time
import tracemalloc
from types import SimpleNamespace

import blake3
import pytest

from integritas_gui.core.history import History
from integritas_gui.core.model import ChainRecord
from integritas_gui.core.history_export import (
    EXPORT_FIELDS,
    JobFilter,
    export_history,
    export_to_string,
    import_file,
    import_files,
)
from integritas_gui.core.hashing import segments_root
from integritas_gui.core.receipts import Receipt, write_receipt

DOC_V1_PROOF = [{
    "address": "0xFFEEDD",
    "data": "0xE630FCDE204036E93323AE99843BF0EC6D03CAEB51CBBEA11E03D6739F8E9C3F",
    "proof": "0x000100000100",
    "root": "0x1384FA6242E0D750FFA9366EFC7A0AC226E7EFD14EC5DF70DD50E36188AC0EA6",
}]


def bulk_insert(history: History, count: int) -> None:
    """count jobs straight into SQLite (the History API commits one transaction per call)."""
    kinds = ("stamp", "check", "verify")
    outcomes = {"stamp": None, "check": "found", "verify": "full match"}
    rows = []
    for i in range(count):
        kind = kinds[i % 3]
        created = f"2025-{1 + i % 12:02d}-{1 + i % 28:02d}T10:{i % 60:02d}:00.000Z"
        sha = hashlib.sha3_256(str(i).encode()).hexdigest()
        rows.append((kind, f"/data/folder{i % 100}/file{i}.bin", f"file{i}.bin", i * 10, sha,
                     "confirmed" if kind == "stamp" else "done", outcomes[kind], created, created,
                     100000 + i if kind == "stamp" else None))
    db = history.db
    db.execute("BEGIN")
    db.executemany(
        "INSERT INTO jobs (kind, path, name, size, sha3_256, state, outcome, created_at, updated_at,"
        " block_number) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    db.execute("COMMIT")


@pytest.fixture
def history(tmp_path):
    store = History(tmp_path / "history.sqlite3")
    yield store
    store.close()


@pytest.fixture
def other_history(tmp_path):
    store = History(tmp_path / "other.sqlite3")
    yield store
    store.close()


def sample_jobs(history: History) -> None:
    stamp = history.add_job("stamp", path="/home/ann/contract ünïcode, \"quoted\".pdf",
                            name="contract ünïcode, \"quoted\".pdf", size=1234, sha3_256="ab" * 32)
    history.save_digest(stamp, SimpleNamespace(
        size=1234, mtime_ns=1_700_000_000_123_456_789, sha3_256="ab" * 32, blake3="cd" * 32,
        segment_size=65536, segments=("12" * 32,), segments_root="34" * 32))
    history.update(stamp, state="confirmed", block_number=1906787, submitted_at="2026-01-21T09:50:00.000Z",
                   confirmed_at="2026-01-21T09:56:00.000Z", block_date="2026-01-21T09:55:48.726Z",
                   receipt_path="/home/ann/r.json")
    history.add_records(stamp, [
        ChainRecord(block_number=1906787, block_date="2026-01-21T09:55:48.726Z", txpow_id="0x01",
                    transaction_id="0x02", matched_hash="ab" * 32),
        ChainRecord(block_number=1903587, block_date="2026-01-19T13:39:24.252Z", txpow_id="0x03",
                    transaction_id="0x04", matched_hash="ab" * 32),
    ])
    check = history.add_job("check", sha3_256="ef" * 32)
    history.update(check, state="done", outcome="not found")
    failed = history.add_job("verify", path="/tmp/line\nbreak.txt", name="line\nbreak.txt")
    history.update(failed, state="failed", error="The file cannot be read: Permission denied.")


def comparable(history: History) -> list[dict]:
    rows = json.loads(export_to_string(history, "json"))["jobs"]
    for row in rows:
        row.pop("id")
    return rows


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_export_import_round_trip(history, other_history, tmp_path, fmt):
    sample_jobs(history)
    target = tmp_path / f"history.{fmt}"
    assert export_history(history, target, fmt) == 3

    result = import_file(other_history, target)
    assert result.error is None, result.message
    assert (result.what, result.imported, result.skipped) == ("export", 3, 0)
    assert comparable(other_history) == comparable(history)
    assert [len(other_history.records(job.id)) for job in other_history.search()] == [0, 0, 2]
    stamp = other_history.search(kind="stamp")[0]
    assert (stamp.segment_size, stamp.segments_root, stamp.mtime_ns) == (65536, "34" * 32, 1_700_000_000_123_456_789)
    assert (stamp.submitted_at, stamp.confirmed_at) == ("2026-01-21T09:50:00.000Z", "2026-01-21T09:56:00.000Z")
    assert other_history.segments(stamp.id) == ("12" * 32,)

    again = import_file(other_history, target)
    assert (again.imported, again.skipped) == (0, 3), "importing twice adds nothing"


def test_export_selected_and_filtered(history, tmp_path):
    sample_jobs(history)
    stamp_id = history.search(kind="stamp")[0].id
    text = export_to_string(history, "csv", job_ids=[stamp_id])
    rows = list(csv.DictReader(text.splitlines()))
    assert [r["kind"] for r in rows] == ["stamp"]
    assert json.loads(rows[0]["records"])[0]["block_number"] == 1906787
    assert list(rows[0]) == list(EXPORT_FIELDS)

    only_checks = json.loads(export_to_string(history, "json", job_filter=JobFilter(kind="check")))
    assert [job["outcome"] for job in only_checks["jobs"]] == ["not found"]


@pytest.mark.xdist_group("heavy")  # CPU-heavy or timed: one at a time (tests/conftest.py)
def test_export_streams(history, tmp_path):
    rows = 30_000  # enough that holding them all would show far above the streaming bound
    bulk_insert(history, rows)
    for fmt in ("csv", "json"):
        target = tmp_path / f"all.{fmt}"
        tracemalloc.start()
        started = time.perf_counter()
        count = export_history(history, target, fmt)
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"\nexport {fmt}: {count} rows in {elapsed:.2f} s (traced), "
              f"{target.stat().st_size / 1e6:.1f} MB, peak Python memory {peak / 1e6:.1f} MB")
        assert count == rows
        assert peak < 10e6, "the export must stream, not hold every row"

    fresh = History(tmp_path / "fresh.sqlite3")
    started = time.perf_counter()
    result = import_file(fresh, tmp_path / "all.json")
    print(f"import json: {result.imported} rows in {time.perf_counter() - started:.2f} s")
    assert result.imported == rows and fresh.count() == rows
    fresh.close()


def test_v1_proof_from_the_api_doc_imports(history, tmp_path):
    proof_file = tmp_path / "proof.json"
    proof_file.write_text(json.dumps(DOC_V1_PROOF))
    result = import_file(history, proof_file)
    assert result.error is None and (result.what, result.imported) == ("v1 proof", 1)
    job = history.search()[0]
    assert job.sha3_256 == "e630fcde204036e93323ae99843bf0ec6d03caeb51cbbea11e03d6739f8e9c3f"
    assert job.state == "confirmed" and "checked offline" in job.outcome
    assert job.receipt_path == str(proof_file)
    # Found again by its hash prefix.
    assert history.count("e630fcde") == 1


def test_v1_proof_with_wrong_root_is_rejected_and_imports_nothing(history, tmp_path):
    good = dict(DOC_V1_PROOF[0])
    forged = dict(good, data="0x" + "11" * 32)  # another hash under the same root
    proof_file = tmp_path / "forged.json"
    proof_file.write_text(json.dumps([good, forged]))
    result = import_file(history, proof_file)
    assert result.imported == 0
    assert "Rejected" in result.error and "root" in result.error
    assert history.count() == 0


def make_receipt(tmp_path, confirmed=True) -> tuple[Receipt, str]:
    data = b"hello integritas\n" * 1000
    segment_size = 64 * 1024
    segments = (blake3.blake3(data).hexdigest(),)
    digest = SimpleNamespace(
        path=str(tmp_path / "hello.txt"), size=len(data), mtime_ns=1, segment_size=segment_size,
        sha3_256=hashlib.sha3_256(data).hexdigest(), blake3=blake3.blake3(data).hexdigest(),
        segments=segments, segments_root=segments_root(segment_size, len(data), segments),
    )
    (tmp_path / "hello.txt").write_bytes(data)
    receipt = Receipt.from_digest(digest, base_url="http://127.0.0.1:9/core")
    if confirmed:
        receipt = receipt.with_confirmation([ChainRecord(
            block_number=42, block_date="2026-02-01T10:00:00.000Z", txpow_id="0xaa",
            transaction_id="0xbb", matched_hash=digest.sha3_256,
        )])
    path = tmp_path / "hello.txt.integritas.json"
    write_receipt(receipt, path)
    return receipt, str(path)


def test_receipt_import(history, tmp_path):
    receipt, path = make_receipt(tmp_path)
    result = import_file(history, path)
    assert result.error is None and (result.what, result.imported) == ("receipt", 1)
    job = history.search()[0]
    assert (job.kind, job.state, job.name) == ("stamp", "confirmed", "hello.txt")
    assert job.sha3_256 == receipt.sha3_256 and job.block_number == 42
    assert job.receipt_path == path and job.path == receipt.file_path
    assert history.segments(job.id) == receipt.segments
    assert [r.block_number for r in history.records(job.id)] == [42]
    assert import_file(history, path).skipped == 1


def test_corrupt_files_give_plain_messages_and_import_nothing(history, tmp_path):
    truncated = tmp_path / "broken.integritas.json"
    _receipt, good_path = make_receipt(tmp_path)
    truncated.write_text(open(good_path).read()[:200])
    garbage = tmp_path / "garbage.json"
    garbage.write_bytes(b"\x00\xff\xfe binary")
    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_text("kind,sha3_256,state,created_at\nstamp,aa,confirmed,2025-01-01\nnonsense,,,\n")
    results = import_files(history, [truncated, garbage, bad_csv, tmp_path / "missing.json"])
    for result in results:
        assert result.imported == 0 and result.error, result
        assert "Traceback" not in result.message
        print(result.message)
    assert "damaged" in results[0].error
    assert "line 3" in results[2].error
    assert history.count() == 0
