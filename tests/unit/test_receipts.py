"""Receipts: round trip, strict reading, atomic writing, verifying a file against its receipt."""

from __future__ import annotations

import hashlib
import json
import os

import blake3
import pytest

from integritas_gui.core.answers import record_from_service
from integritas_gui.core.errors import BadInput, FileProblem
from integritas_gui.core.hashing import hash_file, segments_root
from integritas_gui.core.receipt_verify import merge_changed_segments, verify_file_against_receipt
from integritas_gui.core.receipts import (
    RECEIPT_VERSION,
    Receipt,
    export_receipt,
    read_receipt,
    sidecar_path,
    write_receipt,
    write_sidecar,
)

SEG = 64 * 1024
RECORD = {
    "blockNumber": 1906787,
    "blockDate": "2026-01-21T09:55:48.726Z",
    "txpowId": "0x00003A5E57F",
    "transactionId": "0x0000C91F48E",
}


def make_file(folder, name="data.bin", size=5 * SEG + 123, seed=1):
    path = folder / name
    block = hashlib.sha256(str(seed).encode()).digest()
    path.write_bytes((block * (size // len(block) + 1))[:size])
    return path


def receipt_for(path, **kwargs):
    return Receipt.from_digest(hash_file(path, segment_size=SEG), **kwargs)


# -- building and round trip --------------------------------------------------------------------


def test_receipt_matches_standard_tools(tmp_path):
    path = make_file(tmp_path)
    data = path.read_bytes()
    receipt = receipt_for(path)
    assert receipt.sha3_256 == hashlib.sha3_256(data).hexdigest()
    assert receipt.blake3 == blake3.blake3(data).hexdigest()
    assert receipt.segments == tuple(
        blake3.blake3(data[i : i + SEG]).hexdigest() for i in range(0, len(data), SEG)
    )
    raw = b"integritas-segments-v1\0" + SEG.to_bytes(8, "big") + len(data).to_bytes(8, "big")
    raw += b"".join(bytes.fromhex(s) for s in receipt.segments)
    assert receipt.segments_root == blake3.blake3(raw).hexdigest()
    assert receipt.file_name == "data.bin" and receipt.file_path == str(path)


def test_receipt_root_formula_agrees_with_hashing():
    from integritas_gui.core import hashing

    segments = [hashlib.sha3_256(bytes([i])).hexdigest() for i in range(3)]
    assert segments_root(SEG, 2 * SEG + 5, segments) == hashing.segments_root(SEG, 2 * SEG + 5, segments)


def test_round_trip_with_everything(tmp_path):
    path = make_file(tmp_path, "ré sumé ☃.bin")
    stamp = {
        "hash": "x",
        "newly_anchored": True,
        "request_id": "req-1",
        "message": "Hash anchored successfully.",
        "raw": {"data": {"service": "MINIMA_NODE", "command": "send", "params": {"amount": "1e-22"}, "status": True}},
    }
    receipt = receipt_for(path, base_url="http://user:secret@127.0.0.1:8123/core/?k=1", stamp_result=stamp)
    receipt = receipt.with_confirmation([record_from_service(RECORD), record_from_service(dict(RECORD))])  # the same record twice -> once
    receipt = receipt.with_report(
        {"result": "full match", "nft_coin_id": "0xB2E1", "nft_txn_id": "0xFCF4",
         "report": {"file_name": "verification-report.pdf"}},
        saved_path=tmp_path / "report.pdf",
    )
    assert receipt.stamp_request.base_url == "http://127.0.0.1:8123/core"
    assert receipt.stamp_response.node["command"] == "send"
    assert len(receipt.records) == 1 and receipt.records[0].block_number == 1906787
    assert receipt.confirmed_at and receipt.reports[0].file_name == "verification-report.pdf"

    text = receipt.to_json()
    assert "secret" not in text and "k=1" not in text
    again = read_receipt(text)
    assert again == receipt
    assert Receipt.from_json(again.to_json()) == receipt


def test_record_for_another_hash_is_ignored(tmp_path):
    receipt = receipt_for(make_file(tmp_path))
    other = dict(RECORD, matchedHash="AB" * 32)
    assert receipt.with_confirmation([record_from_service(other)]).records == ()
    mine = dict(RECORD, matchedHash="0x" + receipt.sha3_256.upper())
    assert receipt.with_confirmation([record_from_service(mine)]).records[0].matched_hash == receipt.sha3_256


def test_already_anchored_stamp_carries_confirmation(tmp_path):
    receipt = receipt_for(make_file(tmp_path))
    verification = {"result": "full match", "records": [record_from_service(RECORD)]}
    stamped = receipt.with_stamp("https://integritas.technology/core", {
        "newly_anchored": False, "message": "already", "verification": verification, "raw": {}})
    assert stamped.is_confirmed and stamped.stamp_response.newly_anchored is False


def test_empty_file_has_zero_segments(tmp_path):
    path = tmp_path / "empty"
    path.write_bytes(b"")
    receipt = receipt_for(path)
    assert receipt.segments == () and receipt.size == 0
    assert read_receipt(receipt.to_json()) == receipt
    assert verify_file_against_receipt(path, receipt).status == "match"


def test_unknown_extra_fields_are_ignored(tmp_path):
    data = receipt_for(make_file(tmp_path)).to_dict()
    data["future_field"] = {"anything": [1, 2]}
    data["file"]["colour"] = "blue"
    assert read_receipt(json.dumps(data)).size == data["file"]["size"]


# -- strict reading ------------------------------------------------------------------------------


def _corrupt(data, kind):
    if kind == "format":
        data["format"] = "something-else"
    elif kind == "future_version":
        data["version"] = RECEIPT_VERSION + 1
    elif kind == "version_text":
        data["version"] = "1"
    elif kind == "missing_sha3":
        del data["hashes"]["sha3_256"]
    elif kind == "missing_file":
        del data["file"]
    elif kind == "missing_created":
        del data["created"]
    elif kind == "bad_hex":
        data["hashes"]["blake3"] = "zz" + data["hashes"]["blake3"][2:]
    elif kind == "uppercase_hex":
        data["hashes"]["sha3_256"] = data["hashes"]["sha3_256"].upper()
    elif kind == "short_hex":
        data["hashes"]["sha3_256"] = data["hashes"]["sha3_256"][:-2]
    elif kind == "bad_segment_hex":
        data["segments"]["hashes"][1] = "not hex"
    elif kind == "segment_dropped":
        data["segments"]["hashes"].pop()
        data["segments"]["count"] -= 1
    elif kind == "count_disagrees":
        data["segments"]["count"] += 1
    elif kind == "size_changed":
        data["file"]["size"] += SEG
    elif kind == "segment_edited":
        data["segments"]["hashes"][0] = "0" * 64
    elif kind == "root_edited":
        data["segments"]["root"] = "1" * 64
    elif kind == "segment_size_odd":
        data["segments"]["size"] = 100_000
    elif kind == "size_negative":
        data["file"]["size"] = -1
    elif kind == "size_bool":
        data["file"]["size"] = True
    elif kind == "name_with_slash":
        data["file"]["name"] = "../../etc/passwd"
    elif kind == "bad_time":
        data["updated"] = "yesterday"
    elif kind == "records_not_list":
        data["confirmation"] = {"confirmed_at": None, "records": "oops"}
    return data


CORRUPTIONS = {
    "format": "not an Integritas receipt",
    "future_version": "newer Integritas Desktop",
    "version_text": "'version'",
    "missing_sha3": "'hashes.sha3_256' is missing",
    "missing_file": "'file' is missing",
    "missing_created": "'created' is missing",
    "bad_hex": "'hashes.blake3'",
    "uppercase_hex": "'hashes.sha3_256'",
    "short_hex": "'hashes.sha3_256'",
    "bad_segment_hex": "segment hash 1",
    "segment_dropped": "has 6 segments, but the receipt lists 5",
    "count_disagrees": "says 7 segments but lists 6",
    "size_changed": "has 7 segments, but the receipt lists 6",
    "segment_edited": "segment root does not match",
    "root_edited": "segment root does not match",
    "segment_size_odd": "power of two",
    "size_negative": "'file.size'",
    "size_bool": "'file.size'",
    "name_with_slash": "plain file name",
    "bad_time": "'updated'",
    "records_not_list": "'confirmation.records'",
}


@pytest.mark.parametrize("kind", sorted(CORRUPTIONS))
def test_each_corruption_is_bad_input_naming_the_problem(tmp_path, kind):
    receipt = receipt_for(make_file(tmp_path)).with_confirmation([record_from_service(RECORD)])
    data = _corrupt(receipt.to_dict(), kind)
    path = tmp_path / "broken.integritas.json"
    path.write_text(json.dumps(data))
    with pytest.raises(BadInput) as caught:
        read_receipt(path)
    assert CORRUPTIONS[kind] in caught.value.message


@pytest.mark.parametrize(
    "payload, words",
    [
        (b'{"format": "integritas-receipt", "version": 1,', "not valid JSON"),
        (b"\xff\xfe\x00\x01", "not valid UTF-8"),
        (b"[1, 2, 3]", "not a JSON object"),
        (b'{"format": "integritas-receipt", "version": NaN}', "not valid JSON"),
        (b"", "not valid JSON"),
    ],
)
def test_damaged_files_are_bad_input(tmp_path, payload, words):
    path = tmp_path / "x.integritas.json"
    path.write_bytes(payload)
    with pytest.raises(BadInput) as caught:
        read_receipt(path)
    assert words in caught.value.message


def test_missing_receipt_file_is_a_file_problem(tmp_path):
    with pytest.raises(FileProblem):
        read_receipt(tmp_path / "nothing.integritas.json")


# -- writing -------------------------------------------------------------------------------------


def test_sidecar_naming_and_atomic_write(tmp_path):
    tmp_path = tmp_path / "files"
    tmp_path.mkdir()
    path = make_file(tmp_path, "photo 1.jpg")
    assert sidecar_path(path) == tmp_path / "photo 1.jpg.integritas.json"
    assert sidecar_path(str(path)).name == "photo 1.jpg.integritas.json"
    receipt = receipt_for(path)
    written = write_sidecar(receipt, path)
    assert written == sidecar_path(path)
    assert read_receipt(written) == receipt
    # overwrite in place leaves no temp files behind
    write_receipt(receipt.with_confirmation([record_from_service(RECORD)]), written)
    assert read_receipt(written).is_confirmed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photo 1.jpg", "photo 1.jpg.integritas.json"]


def test_export_to_folder_or_file(tmp_path):
    receipt = receipt_for(make_file(tmp_path))
    out = tmp_path / "exports"
    out.mkdir()
    assert export_receipt(receipt, out) == out / "data.bin.integritas.json"
    assert export_receipt(receipt, out / "mine.json").exists()
    with pytest.raises(FileProblem):
        write_receipt(receipt, tmp_path / "no" / "such" / "folder.json")


# -- verifying a file against its receipt --------------------------------------------------------


def test_unchanged_file_matches(tmp_path):
    path = make_file(tmp_path)
    receipt = receipt_for(path)
    seen = []
    check = verify_file_against_receipt(path, receipt, progress=lambda done, total: seen.append(total))
    assert check.status == "match" and check.is_match
    assert check.changed_segments == () and check.sha3_now == receipt.sha3_256
    assert seen


def test_bytes_changed_in_the_middle(tmp_path):
    path = make_file(tmp_path)
    receipt = receipt_for(path)
    with open(path, "r+b") as handle:
        handle.seek(2 * SEG + 10)
        handle.write(b"X")
        handle.seek(3 * SEG + 5)
        handle.write(b"Y")
    check = verify_file_against_receipt(path, receipt)
    assert check.status == "changed" and not check.is_match
    assert check.changed_segments == ((2, 2 * SEG, SEG), (3, 3 * SEG, SEG))
    assert check.changed_ranges == [(2 * SEG, 2 * SEG)]
    assert check.size_now == check.size_then
    assert "2 of 6 segments differ" in check.message and "131,072" in check.message


def test_appended_file_reports_the_tail(tmp_path):
    path = make_file(tmp_path, size=3 * SEG)
    receipt = receipt_for(path)
    with open(path, "ab") as handle:
        handle.write(b"more" * 10)
    check = verify_file_against_receipt(path, receipt)
    assert check.status == "changed"
    assert check.changed_segments == ((3, 3 * SEG, 40),)
    assert check.size_now == 3 * SEG + 40 and "grew" in check.message


def test_truncated_file_reports_the_lost_tail(tmp_path):
    path = make_file(tmp_path, size=4 * SEG + 100)
    receipt = receipt_for(path)
    with open(path, "r+b") as handle:
        handle.truncate(2 * SEG + 7)
    check = verify_file_against_receipt(path, receipt)
    assert check.status == "changed"
    assert check.changed_segments == ((2, 2 * SEG, SEG), (3, 3 * SEG, SEG), (4, 4 * SEG, 100))
    assert check.changed_ranges == [(2 * SEG, 2 * SEG + 100)]
    assert "shrank" in check.message


def test_never_match_when_the_hash_differs(tmp_path):
    """Even a receipt whose segment list was forged to fit is not a match without the SHA3-256."""
    path = make_file(tmp_path)
    receipt = receipt_for(path)
    with open(path, "r+b") as handle:
        handle.write(b"Z")
    forged_digest = hash_file(path, segment_size=SEG)
    forged = Receipt.from_digest(forged_digest)
    forged_dict = forged.to_dict()
    forged_dict["hashes"]["sha3_256"] = receipt.sha3_256  # claims the old anchored hash
    check = verify_file_against_receipt(path, read_receipt(json.dumps(forged_dict)))
    assert check.status == "changed" and check.changed_segments == ()
    assert "SHA3-256 differs" in check.message


def test_missing_and_unreadable(tmp_path):
    path = make_file(tmp_path)
    receipt = receipt_for(path)
    path.unlink()
    assert verify_file_against_receipt(path, receipt).status == "missing"
    folder = tmp_path / "now-a-folder"
    folder.mkdir()
    check = verify_file_against_receipt(folder, receipt)
    assert check.status == "unreadable" and check.message


def test_merge_changed_segments():
    assert merge_changed_segments([]) == []
    assert merge_changed_segments([(0, 0, 10), (1, 10, 10), (3, 30, 5)]) == [(0, 20), (30, 5)]


def test_receipt_never_contains_headers_or_key(tmp_path, monkeypatch):
    key = "sk-live-DO-NOT-LEAK-1234567890"
    monkeypatch.setenv("INTEGRITAS_API_KEY", key)
    stamp = {"message": "ok", "request_id": "r", "newly_anchored": True,
             "raw": {"headers": {"x-api-key": key}, "data": {"service": "MINIMA_NODE", "command": "send"}}}
    receipt = receipt_for(make_file(tmp_path), base_url=f"https://{key}@integritas.technology/core?key={key}",
                          stamp_result=stamp)
    assert key not in receipt.to_json()
    assert os.environ["INTEGRITAS_API_KEY"] == key
