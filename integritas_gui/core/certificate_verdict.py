"""What a certificate concludes: the ``verification`` dict of a check (see ``certificate.py``), the
records it shows, its outcome box and, in plain words, what that outcome proves and does not."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from integritas_gui import __version__
from integritas_gui.core.certificate_text import AMBER, GREEN, GREY, RED, format_time
from integritas_gui.core.hexhash import normalise_hash_lenient
from integritas_gui.core.model import RECORD_FIELDS, ChainRecord, oldest_first
from integritas_gui.core.receipt_verify import ReceiptCheck
from integritas_gui.core.receipts import Receipt, public_base_url, utc_now_iso


def verification_from_check(
    check: ReceiptCheck, *, checked_at: str | None = None, base_url: str | None = None,
    file_name: str | None = None,
) -> dict:
    """The ``verification`` of a file checked against its receipt (``verify_file_against_receipt``)."""
    return {
        "result": check.status,
        "checked_at": checked_at or utc_now_iso(),
        "base_url": public_base_url(base_url),
        "app_version": __version__,
        "message": check.message,
        "changed_ranges": [list(r) for r in check.changed_ranges],
        "size_now": check.size_now,
        "sha3_now": check.sha3_now,
        "file_name": file_name,
    }


def verification_of_job(job: Any) -> dict | None:
    """A verify job's answer and, when it was compared with an earlier stamp, what changed."""
    if job.kind == "stamp" or job.state != "done":
        return None
    check = job.receipt_check or {}
    response = job.response or {}
    changed = check.get("status") == "changed"
    verification: dict[str, Any] = {
        "result": "changed" if changed else (job.outcome or "unknown"),
        "service_result": job.outcome,
        "checked_at": job.updated_at,
        "base_url": public_base_url(job.base_url),
        "app_version": __version__,
        "message": response.get("message"),
        "changed_ranges": [list(r) for r in check.get("changed") or []] if changed else [],
        "size_now": job.size,
        "sha3_now": job.sha3_256,
        "file_name": job.name,
        "records": list(job.records),
    }
    if response.get("nft_coin_id") or response.get("nft_txn_id") or response.get("report_file_name"):
        verification["report"] = {
            "nft_coin_id": response.get("nft_coin_id"),
            "nft_txn_id": response.get("nft_txn_id"),
            "file_name": response.get("report_file_name"),
        }
    return verification


def _as_record(record: Any) -> ChainRecord:
    """A verification's record: a ``ChainRecord``, or a mapping of its fields (JSON)."""
    if isinstance(record, ChainRecord):
        return record
    fields = {name: record.get(name) for name in RECORD_FIELDS}
    return ChainRecord(**{**fields, "matched_hash": normalise_hash_lenient(fields["matched_hash"])})


def merged_records(receipt: Receipt, verification: Mapping[str, Any] | None) -> tuple[ChainRecord, ...]:
    records = list(receipt.records)
    seen = {r.key() for r in records}
    result = (verification or {}).get("result")
    if result in ("match", "full match", "partial match"):
        for raw in (verification or {}).get("records") or []:
            record = _as_record(raw)
            if record.matched_hash and record.matched_hash != receipt.sha3_256:
                continue
            if record.key() not in seen:
                seen.add(record.key())
                records.append(record)
    return oldest_first(records)


@dataclass(frozen=True)
class Verdict:
    kind: str  # confirmed | changed | no match | partial | unreadable | pending | not stamped
    headline: str
    text: str
    colour: Any
    ranges: tuple[tuple[int, int], ...] = ()


def verdict_of(receipt: Receipt, verification: Mapping[str, Any] | None,
             records: Sequence[ChainRecord]) -> Verdict:
    first = records[0] if records else None
    when = f" in block {first.block_number:,}" if first and first.block_number is not None else ""
    if first and first.block_date:
        when += f" on {format_time(first.block_date)}"
    confirmed_text = f"The SHA3-256 hash of this file was recorded on the Minima blockchain{when}."
    result = (verification or {}).get("result")
    if result == "changed":
        ranges = tuple((int(o), int(n)) for o, n in (verification.get("changed_ranges") or []))
        size_now = verification.get("size_now")
        text = "The file checked"
        if verification.get("checked_at"):
            text += f" on {format_time(verification['checked_at'])}"
        text += " is not the file that was stamped: its SHA3-256 differs"
        if size_now is not None and size_now != receipt.size:
            text += f", and its size changed from {receipt.size:,} to {int(size_now):,} bytes"
        text += "."
        if ranges:
            text += f" Changed byte ranges ({len(ranges)}) are listed below."
        return Verdict("changed", "Changed \u2014 the file no longer matches", text, RED, ranges)
    if result == "found" and not records:
        return Verdict(
            "confirmed", "On the blockchain",
            "The service reported that this file's SHA3-256 is recorded on the Minima blockchain. "
            "(A quick check gives no block details; a verification lists them.)", GREEN)
    if result in ("no match", "not found"):
        return Verdict(
            "no match", "No match \u2014 not found on the blockchain",
            "The service found no record of this file's SHA3-256 hash on the Minima blockchain: this "
            "exact file was never stamped, or it differs from the file that was.", RED)
    if result == "partial match":
        return Verdict("partial", "Partial match", "Only part of what was checked was found on the blockchain. "
                        + (str(verification.get("message") or "")), AMBER)
    if result in ("missing", "unreadable"):
        return Verdict("unreadable", "Not checked \u2014 the file could not be read",
                        str(verification.get("message") or "The file could not be read."), GREY)
    if records:
        if result in ("match", "full match"):
            checked = format_time(verification.get("checked_at"))
            confirmed_text += f" The file was checked again on {checked} and still matches."
        return Verdict("confirmed", "Confirmed", confirmed_text, GREEN)
    if receipt.stamp_request is not None:
        return Verdict("pending", "Submitted \u2014 not confirmed yet",
                        f"The hash was sent to be stamped on {format_time(receipt.stamp_request.time)}; "
                        "no on-chain record was seen when this certificate was made.", AMBER)
    return Verdict("not stamped", "Not stamped", "This file's hashes were computed, but it has not been stamped.", GREY)


_PROVES = (
    "A file whose SHA3-256 hash is exactly the one above existed no later than the time of the "
    "block that records it: the hash was written into that Minima transaction.",
    "Any file that gives the same SHA3-256 today is, byte for byte, that same file: changing even "
    "one byte gives a completely different hash.",
)
_DOES_NOT_PROVE = (
    "Who made, owned or sent the file, or that its content is true, original or lawful.",
    "That the file did not exist earlier: only that it existed by then.",
    "Anything about a file whose SHA3-256 differs. Segment hashes are kept in the receipt, not on "
    "the blockchain: they show where a file changed.",
    "The file is not stored on the blockchain nor by the service: keep it with this certificate.",
)


def meaning_of(verdict: Verdict) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """'What this proves' and 'what it does not prove', in plain words, for this outcome."""
    if verdict.kind == "changed":
        return (
            "The stamped version (the SHA3-256 above) existed no later than the time of its block.",
            "The file checked is not that version: the listed byte ranges differ from it.",
        ), (
            "Which version is the right one, who changed the file, or when.",
            "That the unchanged ranges were anchored on their own: only the whole file's SHA3-256 is "
            "on the blockchain; segment hashes live in the receipt.",
            "Who made, owned or sent the file, or that its content is true.",
        )
    if verdict.kind == "no match":
        return (
            "When it was checked, the service knew no record of this exact file's SHA3-256 on the "
            "Minima blockchain.",
        ), (
            "That the content was never stamped: a copy that differs by even one byte (re-saved, "
            "converted, other metadata) has another hash.",
            "Anything about when or by whom the file was made.",
            "That it cannot be stamped later: a check covers the records known at that moment.",
        )
    return _PROVES, _DOES_NOT_PROVE
