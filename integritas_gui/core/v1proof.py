"""Legacy Integritas v1 proof files, checked offline.

A v1 proof file is a JSON array of ``{"address", "data", "proof", "root"}`` (a Minima MMR proof).
For the empty proof ``0x000100000100`` the root must be
``SHA3-256(00 01 00 || uint32_be(len(data)) || data || 00 01 00)`` where ``data`` is the 32 hash
bytes (``00 01 00`` is Minima's encoding of the number 0). Longer proofs need the chain's MMR and
are reported as "cannot be checked offline", never as valid. A ``proof`` of ``[ERROR]`` is the
service's own marker for a stamp it could not make: reported as failed at the service, not damaged.

An Edge Studio export is a ZIP of ``proof.json`` (such a proof file), ``manifest.json`` and the
source file; ``read_proof_zip`` reads it in place (nothing is extracted) and checks the source file
against the proof.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

from integritas_gui.core.errors import BadInput, FileProblem
from integritas_gui.core.hexhash import normalise_hash_lenient

EMPTY_PROOF = "000100000100"
MINIMA_ZERO = bytes.fromhex("000100")
MAX_PROOF_FILE_BYTES = 16 * 1024 * 1024

VALID = "valid"
ROOT_MISMATCH = "root_mismatch"
UNCHECKED = "unchecked"
FAILED_AT_SERVICE = "failed_at_service"
SERVICE_ERROR_MARKER = "[ERROR]"
FAILED_AT_SERVICE_MESSAGE = (
    "The stamp failed at the Integritas service: its proof says [ERROR] where the proof belongs. "
    "The proof file is not damaged, but nothing was anchored; stamp the file again.")

PROOF_MEMBER = "proof.json"
MANIFEST_MEMBER = "manifest.json"
MAX_ZIP_MEMBERS = 64
MAX_ZIP_SOURCE_BYTES = 64 * 1024**3  # the source file, hashed as it is read, never held in memory

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
    text = normalise_hash_lenient(value) or ""
    if not _HEX.fullmatch(text):
        raise BadInput(f"This v1 proof file is damaged: '{key}' of entry {index + 1} is not hexadecimal.")
    return text


def check_v1_entry(entry: object, index: int = 0) -> V1Proof:
    """Check one ``{address, data, proof, root}`` entry; ``BadInput`` when it is malformed."""
    if not isinstance(entry, dict):
        raise BadInput(f"This v1 proof file is damaged: entry {index + 1} is not a JSON object.")
    if any(isinstance(entry.get(key), str) and entry[key].strip().upper() == SERVICE_ERROR_MARKER
           for key in ("proof", "root")):
        return _failed_at_service(entry, index)
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


def _failed_at_service(entry: dict, index: int) -> V1Proof:
    try:
        data = _hex_field(entry, "data", index)
    except BadInput:
        data = ""
    address = entry.get("address")
    return V1Proof(hash=data if len(data) == 64 else "", address=address if isinstance(address, str) else "",
                   proof="", root="", status=FAILED_AT_SERVICE, message=FAILED_AT_SERVICE_MESSAGE)


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


@dataclass(frozen=True)
class ProofZip:
    """What an Edge Studio export holds: its proofs and, when present, the source file's hash."""

    proofs: list[V1Proof]
    manifest: dict
    source_name: str | None
    source_size: int | None
    source_sha3: str | None

    @property
    def source_matches(self) -> bool | None:
        """True when the source file is the one a proof is for; None without a source file."""
        if self.source_sha3 is None:
            return None
        return any(proof.hash == self.source_sha3 for proof in self.proofs)


def _safe_member_name(name: str) -> str:
    """A member name as a relative POSIX path; BadInput for absolute names or ones leaving the ZIP."""
    text = name.replace("\\", "/")
    parts = [part for part in text.split("/") if part not in ("", ".")]
    if (text.startswith("/") or re.match(r"[A-Za-z]:", text) or ".." in parts or not parts
            or any(ord(ch) < 32 for ch in text)):
        raise BadInput(f"This ZIP is not an Edge Studio export: it holds a file named {name!r} that "
                       "points outside it. Nothing was imported.")
    return "/".join(parts)


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, what: str) -> bytes:
    if info.file_size > MAX_PROOF_FILE_BYTES:
        raise BadInput(f"The {what} in this ZIP is too large to be one.")
    with archive.open(info) as handle:
        return handle.read(MAX_PROOF_FILE_BYTES + 1)


def _manifest_source_name(manifest: dict) -> str | None:
    for key in ("sourceFile", "source_file", "source", "file", "fileName", "filename", "name"):
        value = manifest.get(key)
        if isinstance(value, dict):
            value = value.get("name") or value.get("fileName") or value.get("path")
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def read_proof_zip(path: str | os.PathLike) -> ProofZip:
    """Read an Edge Studio export ZIP without extracting it; the source file (when there) is hashed
    (SHA3-256) as it is read. BadInput, in plain words, for anything else."""
    path = Path(path)
    try:
        archive = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise FileProblem(f"The file {path} does not exist.", str(path)) from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError) as exc:
        raise BadInput(f"This ZIP file cannot be read ({exc.__class__.__name__}).") from None
    with archive:
        infos = [info for info in archive.infolist() if not info.is_dir()]
        if len(infos) > MAX_ZIP_MEMBERS:
            raise BadInput("This ZIP holds too many files to be an Edge Studio export.")
        members = {_safe_member_name(info.filename): info for info in infos}
        by_base: dict[str, list[str]] = {}
        for name in members:
            by_base.setdefault(posixpath.basename(name).lower(), []).append(name)
        if len(by_base.get(PROOF_MEMBER, ())) != 1:
            raise BadInput("This ZIP is not an Edge Studio export: it should hold one proof.json.")
        proof_name = by_base[PROOF_MEMBER][0]
        try:
            proofs = parse_v1_proofs(_read_member(archive, members[proof_name], "proof.json"))
            manifest: dict = {}
            manifest_names = by_base.get(MANIFEST_MEMBER, [])
            if manifest_names:
                try:
                    manifest = json.loads(_read_member(archive, members[manifest_names[0]], "manifest.json"))
                except ValueError:
                    raise BadInput("The manifest.json in this ZIP is damaged (not valid JSON).") from None
                manifest = manifest if isinstance(manifest, dict) else {}
            others = [name for name in members if name != proof_name and name not in manifest_names]
            wanted = _manifest_source_name(manifest)
            source = next((n for n in others if wanted and posixpath.basename(n) == posixpath.basename(
                wanted.replace("\\", "/"))), None)
            if source is None and len(others) == 1:
                source = others[0]
            if source is None:
                return ProofZip(proofs, manifest, None, None, None)
            info = members[source]
            if info.file_size > MAX_ZIP_SOURCE_BYTES:
                raise BadInput(f"The file {source} in this ZIP is too large to check.")
            digest = hashlib.sha3_256()
            read = 0
            with archive.open(info) as handle:
                while chunk := handle.read(1024 * 1024):
                    read += len(chunk)
                    digest.update(chunk)
            return ProofZip(proofs, manifest, posixpath.basename(source), read, digest.hexdigest())
        except (zipfile.BadZipFile, EOFError, OSError, NotImplementedError, RuntimeError) as exc:
            raise BadInput(f"This ZIP file is damaged ({exc.__class__.__name__}): nothing was imported.") from None


__all__ = ["V1Proof", "EMPTY_PROOF", "VALID", "ROOT_MISMATCH", "UNCHECKED", "FAILED_AT_SERVICE",
           "empty_proof_root", "check_v1_entry", "parse_v1_proofs", "ProofZip", "read_proof_zip"]
