"""Legacy v1 proof files: the documented example passes, a tampered root is rejected."""

from __future__ import annotations

import json

import pytest

from integritas_gui.core.errors import BadInput, FileProblem
from integritas_gui.core.v1proof import (
    ROOT_MISMATCH,
    UNCHECKED,
    VALID,
    check_v1_entry,
    empty_proof_root,
    parse_v1_proofs,
)

API_DOC_EXAMPLE = {
    "address": "0xFFEEDD",
    "data": "0xE630FCDE204036E93323AE99843BF0EC6D03CAEB51CBBEA11E03D6739F8E9C3F",
    "proof": "0x000100000100",
    "root": "0x1384FA6242E0D750FFA9366EFC7A0AC226E7EFD14EC5DF70DD50E36188AC0EA6",
}


def test_api_doc_example_passes(tmp_path):
    path = tmp_path / "proof.json"
    path.write_text(json.dumps([API_DOC_EXAMPLE]))
    [proof] = parse_v1_proofs(path)
    assert proof.ok and proof.status == VALID
    assert proof.hash == "e630fcde204036e93323ae99843bf0ec6d03caeb51cbbea11e03d6739f8e9c3f"
    assert proof.address == "0xFFEEDD"
    assert proof.root == "1384fa6242e0d750ffa9366efc7a0ac226e7efd14ec5df70dd50e36188ac0ea6"


def test_formula_matches_the_documented_root():
    data = bytes.fromhex(API_DOC_EXAMPLE["data"][2:])
    assert empty_proof_root(data).hex().upper() == API_DOC_EXAMPLE["root"][2:]


def test_tampered_root_is_rejected():
    entry = dict(API_DOC_EXAMPLE, root="0x" + "1384FA" + "0" * 58)
    [proof] = parse_v1_proofs(json.dumps([entry]))
    assert not proof.ok and proof.status == ROOT_MISMATCH
    assert "Rejected" in proof.why and "does not match" in proof.why


def test_tampered_data_is_rejected():
    entry = dict(API_DOC_EXAMPLE, data="0x" + "F" + API_DOC_EXAMPLE["data"][3:])
    assert check_v1_entry(entry).status == ROOT_MISMATCH


def test_non_empty_proof_is_not_reported_valid():
    entry = dict(API_DOC_EXAMPLE, proof="0x0001010000010203")
    [proof] = parse_v1_proofs(json.dumps([entry]))
    assert not proof.ok and proof.status == UNCHECKED
    assert "cannot be checked offline" in proof.message


def test_several_entries_each_checked():
    bad = dict(API_DOC_EXAMPLE, root="0x" + "00" * 32)
    results = parse_v1_proofs(json.dumps([API_DOC_EXAMPLE, bad]).encode())
    assert [r.status for r in results] == [VALID, ROOT_MISMATCH]


@pytest.mark.parametrize(
    "text, words",
    [
        ("[{\"address\": ", "not valid JSON"),
        ("[]", "list of"),
        ("\"just text\"", "list of"),
        ("[42]", "not a JSON object"),
        (json.dumps([{k: v for k, v in API_DOC_EXAMPLE.items() if k != "root"}]), "'root'"),
        (json.dumps([dict(API_DOC_EXAMPLE, data="0xZZ")]), "not hexadecimal"),
        (json.dumps([dict(API_DOC_EXAMPLE, data="0xABCD")]), "32-byte hash"),
        (json.dumps([dict(API_DOC_EXAMPLE, root="0xABCD")]), "64 hex"),
    ],
)
def test_corrupt_files_are_bad_input(text, words):
    with pytest.raises(BadInput) as caught:
        parse_v1_proofs(text.encode())
    assert words in caught.value.message


def test_binary_and_missing_files(tmp_path):
    binary = tmp_path / "proof.bin"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(BadInput):
        parse_v1_proofs(binary)
    with pytest.raises(FileProblem):
        parse_v1_proofs(tmp_path / "nope.json")
