"""Receipts: the user's durable evidence for one file (schema in docs/receipt-format.md).

A receipt holds what was hashed (name, size, SHA3-256, BLAKE3, segment hashes), what was sent to the
service and what it answered, the on-chain confirmation and any verification reports. It never holds
an API key or any request header. Here: the receipt type, building it, ``read_receipt`` and writing;
the strict field checks are in ``receipt_reading.py``, checking a file against its receipt
(``verify_file_against_receipt``) in ``receipt_verify.py``.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Mapping
from urllib.parse import urlsplit, urlunsplit

from integritas_gui import APP_NAME, __version__
from integritas_gui.core.display import iso_utc
from integritas_gui.core.errors import FileProblem
from integritas_gui.core.hexhash import normalise_hash_lenient
from integritas_gui.core.model import ChainRecord, oldest_first

RECEIPT_FORMAT = "integritas-receipt"
RECEIPT_VERSION = 1
# Minor additions old readers ignore: 1 = node evidence (what the user's own Minima node said).
RECEIPT_MINOR = 1
NODE_EVIDENCE_FIELDS = ("block_number", "block_date", "txpow_id", "transaction_id", "confirmations", "tip",
                        "address", "state_port", "state_data", "node_version", "checked_at")
NODE_STAMP_ENDPOINT = "minima-node:send"  # stamp.request.endpoint of a stamp sent from the user's node
SIDECAR_SUFFIX = ".integritas.json"
MAX_RECEIPT_BYTES = 64 * 1024 * 1024
STAMP_ENDPOINT = "/v2/timestamp/post"


# ---------------------------------------------------------------------------------------------
# Small helpers


def utc_now_iso() -> str:
    """Now, as ISO-8601 UTC with millisecond precision and a ``Z``: 2026-01-29T13:54:50.427Z."""
    return iso_utc(datetime.now(timezone.utc))


def parse_iso_utc(text: str) -> datetime:
    """Parse an ISO-8601 time (``Z`` or an offset); a time without zone is taken as UTC."""
    value = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def normalise_hex(value: str) -> str:
    """Strip ``0x`` and whitespace, lowercase; no validation of length."""
    return normalise_hash_lenient(value) or ""


def segment_length(file_size: int, segment_size: int, index: int) -> int:
    """Length of segment ``index`` of a file of ``file_size`` bytes (0 when past the end)."""
    return max(0, min(segment_size, file_size - index * segment_size))


def sidecar_path(file_path: str | os.PathLike) -> Path:
    """Where a file's receipt lives next to it: ``<file>.integritas.json``."""
    return Path(os.fspath(file_path) + SIDECAR_SUFFIX)


def receipt_file_name(receipt: "Receipt") -> str:
    """A sensible name when exporting a receipt elsewhere: ``<file name>.integritas.json``."""
    return receipt.file_name + SIDECAR_SUFFIX


def public_base_url(base_url: str | None) -> str | None:
    """The service URL without user info, query or fragment (they could carry a secret)."""
    if not base_url:
        return None
    parts = urlsplit(base_url.strip())
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path.rstrip("/"), "", ""))


def _get(obj: Any, *names: str, default: Any = None) -> Any:
    """Read the first present attribute or key of ``obj`` (dataclass or dict, snake or camel case)."""
    if obj is None:
        return default
    for name in names:
        if isinstance(obj, Mapping):
            if name in obj:
                return obj[name]
        elif hasattr(obj, name):
            return getattr(obj, name)
    return default


# ---------------------------------------------------------------------------------------------
# The receipt


def record_to_receipt(record: ChainRecord) -> dict:
    """A record as ``confirmation.records[]`` of the receipt JSON."""
    return record.as_dict()



@dataclass(frozen=True)
class StampRequest:
    """What the app sent to stamp the hash. Never headers, never the API key."""

    endpoint: str
    base_url: str | None
    hash: str
    time: str


@dataclass(frozen=True)
class StampResponse:
    message: str | None = None
    request_id: str | None = None
    newly_anchored: bool | None = None
    node: dict | None = None  # the MINIMA_NODE command data, when the service returned it


@dataclass(frozen=True)
class ReportRef:
    """A verification report from the service: its on-chain NFT and where the PDF was saved."""

    verified_at: str | None = None
    result: str | None = None
    nft_coin_id: str | None = None
    nft_txn_id: str | None = None
    file_name: str | None = None  # as the service named it
    saved_path: str | None = None  # the user's local copy


@dataclass(frozen=True)
class Receipt:
    file_name: str
    size: int
    sha3_256: str
    blake3: str
    segment_size: int
    segments: tuple[str, ...]
    segments_root: str
    created: str
    updated: str
    file_path: str | None = None
    mtime_ns: int | None = None
    stamp_request: StampRequest | None = None
    stamp_response: StampResponse | None = None
    records: tuple[ChainRecord, ...] = ()
    confirmed_at: str | None = None
    reports: tuple[ReportRef, ...] = ()
    node_evidence: tuple[dict, ...] = ()  # what the user's own Minima node said (see NODE_EVIDENCE_FIELDS)
    app_name: str = APP_NAME
    app_version: str = __version__

    # -- building ------------------------------------------------------------------------------

    @classmethod
    def from_digest(
        cls,
        digest: Any,
        *,
        base_url: str | None = None,
        stamp_result: Any = None,
        stamped_at: str | None = None,
        now: str | None = None,
    ) -> "Receipt":
        """A receipt for a ``FileDigest``; with ``stamp_result`` it also records the stamp."""
        now = now or utc_now_iso()
        mtime_ns = getattr(digest, "mtime_ns", None)
        receipt = cls(
            file_name=os.path.basename(digest.path) or digest.path,
            file_path=os.fspath(digest.path),
            size=int(digest.size),
            mtime_ns=int(mtime_ns) if mtime_ns is not None else None,
            sha3_256=normalise_hex(digest.sha3_256),
            blake3=normalise_hex(digest.blake3),
            segment_size=int(digest.segment_size),
            segments=tuple(normalise_hex(s) for s in digest.segments),
            segments_root=normalise_hex(digest.segments_root),
            created=now,
            updated=now,
        )
        receipt.validate()
        if stamp_result is not None or base_url is not None:
            receipt = receipt.with_stamp(base_url, stamp_result, at=stamped_at or now, now=now)
        return receipt

    def with_stamp(
        self, base_url: str | None, stamp_result: Any = None, *, at: str | None = None,
        now: str | None = None, endpoint: str = STAMP_ENDPOINT,
    ) -> "Receipt":
        """Record the stamp request and the service's answer (a client ``StampResult`` or None)."""
        now = now or utc_now_iso()
        request = StampRequest(
            endpoint=endpoint, base_url=public_base_url(base_url), hash=self.sha3_256,
            time=at or now,
        )
        response = None
        if stamp_result is not None:
            request_id = _get(stamp_result, "request_id", "requestId")
            newly = _get(stamp_result, "newly_anchored")
            response = StampResponse(
                message=_get(stamp_result, "message"),
                request_id=str(request_id) if request_id is not None else None,
                newly_anchored=bool(newly) if newly is not None else None,
                node=_minima_node_data(_get(stamp_result, "raw")),
            )
        receipt = replace(self, stamp_request=request, stamp_response=response, updated=now)
        verification = _get(stamp_result, "verification")
        records = _get(verification, "records", default=()) if verification is not None else ()
        if records:  # already on chain: the stamp answer carried the verification
            receipt = receipt.with_confirmation(records, confirmed_at=at or now, now=now)
        return receipt

    def with_confirmation(
        self, records: Iterable[ChainRecord], *, confirmed_at: str | None = None, now: str | None = None
    ) -> "Receipt":
        """Add on-chain records.

        Records naming another hash are ignored; the same record twice is kept once.
        """
        now = now or utc_now_iso()
        merged = {record.key(): record for record in self.records}
        for record in records:
            if record.matched_hash and record.matched_hash != self.sha3_256:
                continue
            merged.setdefault(record.key(), record)
        ordered = oldest_first(merged.values())
        if ordered == self.records:
            return self
        return replace(
            self, records=ordered, confirmed_at=self.confirmed_at or confirmed_at or now, updated=now
        )

    def with_report(
        self,
        verification: Any = None,
        *,
        saved_path: str | os.PathLike | None = None,
        file_name: str | None = None,
        nft_coin_id: str | None = None,
        nft_txn_id: str | None = None,
        result: str | None = None,
        verified_at: str | None = None,
        now: str | None = None,
    ) -> "Receipt":
        """Add a verification report reference (from a client ``VerifyResult`` and/or fields)."""
        now = now or utc_now_iso()
        link = _get(verification, "report")
        reference = ReportRef(
            verified_at=verified_at or now,
            result=result or _get(verification, "result"),
            nft_coin_id=nft_coin_id or _get(verification, "nft_coin_id", "nftCoinId"),
            nft_txn_id=nft_txn_id or _get(verification, "nft_txn_id", "nftTxnId"),
            file_name=file_name or _get(link, "file_name", "fileName"),
            saved_path=os.fspath(saved_path) if saved_path is not None else None,
        )
        receipt = replace(self, reports=self.reports + (reference,), updated=now)
        records = _get(verification, "records", default=()) or ()
        if records and _get(verification, "result") == "full match":
            receipt = receipt.with_confirmation(records, confirmed_at=now, now=now)
        return receipt

    def with_node_evidence(self, evidence: Iterable[Mapping], *, now: str | None = None) -> "Receipt":
        """Add (or refresh, by transaction id) what the user's own node said about the stamp."""
        merged = {e.get("transaction_id"): e for e in self.node_evidence}
        for entry in evidence:
            kept = {name: entry.get(name) for name in NODE_EVIDENCE_FIELDS}
            merged[kept["transaction_id"]] = json.loads(json.dumps(kept, default=str))
        ordered = tuple(sorted(merged.values(), key=lambda e: e.get("block_number") or 0))
        if ordered == self.node_evidence:
            return self
        return replace(self, node_evidence=ordered, updated=now or utc_now_iso())

    # -- properties ----------------------------------------------------------------------------

    @property
    def segment_count(self) -> int:
        return len(self.segments)

    @property
    def is_confirmed(self) -> bool:
        return bool(self.records)

    def segment_range(self, index: int) -> tuple[int, int]:
        return index * self.segment_size, segment_length(self.size, self.segment_size, index)

    # -- JSON ----------------------------------------------------------------------------------

    def to_dict(self) -> dict:
        request = self.stamp_request
        response = self.stamp_response
        return {
            "format": RECEIPT_FORMAT,
            "version": RECEIPT_VERSION,
            "minor": RECEIPT_MINOR,
            "file": {
                "name": self.file_name,
                "path": self.file_path,
                "size": self.size,
                "mtime": _mtime_iso(self.mtime_ns),
                "mtime_ns": self.mtime_ns,
            },
            "hashes": {"sha3_256": self.sha3_256, "blake3": self.blake3},
            "segments": {
                "algorithm": "blake3",
                "size": self.segment_size,
                "count": self.segment_count,
                "root": self.segments_root,
                "hashes": list(self.segments),
            },
            "stamp": None if request is None else {
                "request": {
                    "endpoint": request.endpoint,
                    "base_url": request.base_url,
                    "hash": request.hash,
                    "time": request.time,
                },
                "response": None if response is None else {
                    "message": response.message,
                    "request_id": response.request_id,
                    "newly_anchored": response.newly_anchored,
                    "node": response.node,
                },
            },
            "confirmation": None if not self.records else {
                "confirmed_at": self.confirmed_at,
                "records": [record_to_receipt(record) for record in self.records],
            },
            "reports": [
                {
                    "verified_at": report.verified_at,
                    "result": report.result,
                    "nft_coin_id": report.nft_coin_id,
                    "nft_txn_id": report.nft_txn_id,
                    "file_name": report.file_name,
                    "saved_path": report.saved_path,
                }
                for report in self.reports
            ],
            "node_evidence": [dict(entry) for entry in self.node_evidence],
            "app": {"name": self.app_name, "version": self.app_version},
            "created": self.created,
            "updated": self.updated,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_dict(cls, data: Any) -> "Receipt":
        from integritas_gui.core.receipt_reading import parse_receipt

        return parse_receipt(data)

    @classmethod
    def from_json(cls, text: str | bytes) -> "Receipt":
        from integritas_gui.core.receipt_reading import load_json, parse_receipt

        return parse_receipt(load_json(text))

    def validate(self) -> None:
        """Raise ``BadInput`` when the segment list disagrees with the size or the root."""
        from integritas_gui.core.receipt_reading import check_segments

        check_segments(self.size, self.segment_size, self.segments, self.segments_root)


def _mtime_iso(mtime_ns: int | None) -> str | None:
    if mtime_ns is None:
        return None
    try:
        return iso_utc(datetime.fromtimestamp(mtime_ns / 1e9, timezone.utc))
    except (OverflowError, OSError, ValueError):
        return None


def _minima_node_data(raw: Any) -> dict | None:
    """The ``MINIMA_NODE`` command data of a stamp answer (whole envelope or its ``data``)."""
    for candidate in (raw, _get(raw, "data")):
        if isinstance(candidate, Mapping) and candidate.get("service") == "MINIMA_NODE":
            kept = {key: candidate.get(key) for key in ("service", "command", "params", "status")}
            return json.loads(json.dumps(kept, default=str))
    return None


# ---------------------------------------------------------------------------------------------
# Reading (the strict checks are in receipt_reading.py)


def read_receipt(path_or_text: str | bytes | os.PathLike) -> Receipt:
    """Read and strictly check a receipt from a file path, or from its JSON text."""
    if isinstance(path_or_text, bytes):
        return Receipt.from_json(path_or_text)
    if isinstance(path_or_text, str) and path_or_text.lstrip().startswith(("{", "[")):
        return Receipt.from_json(path_or_text)
    path = Path(path_or_text)
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_RECEIPT_BYTES + 1)
    except FileNotFoundError:
        raise FileProblem(f"The receipt {path} does not exist.", str(path)) from None
    except IsADirectoryError:
        raise FileProblem(f"{path} is a folder, not a receipt.", str(path)) from None
    except OSError as exc:
        raise FileProblem(f"The receipt {path} cannot be read: {exc.strerror or exc}.", str(path)) from None
    return Receipt.from_json(data)



# ---------------------------------------------------------------------------------------------
# Writing


def write_receipt(receipt: Receipt, path: str | os.PathLike) -> Path:
    """Write atomically: a temp file in the same folder, flushed, then renamed over ``path``."""
    path = Path(path)
    payload = receipt.to_json().encode("utf-8")
    try:
        handle, temp_name = tempfile.mkstemp(prefix=".receipt-", suffix=".tmp", dir=path.parent or ".")
    except OSError as exc:
        raise FileProblem(f"The receipt cannot be saved in {path.parent}: {exc.strerror or exc}.", str(path)) from None
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(payload)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp_name, path)
    except OSError as exc:
        try:
            os.unlink(temp_name)
        except OSError:
            pass
        raise FileProblem(f"The receipt {path} cannot be saved: {exc.strerror or exc}.", str(path)) from None
    _fsync_folder(path.parent)
    return path


def write_sidecar(receipt: Receipt, file_path: str | os.PathLike) -> Path:
    """Write the receipt next to the file it describes."""
    return write_receipt(receipt, sidecar_path(file_path))


def export_receipt(receipt: Receipt, destination: str | os.PathLike) -> Path:
    """Save a copy where the user chose; a folder gets ``<file name>.integritas.json`` inside it."""
    destination = Path(destination)
    if destination.is_dir():
        destination = destination / receipt_file_name(receipt)
    return write_receipt(receipt, destination)


def _fsync_folder(folder: Path) -> None:
    if os.name != "posix":
        return
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)



__all__ = [
    "RECEIPT_FORMAT", "RECEIPT_VERSION", "SIDECAR_SUFFIX", "record_to_receipt", "StampRequest",
    "StampResponse", "ReportRef", "Receipt", "read_receipt", "write_receipt",
    "write_sidecar", "export_receipt", "sidecar_path", "receipt_file_name", "utc_now_iso",
]
