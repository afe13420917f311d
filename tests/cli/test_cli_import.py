"""`integritas import`: v1 proofs the service marked "[ERROR]" and Edge Studio export ZIPs."""

from __future__ import annotations

import hashlib
import json

from integritas_gui import cli
from tests.proof_files import edge_studio_zip, error_entry

CONTENT = b"reading 42\n"


def run(capsys, *argv: str):
    code = cli.main(["import", *argv, "--json"])
    captured = capsys.readouterr()
    return code, [json.loads(line) for line in captured.out.splitlines() if line.strip()], captured.err


def test_import_says_a_stamp_failed_at_the_service_not_that_the_file_is_damaged(capsys, tmp_path):
    proof = tmp_path / "proof.json"
    proof.write_text(json.dumps([error_entry(hashlib.sha3_256(CONTENT).hexdigest())]))
    code, [line], _ = run(capsys, str(proof))
    assert code == 0 and line["imported"] == 1 and line["failed_at_service"] == 1 and not line["error"]
    cli.main(["import", str(proof)])  # text output: the same, in words
    text = capsys.readouterr().out
    assert "its stamp failed at the Integritas service" in text and "stamp the file again" in text
    assert "damaged" not in text
    code = cli.main(["history", "--json"])
    [job] = [json.loads(l) for l in capsys.readouterr().out.splitlines()]
    assert job["state"] == "failed" and "failed at the Integritas service" in job["error"]


def test_import_reads_an_edge_studio_zip_and_refuses_a_mixed_up_one(capsys, tmp_path):
    good = edge_studio_zip(tmp_path / "export.zip", CONTENT)
    mixed = edge_studio_zip(tmp_path / "mixed.zip", CONTENT, proof_for=b"reading 41\n")
    code, [ok, refused], _ = run(capsys, str(good), str(mixed))
    assert code == 2
    assert (ok["what"], ok["imported"], ok["error"]) == ("Edge Studio export", 1, None)
    assert refused["imported"] == 0 and "SHA3-256 differs" in refused["error"]
    cli.main(["history", "--json"])
    [job] = [json.loads(l) for l in capsys.readouterr().out.splitlines()]
    assert job["sha3_256"] == hashlib.sha3_256(CONTENT).hexdigest() and job["state"] == "confirmed"
