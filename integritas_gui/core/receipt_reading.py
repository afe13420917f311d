"""Strict reading of a receipt (docs/receipt-format.md): every field checked, every complaint naming the
field's full path, the segment list checked against the size and the segment root."""

from __future__ import annotations

import json
import re
from typing import Any, Sequence

from integritas_gui import APP_NAME
from integritas_gui.core.errors import BadInput
from integritas_gui.core.hashing import MIN_SEGMENT_SIZE, segment_count_for, segments_root
from integritas_gui.core.model import ChainRecord
from integritas_gui.core.receipts import (
    MAX_RECEIPT_BYTES,
    RECEIPT_FORMAT,
    RECEIPT_VERSION,
    Receipt,
    ReportRef,
    StampRequest,
    StampResponse,
    parse_iso_utc,
)

_HEX64 = re.compile(r"[0-9a-f]{64}")


def load_json(text: str | bytes) -> Any:
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



def _record_from_receipt(entry: "_Fields") -> ChainRecord:
    return ChainRecord(
        block_number=entry.int("block_number", required=False),
        block_date=entry.time("block_date", required=False),
        txpow_id=entry.str("txpow_id", required=False),
        transaction_id=entry.str("transaction_id", required=False),
        matched_hash=entry.hex64("matched_hash", required=False),
    )

def parse_receipt(data: Any) -> Receipt:
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
    check_segments(size, segment_size, segments, root)

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


def check_segments(size: int, segment_size: int, segments: Sequence[str], root: str) -> None:
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

