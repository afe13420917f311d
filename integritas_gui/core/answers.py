"""Reading the Integritas service's answers: JSON envelopes -> StampResult, CheckResult,
VerifyResult, or the ServiceError that says what to do next.

Pure functions (the fuzz tests drive them directly); the request path is in client.py.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from integritas_gui.core import hexhash
from integritas_gui.core.display import iso_utc
from integritas_gui.core.errors import ServiceError
from integritas_gui.core.model import ChainRecord
from integritas_gui.core.retry import parse_retry_after

VERIFY_RESULTS = ("full match", "partial match", "no match")


# ---------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class FileSegment:
    matched_hash: str | None
    offset: int
    packet_size: int


@dataclass(frozen=True)
class ReportLink:
    file_name: str
    download_url: str
    file_size: int | None
    expires_in: str | None


@dataclass(frozen=True)
class VerifyResult:
    file_hash: str
    result: str  # "full match" | "partial match" | "no match" | "unknown"
    records: tuple[ChainRecord, ...]
    segments: tuple[FileSegment, ...]
    unique_hashes: int | None
    nft_coin_id: str | None
    nft_txn_id: str | None
    report: ReportLink | None
    message: str
    raw: dict = field(repr=False, compare=False)


@dataclass(frozen=True)
class StampResult:
    hash: str
    newly_anchored: bool
    verification: VerifyResult | None
    request_id: str | None
    message: str
    raw: dict = field(repr=False, compare=False)


@dataclass(frozen=True)
class CheckResult:
    hash: str
    status: str  # "found" | "not_found" | "unknown"
    message: str
    raw: dict = field(repr=False, compare=False)


# ---------------------------------------------------------------------------------------------
# Small pure helpers


normalise_hash = hexhash.normalise_hash_lenient  # what the service echoes


def record_from_service(entry: Mapping[str, Any]) -> ChainRecord:
    """One ``blockchainData[]`` entry of a service answer."""
    return ChainRecord(
        block_number=_as_int(entry.get("blockNumber")),
        block_date=iso_utc(entry.get("blockDate")),
        txpow_id=_as_str(entry.get("txpowId")),
        transaction_id=_as_str(entry.get("transactionId")),
        matched_hash=normalise_hash(entry.get("matchedHash")),
    )


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _plain_server_text(value: Any, *, limit: int = 200) -> str | None:
    """A server message fit to show a person: short plain text, never HTML or a dump."""
    if not isinstance(value, str):
        return None
    text = " ".join(_CONTROL.sub(" ", value).split())
    if not text or "<" in text and ">" in text:
        return None
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**63:
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d{1,19}\s*", value):
        return int(value)
    return None


_FLAG_WORDS = {"true": True, "false": False, "1": True, "0": False}


def as_flag(value: Any) -> bool | None:
    """A yes/no flag as services send it: true/false, "true"/"false", 1/0 or "1"/"0" (any case,
    spaces around); None for anything else."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        return _FLAG_WORDS.get(value.strip().lower())
    return None


def _as_str(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _as_dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else []


# ---------------------------------------------------------------------------------------------
# Response parsing (pure functions: the fuzz tests drive these directly)


def error_for_status(status: int, server_message: str | None = None,
                     retry_after: float | None = None) -> ServiceError:
    """The typed error for an HTTP (or envelope) status, with a message that says what to do."""
    said = f" The service said: {server_message}" if server_message else ""
    if status in (401, 403):
        return ServiceError(
            "auth",
            "The Integritas service refused the API key. Check the key in Settings "
            "(keys come from your profile on integritas.technology).",
            status=status,
        )
    if status == 402:
        return ServiceError(
            "plan_limit",
            "Your Integritas plan's usage limit has been reached. Upgrade the plan on "
            "integritas.technology, or wait until the limit resets, then try again." + said,
            status=status,
        )
    if status == 429:
        wait = f" in about {retry_after:.0f} s" if retry_after else " in a minute"
        return ServiceError(
            "rate_limited",
            f"The Integritas service is limiting how fast requests may be sent. Try again{wait}.",
            status=status, retry_after=retry_after,
        )
    if status >= 500:
        return ServiceError(
            "unavailable",
            f"The Integritas service is unavailable right now (HTTP {status}). "
            "Try again later.",
            status=status, retry_after=retry_after,
        )
    if status == 404:
        return ServiceError(
            "bad_request",
            "The Integritas service does not know this request (HTTP 404). Check the service "
            "address in Settings." + said,
            status=status,
        )
    if 300 <= status < 400:
        return ServiceError(
            "malformed",
            f"The Integritas service answered with a redirect (HTTP {status}). Check the service "
            "address in Settings.",
            status=status,
        )
    return ServiceError(
        "bad_request",
        f"The Integritas service rejected the request (HTTP {status})." + (
            said or " Check the hash and try again."),
        status=status,
    )


def _malformed(status: int | None = None) -> ServiceError:
    return ServiceError(
        "malformed",
        "The Integritas service sent an answer the app cannot read. Try again later; if it "
        "keeps happening, the service may have changed and the app needs an update.",
        status=status,
    )


def decode_response(status: int, body: bytes, headers: Mapping[str, str] | None = None) -> dict:
    """HTTP status + body -> the success envelope as a dict, or raise the right ServiceError."""
    headers = headers or {}
    envelope: Any = None
    if body:
        try:
            envelope = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            envelope = None
    server_message = None
    if isinstance(envelope, dict):
        server_message = _plain_server_text(envelope.get("message"))
    retry_after = parse_retry_after(headers.get("retry-after"))
    if status >= 300 or status < 200:
        raise error_for_status(status, server_message, retry_after)
    if not isinstance(envelope, dict):
        raise _malformed(status)
    if (isinstance(envelope.get("status"), str) and envelope["status"].strip().lower() == "error"
            or as_flag(envelope.get("status")) is False):
        code = _as_int(envelope.get("statusCode"))
        if code is not None and 400 <= code < 600:
            raise error_for_status(code, server_message, retry_after)
        raise ServiceError(
            "bad_request",
            "The Integritas service reported an error."
            + (f" The service said: {server_message}" if server_message else " Try again later."),
            status=status,
        )
    return envelope


def _message(envelope: dict) -> str:
    return _plain_server_text(envelope.get("message"), limit=300) or ""


def parse_verify_payload(payload: Any, requested_hash: str, *, message: str = "",
                         raw: dict | None = None) -> VerifyResult:
    """The ``data`` of a verify answer (SEARCH_API wrapper with ``data`` and ``file``) -> VerifyResult."""
    outer = _as_dict(payload)
    inner = outer.get("data")
    if not isinstance(inner, dict):
        inner = outer  # tolerate a flattened payload
    file_hash = normalise_hash(inner.get("fileHash"))
    result = _as_str(inner.get("result"))
    result = result.lower() if result else "unknown"
    if result not in VERIFY_RESULTS:
        result = "unknown"
    if file_hash is not None and file_hash != requested_hash:
        result = "unknown"  # an answer about another hash proves nothing about ours
    records = []
    for entry in _as_list(inner.get("blockchainData")):
        entry = _as_dict(entry)
        if not entry:
            continue
        records.append(record_from_service(entry))
    segments = []
    for entry in _as_list(inner.get("fileSegments")):
        entry = _as_dict(entry)
        if not entry:
            continue
        segments.append(FileSegment(
            matched_hash=normalise_hash(entry.get("matchedHash")),
            offset=max(0, _as_int(entry.get("offset")) or 0),
            packet_size=max(0, _as_int(entry.get("packetSize")) or 0),
        ))
    return VerifyResult(
        file_hash=file_hash or requested_hash,
        result=result,
        records=tuple(records),
        segments=tuple(segments),
        unique_hashes=_as_int(inner.get("uniqueHashes")),
        nft_coin_id=_as_str(inner.get("nftCoinId")),
        nft_txn_id=_as_str(inner.get("nftTxnId")),
        report=parse_report_link(outer, inner),
        message=message,
        raw=raw if raw is not None else outer,
    )


def _first(mapping: dict, *names: str) -> Any:
    for name in names:
        if mapping.get(name) is not None:
            return mapping[name]
    return None


def parse_report_link(*places: dict) -> ReportLink | None:
    """The report link of a verify answer: ``file.downloadUrl`` (v2) or ``file.download_url``
    (v1), next to the verification data or inside it; None when the answer has none."""
    for place in places:
        file_info = _as_dict(place.get("file"))
        url = _as_str(_first(file_info, "downloadUrl", "download_url", "downloadURL"))
        if url:
            return ReportLink(
                file_name=_as_str(_first(file_info, "fileName", "file_name", "filename"))
                or "verification-report.pdf",
                download_url=url,
                file_size=_as_int(_first(file_info, "fileSize", "file_size")),
                expires_in=_as_str(_first(file_info, "expiresIn", "expires_in")),
            )
    return None


def _looks_like_verification(data: dict) -> bool:
    inner = data.get("data")
    probe = inner if isinstance(inner, dict) else data
    return any(key in probe for key in ("result", "blockchainData", "fileHash"))


def parse_stamp(envelope: dict, requested_hash: str) -> StampResult:
    """Branch on the shape of ``data``: a MINIMA_NODE command (new) or verification data (on chain)."""
    if not isinstance(envelope, dict):
        raise _malformed()
    data = envelope.get("data")
    message = _message(envelope)
    request_id = _as_str(envelope.get("requestId"))
    if isinstance(data, dict) and _looks_like_verification(data) and data.get("service") != "MINIMA_NODE":
        verification = parse_verify_payload(data, requested_hash, message=message, raw=envelope)
        return StampResult(requested_hash, False, verification, request_id, message, envelope)
    if isinstance(data, dict) and as_flag(data.get("status")) is False and "command" in data:
        # The service says its Minima node command failed: nothing was anchored, so following this
        # stamp would leave it pending for ever.
        said = _plain_server_text(data.get("error"))
        raise ServiceError(
            "unavailable",
            "The Integritas service could not pass the stamp to the Minima network, so nothing was "
            "anchored" + (f" (the node said: {said.rstrip('.')})" if said else "")
            + ". Stamp the file again later.",
        )
    if isinstance(data, dict) or as_flag(envelope.get("status")) is True or (
            isinstance(envelope.get("status"), str) and envelope["status"].lower() == "success"):
        # A MINIMA_NODE command, or a success whose data we do not recognise: the service took the
        # hash; confirmation comes from check/verify either way.
        return StampResult(requested_hash, True, None, request_id, message, envelope)
    raise _malformed()


def parse_check(envelope: dict, requested_hash: str) -> CheckResult:
    if not isinstance(envelope, dict):
        raise _malformed()
    data = envelope.get("data")
    if not isinstance(data, dict):
        raise _malformed()
    answer = data.get("data")
    status = "unknown"
    if isinstance(answer, str):
        words = " ".join(answer.lower().split()).rstrip(".")
        status = {"hash found": "found", "hash not found": "not_found"}.get(words, "unknown")
    echoed = normalise_hash(data.get("hash"))
    if echoed is not None and echoed != requested_hash:
        status = "unknown"
    text = answer if isinstance(answer, str) else _message(envelope)
    return CheckResult(requested_hash, status, _plain_server_text(text) or "", envelope)


def parse_verify(envelope: dict, requested_hash: str) -> VerifyResult:
    if not isinstance(envelope, dict):
        raise _malformed()
    data = envelope.get("data")
    if not isinstance(data, dict):
        raise _malformed()
    return parse_verify_payload(data, requested_hash, message=_message(envelope), raw=envelope)
