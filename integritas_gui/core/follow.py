"""Following pending stamps until they are confirmed: the confirmation policy, the batch
follow-up rounds (one check per round for a batch, then verify for the blocks), the block polls of a
stamp the service found, the look-up of a stamp whose sending was interrupted, and confirming.

``FollowUp`` is part of ``Engine`` (core/engine.py): it works on the engine's history, client,
locks and scheduler.
"""

from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Sequence

from integritas_gui.core.errors import IntegritasError
from integritas_gui.core.history import Job, utc_now
from integritas_gui.core.job_update import JobUpdate
from integritas_gui.core.receipts import sidecar_path, write_receipt

log = logging.getLogger(__name__)

# A pending stamp the service has found (check) but whose block verify does not list yet.
AWAITING_BLOCK = "awaiting_block"
AWAITING_BLOCK_TEXT = "Found, waiting for the block details. The app asks again shortly."


@dataclass(frozen=True)
class ConfirmPolicy:
    """How a stamp is followed until it is in a block (Minima: ~50 s blocks, confirmed in 1-3 min)."""

    first_delay: float = 10.0
    interval: float = 10.0
    max_interval: float = 60.0
    backoff: float = 1.5
    pending_after: float = 300.0  # past this the stamp is still "pending", with a note; never "failed"

    @property
    def settled_after(self) -> float:
        """By then a stamp the service received is normally on chain (Minima: within 3 min)."""
        return self.first_delay + 3 * self.max_interval

    @classmethod
    def for_block_time(cls, block_time: float) -> "ConfirmPolicy":
        """A policy scaled to a (sandbox) chain whose blocks come every ``block_time`` seconds."""
        if block_time >= 50:
            return cls()
        step = max(0.05, block_time * 0.6)
        return cls(first_delay=block_time * 1.2, interval=step, max_interval=max(step, block_time * 4),
                   pending_after=max(30.0, block_time * 6))


@dataclass
class _Follow:
    """The pending stamps of one batch, followed together. A round checks only the newest stamp
    that could be in a block by now; once the service finds it, verify is asked once for each stamp
    sent up to then, for its block. One check per round, never one per stamp."""

    waiting: dict[int, float] = field(default_factory=dict)  # job id -> when it was sent (monotonic)
    misses: int = 0  # rounds in a row whose newest stamp was not found yet
    due: bool = False  # a round is scheduled
    trouble: str | None = None  # the error last shown on its stamps (a refused key, ...)


class FollowUp:
    """The engine's step 3: follow a stamp until it is confirmed."""

    def _follow(self, job: Job, sent: float | None = None, delay: float | None = None, *,
                plan: bool = True) -> None:
        """Add a pending stamp (sent at monotonic time ``sent``, default now) to its batch's
        follow-up; a round is planned if none is: ``delay`` from now, by default once the first
        stamp could be in a block. ``plan=False``: none yet (``_plan_rounds`` does it later)."""
        key = job.batch_id if job.batch_id is not None else -job.id
        sent = time.monotonic() if sent is None else sent
        with self._lock:
            group = self._follows.setdefault(key, _Follow())
            group.waiting[job.id] = sent
        if not plan:
            return
        if delay is None:
            delay = sent + self.confirm.first_delay - time.monotonic()
        self._plan_round(key, delay)

    def _plan_rounds(self) -> None:
        """A round for each followed batch that has none planned, once its first stamp could be in
        a block (after a resume has added all of a batch's stamps: a round started on the first few
        would find those and then need another round, another check, for the rest)."""
        with self._lock:
            oldest = {key: min(group.waiting.values()) for key, group in self._follows.items()
                      if group.waiting and not group.due}
        now = time.monotonic()
        for key, sent in oldest.items():
            self._plan_round(key, sent + self.confirm.first_delay - now)

    def _plan_round(self, key: int, delay: float | None = None, *, ending: bool = False) -> None:
        """Schedule the next round unless one is due (``ending``: the round that calls this is done)."""
        with self._lock:
            group = self._follows.get(key)
            if group is None:
                return
            if ending:
                group.due = False
            if group.due:
                return
            if not group.waiting:  # stamps still asked for their block come back through _follow
                del self._follows[key]
                return
            group.due = True
            if delay is None:
                delay = self._backoff(group.misses)
        self._schedule(key, "follow", max(0.0, delay))

    def _backoff(self, tries: int) -> float:
        """The wait before asking again after ``tries`` answers in a row that did not settle it."""
        return min(self.confirm.max_interval, self.confirm.interval * self.confirm.backoff ** tries)

    def _follow_step(self, key: int) -> None:
        try:
            self._follow_round(key)
        except Exception:  # a store or programming error: keep following, try the round later
            log.exception("A confirmation round failed")
            self._plan_round(key, self.confirm.max_interval, ending=True)

    def _follow_round(self, key: int) -> None:
        from integritas_gui.core.client import ServiceError

        now = time.monotonic()
        with self._lock:
            group = self._follows.get(key)
            if group is None:
                return
            for job_id in [j for j in group.waiting if self._cancelled(j)]:
                del group.waiting[job_id]
            ripe = [(sent, job_id) for job_id, sent in group.waiting.items()
                    if now - sent >= self.confirm.first_delay]
            oldest = min(group.waiting.values(), default=now)
        if not ripe:
            self._plan_round(key, oldest + self.confirm.first_delay - now, ending=True)
            return
        probe_sent, probe = max(ripe)
        job = self.history.get_job(probe, with_records=False)
        if job is None or job.state != "pending":  # removed or settled meanwhile
            with self._lock:
                group.waiting.pop(probe, None)
            self._plan_round(key, 0.0, ending=True)
            return
        try:
            found = self.client.check(job.sha3_256).status == "found"
        except ServiceError as exc:
            self._follow_trouble(key, group, exc)
            return
        with self._lock:
            group.trouble = None
            if not found:
                group.misses += 1
                late = [job_id for job_id, sent in group.waiting.items()
                        if now - sent > self.confirm.pending_after]
            else:
                group.misses = 0
                late = []
                sent_by_then = {job_id: sent for job_id, sent in group.waiting.items()
                                if (sent, job_id) <= (probe_sent, probe)}
                for job_id in sent_by_then:
                    del group.waiting[job_id]
        if found:
            for job_id, sent in sent_by_then.items():
                self._run(self._net_pool, job_id,
                          functools.partial(self._block_step, found=job_id == probe, sent=sent))
        elif late:
            self._note_late(late)
        self._plan_round(key, ending=True)

    def _follow_trouble(self, key: int, group: _Follow, exc: Any) -> None:
        """A round's check failed: rate limits are waited out, a refused key or plan is shown on the
        batch's stamps (they stay pending: they were sent), anything else is tried again later."""
        if exc.kind in ("auth", "plan_limit", "bad_request"):
            with self._lock:
                shown, group.trouble = group.trouble, exc.message
                ids = list(group.waiting)
            if shown != exc.message:
                for job_id in ids:
                    self._commit(job_id, state="pending", error=exc.message, error_kind=exc.kind)
            self._plan_round(key, self.confirm.max_interval, ending=True)
        elif exc.kind == "rate_limited" and exc.retry_after:
            self._plan_round(key, exc.retry_after, ending=True)
        else:
            with self._lock:
                group.misses += 1
            self._plan_round(key, ending=True)

    def _note_late(self, job_ids: Sequence[int]) -> None:
        for job in self.history.jobs(job_ids):
            if job.state == "pending":
                self._note_if_late(job)

    def _note_if_late(self, job: Job) -> None:
        waited = self._seconds_since(job.submitted_at)
        if waited is not None and waited > self.confirm.pending_after:
            self._emit(JobUpdate.of(job, note=f"Still pending after {waited / 60:.0f} min; "
                                              "Minima usually confirms within 3 min. Still following."))

    def _block_step(self, job_id: int, *, found: bool, sent: float | None = None) -> None:
        """Ask verify for the block of a stamp. ``found``: the service found this very hash; the stamp
        then stays pending ("found, waiting for the block details") and verify is asked again with
        backoff until a block is listed. Otherwise (it was sent before a hash the service found) a
        stamp without a block goes back to its batch's follow-up."""
        from integritas_gui.core.client import ServiceError

        if self._stop_if_cancelled(job_id):
            return
        job = self.history.get_job(job_id, with_records=False)
        with self._lock:
            active = self._active.get(job_id)
            if active is None:
                return
        retry_after = None
        try:
            result = self.client.verify(job.sha3_256)
        except ServiceError as exc:
            if exc.kind in ("auth", "plan_limit", "bad_request"):
                job = self._commit(job_id, known=job, state="pending", error=exc.message,
                                   error_kind=exc.kind)
            elif exc.kind == "rate_limited":
                retry_after = exc.retry_after
        else:
            if self._confirm(job, result.records):
                return
            if found and job.error_kind != AWAITING_BLOCK:
                job = self._commit(job_id, known=job, state="pending", error=AWAITING_BLOCK_TEXT,
                                   error_kind=AWAITING_BLOCK)
        if not found and job.error_kind != AWAITING_BLOCK:
            self._follow(job, sent, retry_after or self.confirm.interval)
            return
        with self._lock:
            active.polls += 1
        self._note_if_late(job)
        self._schedule(job_id, "poll", retry_after or self._backoff(active.polls - 1))

    def _poll_step(self, job_id: int) -> None:
        """The follow-up of a stamp the service found: verify again for its block."""
        self._block_step(job_id, found=True)

    def _recheck_step(self, job_id: int) -> None:
        """A stamp whose sending was interrupted: confirmed if the service got it, else sent."""
        from integritas_gui.core.client import ServiceError

        if self._stop_if_cancelled(job_id):
            return
        job = self.history.get_job(job_id, with_records=False)
        try:
            if self.client.check(job.sha3_256).status == "found":
                records = self.client.verify(job.sha3_256).records
                if self._confirm(job, records, submitted_at=utc_now()):
                    return
                # Found, its block not listed yet: followed like a stamp the service already had.
                self._commit(job_id, known=job, state="pending", submitted_at=utc_now(),
                             error=AWAITING_BLOCK_TEXT, error_kind=AWAITING_BLOCK)
                self._schedule(job_id, "poll", self.confirm.interval)
                return
        except ServiceError as exc:
            log.info("Could not look up interrupted stamp %s (%s); sending it again", job_id, exc.kind)
        self._submit_step(job_id)

    def _confirm(self, job: Job, records: Sequence[Any], **changes: Any) -> bool:
        """Confirm a stamp whose records name its block; False (nothing done) when none does."""
        newest = max((r for r in records if r.block_number is not None), key=lambda r: r.block_number,
                     default=None)
        if newest is None:
            return False
        self.history.add_records(job.id, records)
        self._settle(job.id)
        job = self._commit(
            job.id, known=job, state="confirmed", outcome="confirmed", confirmed_at=utc_now(), error=None,
            error_kind=None, block_number=newest.block_number, block_date=newest.block_date, **changes,
        )
        if self.write_sidecar_receipts and job.path:
            self._write_sidecar(job)
        return True

    def _write_sidecar(self, job: Job) -> None:
        try:
            from integritas_gui.core.job_receipts import receipt_for_job

            target = sidecar_path(job.path)
            write_receipt(receipt_for_job(self.history, job.id), target)
            self.history.update(job.id, receipt_path=str(target))
        except (IntegritasError, OSError) as exc:
            log.warning("Could not write the receipt next to %s: %s", job.path, exc)
            self.history.update(job.id, error=f"Confirmed, but the receipt could not be written next "
                                              f"to the file: {exc}")

    def _first_poll_delay(self, job: Job) -> float:
        if not job.submitted_at:
            return self.confirm.first_delay
        submitted = datetime.strptime(job.submitted_at, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
        waited = (datetime.now(timezone.utc) - submitted).total_seconds()
        return max(0.0, self.confirm.first_delay - waited)

    @staticmethod
    def _seconds_since(stamp: str | None) -> float | None:
        if not stamp:
            return None
        then = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
        return (datetime.now(timezone.utc) - then).total_seconds()
