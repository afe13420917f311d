"""What the engine announces after each committed state change of a job."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from integritas_gui.core.history import Job


@dataclass(frozen=True)
class JobUpdate:
    job_id: int
    kind: str
    path: str | None
    state: str
    bytes_done: int = 0
    bytes_total: int = 0
    sha3_256: str | None = None
    outcome: str | None = None
    error: str | None = None
    block_number: int | None = None
    block_date: str | None = None
    note: str | None = None  # e.g. "still pending after 5 minutes"
    error_kind: str | None = None  # with state "pending": AWAITING_BLOCK once the service found it

    @classmethod
    def of(cls, job: Job, **override: Any) -> "JobUpdate":
        values = dict(
            job_id=job.id, kind=job.kind, path=job.path, state=job.state, sha3_256=job.sha3_256,
            outcome=job.outcome, error=job.error, block_number=job.block_number,
            block_date=job.block_date, error_kind=job.error_kind, bytes_total=job.size or 0,
            bytes_done=(job.size or 0) if job.sha3_256 else 0,
        )
        values.update(override)
        return cls(**values)
