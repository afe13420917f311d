"""v1 proofs the service marked "[ERROR]" and Edge Studio export ZIPs, read and imported."""

from __future__ import annotations

import hashlib
import json
import zipfile

import pytest

from integritas_gui.core.errors import BadInput
from integritas_gui.core.history import History
from integritas_gui.core.history_export import import_file
from integritas_gui.core.v1proof import FAILED_AT_SERVICE, VALID, parse_v1_proofs, read_proof_zip
from tests.proof_files import edge_studio_zip, error_entry, v1_entry

CONTENT = b'{"temperatureC": 21.4, "readAt": "2026-08-18T09:59:58Z"}\n'
SHA3 = hashlib.sha3_256(CONTENT).hexdigest()


@pytest.fixture
def history(tmp_path):
    store = History(tmp_path / "history.sqlite3")
    yield store
    store.close()


def test_an_error_marker_is_a_stamp_that_failed_at_the_service_not_a_damaged_file():
    [proof] = parse_v1_proofs(json.dumps([error_entry(SHA3)]))
    assert proof.status == FAILED_AT_SERVICE and not proof.ok
    assert proof.hash == SHA3
    assert "failed at the Integritas service" in proof.message and "not damaged" in proof.message


def test_an_error_marker_imports_as_a_failed_stamp_that_says_so(history, tmp_path):
    proof_file = tmp_path / "proofs.json"
    other = hashlib.sha3_256(b"other").hexdigest()
    proof_file.write_text(json.dumps([v1_entry(other), error_entry(SHA3)]))
    result = import_file(history, proof_file)
    assert result.error is None and (result.imported, result.failed_at_service) == (2, 1)
    assert "1 of the stamps failed at the Integritas service" in result.message
    assert "damaged" not in result.message
    failed = history.search(SHA3[:12])[0]
    assert failed.state == "failed" and failed.error_kind == "service"
    assert "stamp the file again" in failed.error
    assert history.search(other[:12])[0].state == "confirmed"


def test_an_edge_studio_zip_imports_its_proof_and_checks_the_file_inside(history, tmp_path):
    bundle = read_proof_zip(edge_studio_zip(tmp_path / "export.zip", CONTENT))
    assert (bundle.source_name, bundle.source_size, bundle.source_sha3) == (
        "sensor-reading.json", len(CONTENT), SHA3)
    assert bundle.source_matches and bundle.proofs[0].status == VALID
    result = import_file(history, tmp_path / "export.zip")
    assert result.error is None and (result.what, result.imported) == ("Edge Studio export", 1)
    [job] = history.search(SHA3[:12])
    assert job.state == "confirmed" and job.size == len(CONTENT)
    assert job.name == "sensor-reading.json (Edge Studio export)"
    assert import_file(history, tmp_path / "export.zip").skipped == 1  # the same export again


def test_a_zip_whose_file_is_not_the_proven_one_is_rejected(history, tmp_path):
    edge_studio_zip(tmp_path / "mixed.zip", CONTENT, proof_for=b"something else")
    result = import_file(history, tmp_path / "mixed.zip")
    assert result.imported == 0 and "Rejected" in result.error and "SHA3-256 differs" in result.error
    assert history.count() == 0


def test_a_zip_without_the_source_file_imports_the_proof_alone(history, tmp_path):
    path = tmp_path / "proof-only.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("export/proof.json", json.dumps([v1_entry(SHA3)]))
        archive.writestr("export/manifest.json", "{}")
    assert read_proof_zip(path).source_matches is None
    assert import_file(history, path).imported == 1


@pytest.mark.parametrize("member", ("../../evil.sh", "/etc/cron.d/evil", "C:/evil.bat", "a/../../b"))
def test_a_zip_with_a_name_leading_outside_it_is_refused(history, tmp_path, member):
    path = edge_studio_zip(tmp_path / "hostile.zip", CONTENT, members={member: b"#!/bin/sh\n"})
    with pytest.raises(BadInput, match="points outside it"):
        read_proof_zip(path)
    result = import_file(history, path)
    assert result.imported == 0 and "points outside it" in result.error
    assert not (tmp_path.parent / "evil.sh").exists() and history.count() == 0


def test_zips_that_are_not_exports_give_plain_messages(history, tmp_path):
    damaged = tmp_path / "damaged.zip"
    damaged.write_bytes(edge_studio_zip(tmp_path / "ok.zip", CONTENT).read_bytes()[:200])
    many = tmp_path / "many.zip"
    with zipfile.ZipFile(many, "w") as archive:
        archive.writestr("proof.json", json.dumps([v1_entry(SHA3)]))
        for i in range(100):
            archive.writestr(f"f{i}.txt", b"x")
    no_proof = tmp_path / "photos.zip"
    with zipfile.ZipFile(no_proof, "w") as archive:
        archive.writestr("a.jpg", b"\xff\xd8")
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("proof.json", b" " * (20 * 1024 * 1024) + json.dumps([v1_entry(SHA3)]).encode())
    for path, words in ((damaged, "cannot be read"), (many, "too many files"),
                        (no_proof, "should hold one proof.json"), (bomb, "too large")):
        result = import_file(history, path)
        assert result.imported == 0 and words in result.error, (path.name, result.error)
    assert history.count() == 0
