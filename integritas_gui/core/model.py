"""The app's two shared types: an on-chain record and a job.

``ChainRecord`` is one anchoring of a hash on the Minima chain. The service answer (core.client),
the history (core.history) and the receipt (core.receipts) each convert their own format to and
from it; the certificate, the CLI and the window read only this type.

``Job`` is one action (stamp, check or verify) on one file or pasted hash, as the history keeps it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

FINAL_STATES = ("confirmed", "done", "failed", "cancelled")
RECORD_FIELDS = ("block_number", "block_date", "txpow_id", "transaction_id", "matched_hash")


@dataclass(frozen=True)
class ChainRecord:
    block_number: int | None = None
    block_date: str | None = None  # ISO-8601 UTC
    txpow_id: str | None = None
    transaction_id: str | None = None
    matched_hash: str | None = None  # 64 lowercase hex

    def key(self) -> tuple:
        """What makes two records the same anchoring."""
        return (self.txpow_id or "", self.transaction_id or "", self.block_number)

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in RECORD_FIELDS}


def oldest_first(records: Any) -> tuple[ChainRecord, ...]:
    """Records by block, oldest first; those without a block number last."""
    return tuple(sorted(records, key=lambda r: (r.block_number is None, r.block_number or 0)))


@dataclass(frozen=True)
class Job:
    id: int
    kind: str
    state: str
    path: str | None
    name: str | None
    size: int | None
    mtime_ns: int | None
    sha3_256: str | None
    blake3: str | None
    segment_size: int | None
    segment_count: int | None
    segments_root: str | None
    outcome: str | None
    error: str | None
    error_kind: str | None
    attempts: int
    options: dict[str, Any]
    base_url: str | None
    response: dict[str, Any] | None
    block_number: int | None
    block_date: str | None
    report_path: str | None
    receipt_path: str | None
    receipt_check: dict[str, Any] | None
    created_at: str
    updated_at: str
    submitted_at: str | None
    confirmed_at: str | None
    batch_id: int | None = None
    ctime_ns: int | None = None
    records: tuple[ChainRecord, ...] = field(default=())

    __hash__ = None  # type: ignore[assignment]  # holds dicts: compared, never hashed

    @property
    def finished(self) -> bool:
        return self.state in FINAL_STATES

    @property
    def display_name(self) -> str:
        if self.name:
            return self.name
        return f"hash {self.sha3_256[:12]}…" if self.sha3_256 else f"job {self.id}"


__all__ = ["ChainRecord", "Job", "RECORD_FIELDS", "oldest_first"]
