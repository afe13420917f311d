"""Receipts: the user's durable evidence for one file (schema in docs/receipt-format.md).

A receipt holds what was hashed (name, size, SHA3-256, BLAKE3, segment hashes), what was sent to the
service and what it answered, the on-chain confirmation and any verification reports. It never holds
an API key or any request header. ``verify_file_against_receipt`` re-hashes a file and tells which
byte ranges changed; it only says "match" when the SHA3-256 is exactly the one in the receipt.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import threading
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence
from urllib.parse import urlsplit, urlunsplit

from integritas_gui import APP_NAME, __version__
from integritas_gui.core.display import iso_utc
from integritas_gui.core.errors import BadInput, Cancelled, FileChanged, FileProblem
from integritas_gui.core.hexhash import normalise_hash_lenient
from integritas_gui.core.model import ChainRecord, oldest_first
from integritas_gui.core.hashing import (  # noqa: F401  (re-exported for callers of receipts)
    MIN_SEGMENT_SIZE,
    SEGMENTS_ROOT_DOMAIN,
    segment_count_for,
    hash_file,
    segments_root,
)

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

_HEX64 = re.compile(r"[0-9a-f]{64}")


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


def _record_from_receipt(entry: "_Fields") -> ChainRecord:
    return ChainRecord(
        block_number=entry.int("block_number", required=False),
        block_date=entry.time("block_date", required=False),
        txpow_id=entry.str("txpow_id", required=False),
        transaction_id=entry.str("transaction_id", required=False),
        matched_hash=entry.hex64("matched_hash", required=False),
    )


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
        return _parse_receipt(data)

    @classmethod
    def from_json(cls, text: str | bytes) -> "Receipt":
        return _parse_receipt(_load_json(text))

    def validate(self) -> None:
        """Raise ``BadInput`` when the segment list disagrees with the size or the root."""
        _check_segments(self.size, self.segment_size, self.segments, self.segments_root)


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
# Strict reading


def _load_json(text: str | bytes) -> Any:
    if isinstance(text, bytes):
        if len(text) > MAX_RECEIPT_BYTES:
            raise BadInput("This receipt is too large to be a receipt.")
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise BadInput("This receipt is not text (it is not valid UTF-8).") from None

    def refuse_constant(name: str) -> None:
        raise ValueError(f"{name} is not allowed")

    try:
        return json.loads(text, parse_constant=refuse_constant)
    except (ValueError, RecursionError) as exc:
        raise BadInput(f"This receipt is damaged: it is not valid JSON ({exc}).") from None


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


class _Fields:
    """Typed access to one JSON object, naming the full field path in every complaint."""

    def __init__(self, data: Any, where: str):
        if not isinstance(data, dict):
            raise BadInput(f"This receipt is damaged: {where or 'the document'} should be a JSON object.")
        self.data = data
        self.where = where

    def _name(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def _value(self, key: str, required: bool) -> Any:
        if key not in self.data or (required and self.data[key] is None):
            if required:
                raise BadInput(f"This receipt is incomplete: the field '{self._name(key)}' is missing.")
            return None
        return self.data[key]

    def _bad(self, key: str, what: str) -> BadInput:
        return BadInput(f"This receipt is damaged: the field '{self._name(key)}' {what}.")

    def str(self, key: str, required: bool = True) -> str | None:
        value = self._value(key, required)
        if value is not None and not isinstance(value, str):
            raise self._bad(key, "should be text")
        return value

    def int(self, key: str, required: bool = True, minimum: int = 0) -> int | None:
        value = self._value(key, required)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._bad(key, "should be a whole number")
        if value < minimum:
            raise self._bad(key, f"should be at least {minimum}")
        return value

    def bool(self, key: str) -> bool | None:
        value = self._value(key, False)
        if value is not None and not isinstance(value, bool):
            raise self._bad(key, "should be true or false")
        return value

    def hex64(self, key: str, required: bool = True) -> str | None:
        value = self.str(key, required)
        if value is None:
            return None
        if not _HEX64.fullmatch(value):
            raise self._bad(key, "should be 64 lowercase hexadecimal characters")
        return value

    def time(self, key: str, required: bool = True) -> str | None:
        value = self.str(key, required)
        if value is None:
            return None
        try:
            parse_iso_utc(value)
        except ValueError:
            raise self._bad(key, "should be an ISO-8601 time such as 2026-01-29T13:54:50.427Z") from None
        return value

    def obj(self, key: str, required: bool = True) -> "_Fields | None":
        value = self._value(key, required)
        if value is None:
            return None
        return _Fields(value, self._name(key))

    def list(self, key: str, required: bool = True) -> list | None:
        value = self._value(key, required)
        if value is None:
            return None
        if not isinstance(value, list):
            raise self._bad(key, "should be a list")
        return value


def _parse_receipt(data: Any) -> Receipt:
    if not isinstance(data, dict):
        raise BadInput("This is not an Integritas receipt (it is not a JSON object).")
    if data.get("format") != RECEIPT_FORMAT:
        raise BadInput("This is not an Integritas receipt (its 'format' is not 'integritas-receipt').")
    top = _Fields(data, "")
    version = top.int("version", minimum=1)
    if version > RECEIPT_VERSION:
        raise BadInput(
            f"This receipt uses format version {version}, made by a newer Integritas Desktop; "
            f"this version reads version {RECEIPT_VERSION}. Update the app to read it."
        )

    file = top.obj("file")
    name = file.str("name")
    if not name or "/" in name or "\\" in name or "\0" in name:
        raise BadInput("This receipt is damaged: the field 'file.name' should be a plain file name.")
    hashes = top.obj("hashes")
    segments_info = top.obj("segments")
    algorithm = segments_info.str("algorithm", required=False)
    if algorithm not in (None, "blake3"):
        raise BadInput(f"This receipt uses segment hashes of an unknown kind ('{algorithm}').")
    size = file.int("size")
    segment_size = segments_info.int("size", minimum=1)
    raw_segments = segments_info.list("hashes")
    segments = []
    for index, value in enumerate(raw_segments):
        if not isinstance(value, str) or not _HEX64.fullmatch(value):
            raise BadInput(
                f"This receipt is damaged: segment hash {index} should be 64 lowercase hexadecimal characters."
            )
        segments.append(value)
    count = segments_info.int("count", required=False)
    if count is not None and count != len(segments):
        raise BadInput(
            f"This receipt is damaged: it says {count} segments but lists {len(segments)}."
        )
    root = segments_info.hex64("root")
    _check_segments(size, segment_size, segments, root)

    stamp = top.obj("stamp", required=False)
    stamp_request = stamp_response = None
    if stamp is not None:
        request = stamp.obj("request")
        stamp_request = StampRequest(
            endpoint=request.str("endpoint"),
            base_url=request.str("base_url", required=False),
            hash=request.hex64("hash"),
            time=request.time("time"),
        )
        response = stamp.obj("response", required=False)
        if response is not None:
            node = response.data.get("node")
            if node is not None and not isinstance(node, dict):
                raise BadInput("This receipt is damaged: the field 'stamp.response.node' should be a JSON object.")
            stamp_response = StampResponse(
                message=response.str("message", required=False),
                request_id=response.str("request_id", required=False),
                newly_anchored=response.bool("newly_anchored"),
                node=node,
            )

    records: list[ChainRecord] = []
    confirmed_at = None
    confirmation = top.obj("confirmation", required=False)
    if confirmation is not None:
        confirmed_at = confirmation.time("confirmed_at", required=False)
        for index, raw in enumerate(confirmation.list("records")):
            entry = _Fields(raw, f"confirmation.records[{index}]")
            records.append(_record_from_receipt(entry))

    reports: list[ReportRef] = []
    for index, raw in enumerate(top.list("reports", required=False) or []):
        entry = _Fields(raw, f"reports[{index}]")
        reports.append(ReportRef(
            verified_at=entry.time("verified_at", required=False),
            result=entry.str("result", required=False),
            nft_coin_id=entry.str("nft_coin_id", required=False),
            nft_txn_id=entry.str("nft_txn_id", required=False),
            file_name=entry.str("file_name", required=False),
            saved_path=entry.str("saved_path", required=False),
        ))

    node_evidence: list[dict] = []
    for index, raw in enumerate(top.list("node_evidence", required=False) or []):
        entry = _Fields(raw, f"node_evidence[{index}]")
        node_evidence.append({
            "block_number": entry.int("block_number", required=False),
            "block_date": entry.time("block_date", required=False),
            "txpow_id": entry.str("txpow_id", required=False),
            "transaction_id": entry.str("transaction_id"),
            "confirmations": entry.int("confirmations", required=False),
            "tip": entry.int("tip", required=False),
            "address": entry.str("address", required=False),
            "state_port": entry.int("state_port", required=False),
            "state_data": entry.str("state_data", required=False),
            "node_version": entry.str("node_version", required=False),
            "checked_at": entry.time("checked_at", required=False),
        })

    app = top.obj("app", required=False)
    return Receipt(
        file_name=name,
        file_path=file.str("path", required=False),
        size=size,
        mtime_ns=file.int("mtime_ns", required=False),
        sha3_256=hashes.hex64("sha3_256"),
        blake3=hashes.hex64("blake3"),
        segment_size=segment_size,
        segments=tuple(segments),
        segments_root=root,
        created=top.time("created"),
        updated=top.time("updated"),
        stamp_request=stamp_request,
        stamp_response=stamp_response,
        records=tuple(records),
        confirmed_at=confirmed_at,
        reports=tuple(reports),
        node_evidence=tuple(node_evidence),
        app_name=(app.str("name", required=False) if app else None) or APP_NAME,
        app_version=(app.str("version", required=False) if app else None) or "unknown",
    )


def _check_segments(size: int, segment_size: int, segments: Sequence[str], root: str) -> None:
    if segment_size < MIN_SEGMENT_SIZE or segment_size & (segment_size - 1):
        raise BadInput(
            f"This receipt is damaged: its segment size ({segment_size}) should be a power of two "
            f"of at least {MIN_SEGMENT_SIZE}."
        )
    expected = segment_count_for(size, segment_size)
    if len(segments) != expected:
        raise BadInput(
            f"This receipt is damaged: a file of {size} bytes in segments of {segment_size} bytes has "
            f"{expected} segments, but the receipt lists {len(segments)}."
        )
    if segments_root(segment_size, size, segments) != root:
        raise BadInput(
            "This receipt is damaged: its segment root does not match its segment hashes "
            "(the receipt was edited or corrupted)."
        )


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


# ---------------------------------------------------------------------------------------------
# Verifying a file against its receipt


@dataclass(frozen=True)
class ReceiptCheck:
    status: str  # "match" | "changed" | "missing" | "unreadable"
    changed_segments: tuple[tuple[int, int, int], ...] = ()  # (index, offset, length)
    size_now: int | None = None
    size_then: int = 0
    sha3_now: str | None = None
    message: str = ""
    segment_size: int = 0

    @property
    def is_match(self) -> bool:
        return self.status == "match"

    @property
    def changed_ranges(self) -> list[tuple[int, int]]:
        """Changed segments merged into (offset, length) byte ranges."""
        return merge_changed_segments(self.changed_segments)


def merge_changed_segments(changed: Iterable[tuple[int, int, int]]) -> list[tuple[int, int]]:
    """Merge (index, offset, length) segments that touch into (offset, length) byte ranges."""
    ranges: list[list[int]] = []
    for _index, offset, length in sorted(changed, key=lambda item: item[1]):
        if ranges and offset <= ranges[-1][0] + ranges[-1][1]:
            end = max(ranges[-1][0] + ranges[-1][1], offset + length)
            ranges[-1][1] = end - ranges[-1][0]
        else:
            ranges.append([offset, length])
    return [(offset, length) for offset, length in ranges]


def describe_range(offset: int, length: int) -> str:
    """'bytes 65,536 to 131,071 (64 KiB)': inclusive, as people read it."""
    if length <= 0:
        return f"from byte {offset:,} (nothing left)"
    return f"bytes {offset:,} to {offset + length - 1:,} ({human_size(length)})"


def human_size(size: int) -> str:
    from integritas_gui.core.display import format_size

    return format_size(size)


def compare_segments(receipt: Receipt, digest: Any) -> tuple[tuple[int, int, int], ...]:
    """The segments that differ between a receipt and a digest made with the same segment size."""
    size_then, size_now = receipt.size, int(digest.size)
    then, now = receipt.segments, tuple(normalise_hex(s) for s in digest.segments)
    step = receipt.segment_size
    changed = []
    for index in range(max(len(then), len(now))):
        before = then[index] if index < len(then) else None
        after = now[index] if index < len(now) else None
        if before != after:
            length = max(segment_length(size_then, step, index), segment_length(size_now, step, index))
            changed.append((index, index * step, length))
    return tuple(changed)


def verify_file_against_receipt(
    path: str | os.PathLike,
    receipt: Receipt,
    *,
    progress: Callable[[int, int], None] | None = None,
    cancel: threading.Event | None = None,
) -> ReceiptCheck:
    """Re-hash ``path`` with the receipt's segment size and say what, if anything, changed.

    "match" only when SHA3-256, BLAKE3, size and every segment are exactly those of the receipt.
    ``Cancelled`` propagates; every other problem is a status with a plain message.
    """
    base = dict(size_then=receipt.size, segment_size=receipt.segment_size)
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        return ReceiptCheck(status="missing", message=f"The file is not there any more: {path}", **base)
    try:
        digest = hash_file(path, segment_size=receipt.segment_size, progress=progress, cancel=cancel)
    except Cancelled:
        raise
    except FileChanged as exc:
        return ReceiptCheck(
            status="unreadable",
            message=f"The file changed while it was being checked; try again when it is finished. ({exc.message})",
            **base,
        )
    except FileProblem as exc:
        if not path.exists():
            return ReceiptCheck(status="missing", message=f"The file is not there any more: {path}", **base)
        return ReceiptCheck(status="unreadable", message=exc.message, **base)

    sha3_now = normalise_hex(digest.sha3_256)
    changed = compare_segments(receipt, digest)
    result = dict(size_now=int(digest.size), sha3_now=sha3_now, changed_segments=changed, **base)
    if (
        sha3_now == receipt.sha3_256
        and normalise_hex(digest.blake3) == receipt.blake3
        and digest.size == receipt.size
        and not changed
    ):
        return ReceiptCheck(
            status="match",
            message=(
                f"The file matches its receipt: the same {human_size(receipt.size)}, the same SHA3-256 "
                f"and all {receipt.segment_count} segment hashes."
            ),
            **result,
        )
    return ReceiptCheck(status="changed", message=_changed_message(receipt, digest, changed, sha3_now), **result)


def _changed_message(receipt: Receipt, digest: Any, changed: Sequence[tuple[int, int, int]], sha3_now: str) -> str:
    parts = ["The file has changed since its receipt was made"]
    if digest.size != receipt.size:
        verb = "grew" if digest.size > receipt.size else "shrank"
        parts[0] += f"; it {verb} from {receipt.size:,} to {int(digest.size):,} bytes"
    parts[0] += "."
    if changed:
        ranges = merge_changed_segments(changed)
        total = max(receipt.segment_count, len(digest.segments))
        shown = ", ".join(describe_range(offset, length) for offset, length in ranges[:5])
        more = f" and {len(ranges) - 5} more ranges" if len(ranges) > 5 else ""
        parts.append(f"{len(changed)} of {total} segments differ: {shown}{more}.")
    elif sha3_now != receipt.sha3_256:
        parts.append("Its SHA3-256 differs although no segment hash does: the receipt itself may have been edited.")
    else:
        parts.append("Its BLAKE3 hash differs from the receipt's: the receipt itself may have been edited.")
    return " ".join(parts)


__all__ = [
    "RECEIPT_FORMAT", "RECEIPT_VERSION", "SIDECAR_SUFFIX", "record_to_receipt", "StampRequest",
    "StampResponse", "ReportRef", "Receipt", "ReceiptCheck", "read_receipt", "write_receipt",
    "write_sidecar", "export_receipt", "sidecar_path", "receipt_file_name", "segments_root",
    "verify_file_against_receipt", "merge_changed_segments", "compare_segments", "describe_range",
    "human_size", "utc_now_iso",
]
