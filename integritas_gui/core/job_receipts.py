"""Receipts built from the history: what a stamp job recorded, as a document the user keeps."""

from __future__ import annotations

from types import SimpleNamespace

from integritas_gui.core.errors import BadInput
from integritas_gui.core.hashing import FileDigest
from integritas_gui.core.history import History
from integritas_gui.core.receipts import Receipt


def receipt_for_job(history: History, job_id: int) -> Receipt:
    """The receipt of a hashed job: hashes and segments, the stamp and its confirmation, reports."""
    job = history.get_job(job_id)
    if job is None:
        raise BadInput(f"There is no entry {job_id} in the history.")
    if job.sha3_256 is None or job.segment_size is None or not job.path:
        raise BadInput(f"{job.display_name} has no file hashes recorded, so it has no receipt.")
    digest = FileDigest(
        path=job.path, size=job.size or 0, mtime_ns=job.mtime_ns, sha3_256=job.sha3_256,
        blake3=job.blake3, segment_size=job.segment_size, segments=history.segments(job.id),
        segments_root=job.segments_root, ctime_ns=job.ctime_ns,
    )
    receipt = Receipt.from_digest(digest, now=job.created_at)
    if job.kind == "stamp" and job.submitted_at:
        response = job.response or {}
        stamp = SimpleNamespace(
            message=response.get("message"), request_id=response.get("request_id"),
            newly_anchored=response.get("newly_anchored"), raw=None, verification=None,
        )
        from integritas_gui.core.node_evidence import journal_entry
        from integritas_gui.core.receipts import NODE_STAMP_ENDPOINT

        if journal_entry(history, job.id) is not None:  # sent from the user's own node, not a service
            receipt = receipt.with_stamp(None, stamp, at=job.submitted_at, now=job.updated_at,
                                         endpoint=NODE_STAMP_ENDPOINT)
        else:
            receipt = receipt.with_stamp(job.base_url, stamp, at=job.submitted_at, now=job.updated_at)
    if job.records:
        receipt = receipt.with_confirmation(job.records, confirmed_at=job.confirmed_at, now=job.updated_at)
    from integritas_gui.core.node_evidence import receipt_evidence

    evidence = receipt_evidence(history, job.sha3_256)
    if evidence:
        receipt = receipt.with_node_evidence(evidence, now=job.updated_at)
    return receipt
