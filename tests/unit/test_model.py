"""core.model: one on-chain record type from the service answer through history and receipt."""

from __future__ import annotations

import dataclasses

import pytest

from integritas_gui.core.answers import record_from_service
from integritas_gui.core.hashing import hash_file
from integritas_gui.core.history import History
from integritas_gui.core.model import ChainRecord, Job
from integritas_gui.core.receipts import Receipt, read_receipt
from tests.sandbox_fixture import wait_for_block


def test_service_answer_record_history_receipt_record_are_equal(sandbox, sandbox_client, tmp_path):
    file = tmp_path / "contract.pdf"
    file.write_bytes(b"signed contract\n" * 10_000)
    digest = hash_file(file)
    sandbox_client.stamp(digest.sha3_256)
    wait_for_block(sandbox)
    answer = sandbox_client.verify(digest.sha3_256)
    assert answer.result == "full match" and answer.records
    from_service = answer.records
    assert all(type(r) is ChainRecord for r in from_service)

    history = History(tmp_path / "h.sqlite3")
    job_id = history.add_job("stamp", path=str(file), name=file.name)
    history.save_digest(job_id, digest, state="confirmed")
    history.add_records(job_id, from_service)
    history.add_records(job_id, from_service)  # the same records twice are kept once
    from_history = history.get_job(job_id).records
    assert sorted(from_history, key=ChainRecord.key) == sorted(from_service, key=ChainRecord.key)

    receipt = Receipt.from_digest(digest).with_confirmation(from_history)
    again = read_receipt(receipt.to_json())
    assert sorted(again.records, key=ChainRecord.key) == sorted(from_service, key=ChainRecord.key)
    assert again == receipt
    history.close()


def test_a_service_entry_is_read_leniently():
    record = record_from_service({"blockNumber": "1906787", "blockDate": "2026-01-21 09:55:48",
                                  "txpowId": "0x00AB", "transactionId": "0x00CD",
                                  "matchedHash": " 0X" + "AB" * 32 + "\n"})
    assert record == ChainRecord(block_number=1906787, block_date="2026-01-21T09:55:48.000Z",
                                 txpow_id="0x00AB", transaction_id="0x00CD", matched_hash="ab" * 32)
    assert record_from_service({}) == ChainRecord()


def test_records_and_jobs_are_frozen(tmp_path):
    history = History(tmp_path / "h.sqlite3")
    job = history.get_job(history.add_job("check", sha3_256="ab" * 32))
    assert isinstance(job, Job) and job.records == ()
    with pytest.raises(dataclasses.FrozenInstanceError):
        job.state = "done"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        ChainRecord().block_number = 1  # type: ignore[misc]
    history.close()


def documented_receipt() -> dict:
    import json
    import re
    from pathlib import Path

    text = (Path(__file__).parents[2] / "docs" / "receipt-format.md").read_text(encoding="utf-8")
    return json.loads(re.search(r"```json\n(.*?)\n```", text, re.S).group(1))


def test_the_documented_receipt_reads_into_the_one_record_and_writes_back_unchanged(tmp_path):
    import json

    from integritas_gui.core.history_export import import_files
    from integritas_gui.core.job_receipts import receipt_for_job

    data = documented_receipt()
    receipt = read_receipt(json.dumps(data))
    assert receipt.records == (ChainRecord(
        block_number=1906787, block_date="2026-01-21T09:55:48.726Z", txpow_id="0x00003A5E57F",
        transaction_id="0x0000C91F48E", matched_hash=data["hashes"]["sha3_256"]),)
    written = json.loads(receipt.to_json())
    assert {key: written[key] for key in data} == data  # every documented field kept as it was

    # receipt -> history (an import) -> record and receipt again
    path = tmp_path / "example-contract.pdf.integritas.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    history = History(tmp_path / "h.sqlite3")
    [result] = import_files(history, [str(path)])
    assert result.imported == 1, result.message
    [job] = history.search(kind="stamp")
    job = history.get_job(job.id)
    assert job.records == receipt.records and job.block_number == 1906787
    rebuilt = receipt_for_job(history, job.id)
    assert rebuilt.records == receipt.records and rebuilt.segments == receipt.segments
    history.close()
