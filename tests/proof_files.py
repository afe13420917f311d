"""Legacy proof files as the field has them, built for tests: v1 proofs whose root is right, the
service's "[ERROR]" marker, and Edge Studio export ZIPs (proof.json + manifest.json + the file)."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

from integritas_gui.core.v1proof import EMPTY_PROOF, empty_proof_root


def v1_entry(sha3_hex: str) -> dict:
    """A v1 proof entry for this hash under the empty proof, with its correct root."""
    return {"address": "0xFFEEDD", "data": "0x" + sha3_hex.upper(), "proof": "0x" + EMPTY_PROOF,
            "root": "0x" + empty_proof_root(bytes.fromhex(sha3_hex)).hex().upper()}


def error_entry(sha3_hex: str) -> dict:
    """What the v1 service wrote for a stamp it could not make."""
    return {"address": "", "data": "0x" + sha3_hex.upper(), "proof": "[ERROR]", "root": "[ERROR]"}


def edge_studio_zip(path: Path, content: bytes, *, name: str = "sensor-reading.json",
                    proof_for: bytes | None = None, members: dict[str, bytes] | None = None) -> Path:
    """An Edge Studio export of ``content``; ``proof_for`` makes the proof about other bytes."""
    digest = hashlib.sha3_256(content if proof_for is None else proof_for).hexdigest()
    manifest = {"app": "edge-studio", "version": "0.38.11", "sourceFile": name,
                "hash": digest, "createdAt": "2026-08-18T10:00:00.000Z"}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("proof.json", json.dumps([v1_entry(digest)]))
        archive.writestr("manifest.json", json.dumps(manifest))
        archive.writestr(name, content)
        for member, data in (members or {}).items():
            archive.writestr(member, data)
    return path
