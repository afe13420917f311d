"""Legacy Integritas v1 proof files, checked offline.

A v1 proof file is a JSON array of ``{"address", "data", "proof", "root"}`` (a Minima MMR proof).
For the empty proof ``0x000100000100`` the root must be
``SHA3-256(00 01 00 || uint32_be(len(data)) || data || 00 01 00)`` where ``data`` is the 32 hash
bytes (``00 01 00`` is Minima's encoding of the number 0). Longer proofs need the chain's MMR and
are reported as "cannot be checked offline", never as valid.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from integritas_gui.core.errors import BadInput, FileProblem

EMPTY_PROOF = "000100000100"
MINIMA_ZERO = bytes.fromhex("000100")
MAX_PROOF_FILE_BYTES = 16 * 1024 * 1024

VALID = "valid"
ROOT_MISMATCH = "root_mismatch"
UNCHECKED = "unchecked"

_HEX = re.compile(r"(?:[0-9a-f]{2})*")


@dataclass(frozen=True)
class V1Proof:
    hash: str  # the stamped SHA3-256, 64 lowercase hex (the proof's ``data``)
    address: str
    proof: str  # lowercase hex without 0x
    root: str  # lowercase hex without 0x, as written in the file
    status: str  # "valid" | "root_mismatch" | "unchecked"
    message: str

    @property
    def ok(self) -> bool:
        """True only when the root was recomputed offline and matches."""
        return self.status == VALID

    @property
    def why(self) -> str:
        return self.message


def empty_proof_root(data: bytes) -> bytes:
    """The MMR root of ``data`` under the empty proof."""
    return hashlib.sha3_256(MINIMA_ZERO + len(data).to_bytes(4, "big") + data + MINIMA_ZERO).digest()


def _hex_field(entry: dict, key: str, index: int) -> str:
    value = entry.get(key)
    if not isinstance(value, str):
        raise BadInput(f"This v1 proof file is damaged: entry {index + 1} has no '{key}' text.")
    text = value.strip()
    if text[:2] in ("0x", "0X"):
        text = text[2:]
    text = text.lower()
    if not _HEX.fullmatch(text):
        raise BadInput(f"This v1 proof file is damaged: '{key}' of entry {index + 1} is not hexadecimal.")
    return text


def check_v1_entry(entry: object, index: int = 0) -> V1Proof:
    """Check one ``{address, data, proof, root}`` entry; ``BadInput`` when it is malformed."""
    if not isinstance(entry, dict):
        raise BadInput(f"This v1 proof file is damaged: entry {index + 1} is not a JSON object.")
    data = _hex_field(entry, "data", index)
    proof = _hex_field(entry, "proof", index)
    root = _hex_field(entry, "root", index)
    address = entry.get("address")
    if address is not None and not isinstance(address, str):
        raise BadInput(f"This v1 proof file is damaged: 'address' of entry {index + 1} is not text.")
    if len(data) != 64:
        raise BadInput(
            f"This v1 proof file is damaged: 'data' of entry {index + 1} should be a 32-byte hash "
            f"(64 hex characters), not {len(data) // 2} bytes."
        )
    if len(root) != 64:
        raise BadInput(f"This v1 proof file is damaged: 'root' of entry {index + 1} should be 64 hex characters.")
    common = dict(hash=data, address=address or "", proof=proof, root=root)
    if proof != EMPTY_PROOF:
        return V1Proof(
            status=UNCHECKED,
            message=(
                "This proof cannot be checked offline: it needs the Minima chain's records. "
                "Verify the hash with the service instead."
            ),
            **common,
        )
    expected = empty_proof_root(bytes.fromhex(data)).hex()
    if expected != root:
        return V1Proof(
            status=ROOT_MISMATCH,
            message=(
                "Rejected: the proof's root does not match its hash. The proof file was altered or "
                "belongs to another hash."
            ),
            **common,
        )
    return V1Proof(status=VALID, message="The proof's root matches its hash (checked offline).", **common)


def parse_v1_proofs(path_or_text: str | bytes | os.PathLike) -> list[V1Proof]:
    """Read a v1 proof file (path, or its JSON text) and check every entry."""
    if isinstance(path_or_text, str) and path_or_text.lstrip().startswith(("[", "{")):
        raw: str | bytes = path_or_text
    elif isinstance(path_or_text, bytes):
        raw = path_or_text
    else:
        path = Path(path_or_text)
        try:
            with open(path, "rb") as handle:
                raw = handle.read(MAX_PROOF_FILE_BYTES + 1)
        except FileNotFoundError:
            raise FileProblem(f"The proof file {path} does not exist.", str(path)) from None
        except OSError as exc:
            raise FileProblem(f"The proof file {path} cannot be read: {exc.strerror or exc}.", str(path)) from None
    if isinstance(raw, bytes):
        if len(raw) > MAX_PROOF_FILE_BYTES:
            raise BadInput("This file is too large to be a v1 proof file.")
        try:
            raw = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise BadInput("This is not a v1 proof file (it is not text).") from None
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError):
        raise BadInput("This v1 proof file is damaged: it is not valid JSON.") from None
    if isinstance(document, dict):  # a single proof saved on its own
        document = [document]
    if not isinstance(document, list) or not document:
        raise BadInput("This is not a v1 proof file: it should be a list of {address, data, proof, root}.")
    return [check_v1_entry(entry, index) for index, entry in enumerate(document)]


__all__ = ["V1Proof", "EMPTY_PROOF", "VALID", "ROOT_MISMATCH", "UNCHECKED", "empty_proof_root",
           "check_v1_entry", "parse_v1_proofs"]
