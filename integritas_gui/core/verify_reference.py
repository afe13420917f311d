"""What a verification of a file compares it with, and what the history already knows of it:
the reference (its sidecar receipt, else the newest stamp of the same path), the byte ranges that
changed since, and the digest on record for a file unchanged since it was hashed (so asking for a
report need not read the file again).
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any, Sequence

from integritas_gui.core.errors import IntegritasError
from integritas_gui.core.history import History, Job
from integritas_gui.core.receipts import read_receipt, sidecar_path

if TYPE_CHECKING:
    from integritas_gui.core.hashing import FileDigest

log = logging.getLogger(__name__)


def changed_ranges(segment_size: int, then_size: int, then_segments: Sequence[str],
                   now_size: int, now_segments: Sequence[str]) -> list[tuple[int, int]]:
    """Byte ranges (offset, length) of the file now that differ from what was recorded then,
    adjacent segments merged; bytes cut off the end count as a changed range at the new end."""
    ranges: list[tuple[int, int]] = []
    for index in range(max(len(then_segments), len(now_segments))):
        then = then_segments[index] if index < len(then_segments) else None
        now = now_segments[index] if index < len(now_segments) else None
        if then == now:
            continue
        offset = index * segment_size
        length = max(min(segment_size, max(now_size, then_size) - offset), 0)
        if ranges and ranges[-1][0] + ranges[-1][1] == offset:
            ranges[-1] = (ranges[-1][0], ranges[-1][1] + length)
        else:
            ranges.append((offset, length))
    return ranges


def reference_for(history: History, path: str) -> dict[str, Any] | None:
    """What a verification compares the file with: its sidecar receipt, else the newest stamp
    of the same path in this history. None when the file was never stamped here."""
    sidecar = sidecar_path(path)
    if sidecar.exists():
        try:
            receipt = read_receipt(sidecar)
            return {"source": str(sidecar), "segment_size": receipt.segment_size,
                    "size": receipt.size, "sha3_256": receipt.sha3_256,
                    "segments": tuple(receipt.segments)}
        except IntegritasError as exc:
            log.warning("Ignoring unreadable receipt %s: %s", sidecar, exc)
    stamp = history.latest_for_path(path, "stamp", states=("pending", "confirmed"))
    if stamp is None or stamp.segment_size is None:
        return None
    return {"source": f"history:{stamp.id}", "segment_size": stamp.segment_size,
            "size": stamp.size, "sha3_256": stamp.sha3_256,
            "segments": history.segments(stamp.id)}


def known_digest(history: History, job: Job, reference: dict[str, Any] | None) -> FileDigest | None:
    """The digest this history already holds for the file, when the file is unchanged since
    (same size, modification and status-change times): asking for a report then costs no read
    of the file. None when it has to be hashed."""
    from integritas_gui.core.hashing import FileDigest

    try:
        st = os.stat(job.path)
    except OSError:
        return None
    candidates = [history.latest_for_path(job.path, kind, states=states) for kind, states in
                  (("verify", ("done",)), ("stamp", ("pending", "confirmed")), ("check", ("done",)))]
    for earlier in sorted((c for c in candidates if c is not None), key=lambda c: -c.id):
        if not earlier.sha3_256 or earlier.ctime_ns is None or earlier.segment_size is None:
            continue
        if (earlier.size, earlier.mtime_ns, earlier.ctime_ns) != (st.st_size, st.st_mtime_ns,
                                                                   st.st_ctime_ns):
            return None  # the newest hash is of another version of the file
        if reference is not None and earlier.segment_size != reference["segment_size"]:
            continue
        segments = history.segments(earlier.id)
        if len(segments) != (earlier.segment_count or 0):
            continue
        log.info("Job %s: %s is unchanged since job %s hashed it; not read again", job.id,
                 job.name, earlier.id)
        return FileDigest(path=job.path, size=st.st_size, mtime_ns=st.st_mtime_ns,
                          sha3_256=earlier.sha3_256, blake3=earlier.blake3,
                          segment_size=earlier.segment_size, segments=segments,
                          segments_root=earlier.segments_root, ctime_ns=st.st_ctime_ns)
    return None


def compare_with_reference(reference: dict[str, Any], digest: Any) -> dict[str, Any]:
    """The receipt check stored with a verification: match or changed, and where."""
    ranges = changed_ranges(digest.segment_size, reference["size"] or 0, reference["segments"],
                            digest.size, digest.segments)
    same = reference["sha3_256"] == digest.sha3_256
    return {
        "status": "match" if same else "changed",
        "source": reference["source"],
        "segment_size": digest.segment_size,
        "size_then": reference["size"],
        "size_now": digest.size,
        "changed": [] if same else [list(r) for r in ranges],
    }
