"""What the detail panel shows for one job, read from the history off the GUI thread."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

from integritas_gui.core.model import Job
from integritas_gui.gui.segment_map import SegmentMapData


@dataclass(frozen=True)
class SegmentRange:
    offset: int
    packet_size: int
    matched_hash: str | None = None


@dataclass(frozen=True)
class JobDetails:
    """A history ``Job`` and what the panel derives from it: the service's matched segments and
    message. The job's own fields (kind, state, sha3_256, records, ...) read straight through."""

    job: Job
    segments: tuple[SegmentRange, ...] = ()
    message: str | None = None
    levels: tuple = ()  # core.node_verify.Level: local, service, your node

    def __getattr__(self, name: str) -> Any:
        if name == "job":  # not set yet (copying, unpickling): no recursion
            raise AttributeError(name)
        return getattr(self.job, name)

    @property
    def job_id(self) -> int:
        return self.job.id

    @property
    def name(self) -> str:
        return self.job.name or (os.path.basename(self.job.path) if self.job.path else "")

    def segment_map(self) -> SegmentMapData | None:
        """Matched byte ranges from the service, changed ones from the receipt comparison."""
        check = self.receipt_check or {}
        size = self.size or check.get("size_now") or 0
        if not size:
            return None
        matched = []
        for seg in self.segments:
            length = seg.packet_size or max(0, size - seg.offset)
            length = min(length, max(0, size - seg.offset))
            if length > 0:
                matched.append((seg.offset, length))
        changed = None
        unchanged = None
        segment_count = None
        if self.receipt_check is not None:
            changed = tuple((int(o), int(n)) for o, n in check.get("changed") or ())
            segment_size = int(check.get("segment_size") or 0)
            if segment_size:
                segment_count = max(1, math.ceil(size / segment_size))
            unchanged = _complement(changed, size)
        return SegmentMapData(
            file_size=size, matched=tuple(matched), changed=changed, unchanged=unchanged,
            segment_size=int(check.get("segment_size") or 0) or None, segment_count=segment_count,
        )


def _complement(ranges: tuple[tuple[int, int], ...], size: int) -> tuple[tuple[int, int], ...]:
    gaps, cursor = [], 0
    for offset, length in sorted(ranges):
        if offset > cursor:
            gaps.append((cursor, offset - cursor))
        cursor = max(cursor, offset + length)
    if cursor < size:
        gaps.append((cursor, size - cursor))
    return tuple(gaps)


def details_from_job(job: Job) -> JobDetails:
    """Build the panel's view of a history job."""
    response = job.response or {}
    segments = tuple(
        SegmentRange(int(s.get("offset") or 0), int(s.get("packet_size") or 0), s.get("matched_hash"))
        for s in response.get("segments") or ()
    )
    return JobDetails(job=job, segments=segments, message=response.get("message"))


def load_job_details(history: Any, job_id: int) -> JobDetails | None:
    from dataclasses import replace

    from integritas_gui.core.node_verify import levels_for_job

    job = history.get_job(job_id)
    if job is None:
        return None
    return replace(details_from_job(job), levels=levels_for_job(history, job))
