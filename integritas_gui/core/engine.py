"""The job runner both front ends use: hash -> submit -> follow -> record.

Work runs on plain threads (a hashing pool, a network pool, and one scheduler thread for timed
work: confirmation polls and rate-limit waits). Every state change is committed to the history
before the next step starts and is then announced to subscribers as a ``JobUpdate``, on the worker
thread that made it: front ends marshal it to their own thread (the GUI re-emits it as a Qt signal).

Quitting (``shutdown``) leaves interrupted jobs in their last committed state, so
``resume_unfinished`` picks them up on the next start; ``cancel`` is the user's "stop this one".
"""

from __future__ import annotations

import contextlib
import dataclasses
import heapq
import itertools
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from integritas_gui.core.errors import Cancelled, FileProblem, IntegritasError, StoreError
from integritas_gui.core.follow import (  # ConfirmPolicy and AWAITING_BLOCK: callers import them from here
    AWAITING_BLOCK,
    AWAITING_BLOCK_TEXT,
    ConfirmPolicy,
    FollowUp,
    _Follow,
)
from integritas_gui.core.history import History, Job, utc_now
from integritas_gui.core.job_update import JobUpdate  # re-exported: what subscribers receive
from integritas_gui.core.verify_reference import compare_with_reference, known_digest, reference_for

__all__ = ["AWAITING_BLOCK", "ConfirmPolicy", "Engine", "JobUpdate"]

log = logging.getLogger(__name__)

INSERT_CHUNK = 1000


@dataclass
class _Active:
    """What the engine holds for a job it is working on in this session."""

    kind: str
    path: str | None
    cancel: threading.Event = field(default_factory=threading.Event)
    polls: int = 0  # verify answers without a block so far (the backoff of a found stamp)


def _recordable(item: Any) -> Any:
    """A walk item whose path the history (UTF-8 text) can hold; a file name with invalid UTF-8
    bytes becomes a failed item with a plain message instead of breaking the whole batch."""
    try:
        item.path.encode("utf-8")
        return item
    except UnicodeEncodeError:
        from integritas_gui.core.walk import WalkItem

        shown = item.path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        return WalkItem(shown, size=item.size, error=(
            f"“{os.path.basename(shown)}” has a name that is not valid text (UTF-8), so it cannot be "
            "recorded in the history. Rename the file and try again."))


NO_REPORT_LINK = ("Verified, but the service answered without a report link, so there is no PDF "
                  "report. Ask again with Verify + report later; if no link comes back, check your "
                  "report list on integritas.technology.")


class Engine(FollowUp):
    """Hashes, sends and follows jobs; step 3 (following stamps until confirmed) is in follow.py."""

    def __init__(
        self,
        history: History,
        client: Any,
        *,
        hash_workers: int = 2,
        network_workers: int | None = None,
        confirm: ConfirmPolicy = ConfirmPolicy(),
        reports_dir: str | os.PathLike | None = None,
        write_sidecar_receipts: bool = False,
        segment_size: int | None = None,
    ):
        self.history = history
        self.client = client
        self.confirm = confirm
        self.reports_dir = Path(reports_dir) if reports_dir else None
        self.write_sidecar_receipts = write_sidecar_receipts
        self.segment_size = segment_size
        self._subscribers: list[Callable[[JobUpdate], None]] = []
        self._active: dict[int, _Active] = {}
        self._follows: dict[int, _Follow] = {}  # batch id (-job id without one) -> its pending stamps
        self._lock = threading.RLock()
        self._skip_lock = threading.Lock()  # see skip_if_stamped
        self._idle = threading.Condition(self._lock)
        self._busy = 0  # queued or running pool tasks
        self._timed: list[tuple[float, int, int, str]] = []  # (due, seq, job_id, action)
        self._seq = itertools.count()
        self._stopping = threading.Event()
        workers = network_workers or getattr(client, "concurrency", 8)
        self.hash_workers = max(1, hash_workers)
        self._hash_pool = ThreadPoolExecutor(self.hash_workers, thread_name_prefix="hash")
        self._net_pool = ThreadPoolExecutor(max(1, workers), thread_name_prefix="net")
        self._timer_wake = threading.Condition(threading.Lock())
        self._timer = threading.Thread(target=self._run_timer, name="scheduler", daemon=True)
        self._timer.start()

    # ---- subscribers ---------------------------------------------------------------------------
    def subscribe(self, callback: Callable[[JobUpdate], None]) -> None:
        self._subscribers.append(callback)

    def _emit(self, update: JobUpdate) -> None:
        for callback in list(self._subscribers):
            try:
                callback(update)
            except Exception:  # a front end's bug must not stop the batch
                log.exception("A subscriber failed on an update for job %s", update.job_id)

    def _commit(self, job_id: int, *, known: Job | None = None, **changes: Any) -> Job:
        """Commit a transition, then announce it. ``known``: the job as this worker last read or
        committed it; the committed job is then ``known`` with ``changes`` applied (no re-read)."""
        self.history.update(job_id, **changes)
        if known is None:
            job = self.history.get_job(job_id, with_records=False)
        else:
            job = dataclasses.replace(known, records=[], **changes)
        self._emit(JobUpdate.of(job))
        return job

    # ---- adding work ---------------------------------------------------------------------------
    def add_files(self, kind: str, paths: Iterable[str | os.PathLike], *, report: bool = False,
                  send_file_details: bool = False, restamp: bool = False, skip_if_stamped: bool = False,
                  cancel: threading.Event | None = None) -> list[int]:
        """Queue files and folders (walked recursively). Returns one job id per file, including
        failed jobs for entries that cannot be hashed. A stamp of a file that this history already
        stamped (same path, size and modification time) reuses that job unless ``restamp``.
        ``skip_if_stamped``: once hashed, a stamp whose content an earlier stamp job of this history
        already sent (any path) is not sent again; it ends ``cancelled`` as "already stamped"."""
        from integritas_gui.core.walk import expand_paths

        options = {"report": report, "send_file_details": send_file_details}
        if skip_if_stamped:
            options["skip_if_stamped"] = True
        batch_id = self.history.new_batch(kind)
        ids: list[int] = []
        pending: list[Any] = []
        for item in expand_paths(paths, cancel=cancel):
            pending.append(item)
            if len(pending) >= INSERT_CHUNK:
                ids.extend(self._queue_items(kind, pending, options, batch_id, restamp))
                pending = []
        if pending:
            ids.extend(self._queue_items(kind, pending, options, batch_id, restamp))
        return ids

    def _queue_items(self, kind: str, items: list[Any], options: dict[str, Any], batch_id: int,
                     restamp: bool) -> list[int]:
        items = [_recordable(i) for i in items]
        reused: dict[str, int] = {}
        if kind == "stamp" and not restamp:
            earlier = self.history.latest_stamps_for_paths([i.path for i in items if not i.error])
            for path, job in earlier.items():
                if self._still_same_file(job):
                    reused[path] = job.id
        with self._lock:
            running = {a.path: job_id for job_id, a in self._active.items() if a.kind == kind and a.path}
        for item in items:
            if not item.error and item.path in running:
                reused.setdefault(item.path, running[item.path])  # dropped twice: one job
        fresh = [i for i in items if i.path not in reused]
        entries = [
            {
                "path": i.path, "name": os.path.basename(i.path) or i.path, "size": i.size,
                "state": "failed" if i.error else "queued", "error": i.error,
                "error_kind": "file" if i.error else None, "options": options,
                "base_url": self._base_url,
            }
            for i in fresh
        ]
        new_ids = iter(self.history.add_jobs(kind, entries, batch_id=batch_id))
        ids: list[int] = []
        for item in items:
            if item.path in reused:
                job_id = reused[item.path]
                ids.append(job_id)
                self._resume(self.history.get_job(job_id, with_records=False))
                continue
            job_id = next(new_ids)
            ids.append(job_id)
            if item.error:
                self._emit(JobUpdate(job_id, kind, item.path, "failed", error=item.error))
            else:
                self._emit(JobUpdate(job_id, kind, item.path, "queued", bytes_total=item.size or 0))
                self._start_hashing(job_id, kind, item.path)
        return ids

    def add_hash(self, kind: str, sha3_hex: str, *, report: bool = False) -> int:
        """Queue a check or verification of a pasted hash (no file involved)."""
        from integritas_gui.core.hexhash import parse_sha3_strict

        sha3 = parse_sha3_strict(sha3_hex)
        job_id = self.history.add_job(
            kind, sha3_256=sha3, state="hashed", options={"report": report},
            base_url=self._base_url,
        )
        self._emit(JobUpdate(job_id, kind, None, "hashed", sha3_256=sha3))
        with self._lock:
            self._active[job_id] = _Active(kind, None)
        self._submit(job_id)
        return job_id

    @property
    def _base_url(self) -> str | None:
        return getattr(self.client, "base_url", None)

    def _still_same_file(self, job: Job) -> bool:
        if job.state in ("queued", "hashing"):
            return True  # never hashed: resuming hashes it now
        try:
            st = os.stat(job.path)
        except OSError:
            return False
        return (st.st_size == job.size and st.st_mtime_ns == job.mtime_ns
                and job.ctime_ns in (None, st.st_ctime_ns))

    # ---- control -------------------------------------------------------------------------------
    def cancel(self, job_id: int) -> None:
        with self._lock:
            active = self._active.get(job_id)
            if active is not None:
                active.cancel.set()
        job = self.history.get_job(job_id, with_records=False)
        if job is None or job.finished:
            return
        if job.state in ("pending", "queued", "hashed") or active is None:
            # Nothing is running for it right now (or the runner will see the flag): settle it here.
            note = ("Stopped following this stamp; it may still be confirmed. Retry to follow it again."
                    if job.state == "pending" else None)
            self._settle(job_id)
            self._commit(job_id, state="cancelled", error=note)

    def cancel_all(self) -> None:
        with self._lock:
            ids = list(self._active)
        for job_id in ids:
            self.cancel(job_id)

    def retry(self, job_id: int) -> None:
        """Run a failed or cancelled job again from the first step it still needs."""
        job = self.history.get_job(job_id, with_records=False)
        if job is None or job.state not in ("failed", "cancelled"):
            return
        with self._lock:
            if job_id in self._active:
                return
        if job.kind == "stamp" and job.submitted_at:
            self._commit(job_id, state="pending", error=None, error_kind=None)
        elif job.path:
            self._commit(job_id, state="queued", error=None, error_kind=None)
        else:
            self._commit(job_id, state="hashed", error=None, error_kind=None)
        self._resume(self.history.get_job(job_id, with_records=False))

    def resume_unfinished(self) -> list[int]:
        """Pick up what a crash or quit interrupted. Returns the resumed job ids."""
        jobs = self.history.unfinished()
        for job in jobs:
            self._resume(job, plan_rounds=False)
        self._plan_rounds()  # each batch's follow-up starts once all its stamps are back
        return [job.id for job in jobs]

    def _resume(self, job: Job, *, plan_rounds: bool = True) -> None:
        with self._lock:
            if job.id in self._active or job.finished and job.state != "confirmed":
                return
            if job.state == "confirmed":
                self._emit(JobUpdate.of(job))
                return
            self._active[job.id] = _Active(job.kind, job.path)
        if job.state in ("queued", "hashing") and job.path:
            self._start_hashing(job.id, job.kind, job.path, register=False)
        elif job.state == "submitting" and job.kind == "verify" and job.options.get("report"):
            # A report request may have reached the service (and minted its NFT): not sent again.
            from integritas_gui.core.client import report_may_exist

            self._settle(job.id)
            error = report_may_exist("the app stopped before the service answered")
            self._commit(job.id, state="failed", error=error.message, error_kind=error.kind)
        elif (job.state == "submitting" and job.kind == "stamp"
              and not getattr(self.client, "journals_sends", False)):
            # A crash came mid-request: the service may have the stamp. Look before sending again.
            # (A client that journals its sends finds an interrupted one itself, in stamp().)
            self._schedule(job.id, "recheck", self.confirm.settled_after)
        elif job.state in ("hashed", "submitting") or (job.state in ("queued", "hashing") and job.sha3_256):
            # "submitting" means a crash came mid-request: the service may or may not have it.
            self._submit(job.id)
        elif job.state == "pending":
            self._emit(JobUpdate.of(job))
            if job.error_kind == AWAITING_BLOCK:  # found before: only its block is missing
                self._schedule(job.id, "poll", self._first_poll_delay(job))
            else:
                waited = self._seconds_since(job.submitted_at) or 0.0
                self._follow(job, time.monotonic() - max(0.0, waited), plan=plan_rounds)
        else:
            self._settle(job.id)

    def wait_idle(self, timeout: float | None = None, *, include_pending: bool = True) -> bool:
        """Block until no job is being worked on (and, with include_pending, none is awaiting a
        block). True when idle, False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._idle:
            while True:
                following = len(self._active) if include_pending else self._busy
                if self._busy == 0 and following == 0:
                    return True
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._idle.wait(0.5 if remaining is None else min(0.5, remaining))

    @property
    def active_count(self) -> int:
        with self._lock:
            return len(self._active)

    def shutdown(self, wait: bool = True) -> None:
        """Stop all work, leaving interrupted jobs resumable (their committed state is kept)."""
        self._stopping.set()
        with self._lock:
            for active in self._active.values():
                active.cancel.set()
        with self._timer_wake:
            self._timer_wake.notify_all()
        self._hash_pool.shutdown(wait=wait, cancel_futures=True)
        self._net_pool.shutdown(wait=wait, cancel_futures=True)
        if wait:
            self._timer.join(timeout=5)

    # ---- pool plumbing -------------------------------------------------------------------------
    def _run(self, pool: ThreadPoolExecutor, job_id: int, step: Callable[[int], None], *,
             counted: bool = False) -> None:
        if not counted:
            with self._lock:
                self._busy += 1
        try:
            pool.submit(self._guarded, job_id, step)
        except RuntimeError:  # pool already shut down
            with self._idle:
                self._busy -= 1
                self._idle.notify_all()

    def _guarded(self, job_id: int, step: Callable[[int], None]) -> None:
        try:
            if not self._stopping.is_set():
                step(job_id)
        except StoreError as exc:
            log.error("History unavailable for job %s: %s", job_id, exc)
            self._settle(job_id)
            self._emit(JobUpdate(job_id, "", None, "failed", error=exc.message))
        except Exception as exc:  # a bug: keep the batch going, record it against the file
            log.exception("Unexpected error in job %s", job_id)
            self._settle(job_id)
            try:
                self._commit(job_id, state="failed", error_kind="internal",
                             error=f"Unexpected error ({type(exc).__name__}); details are in the log.")
            except IntegritasError:
                pass
        finally:
            with self._idle:
                self._busy -= 1
                self._idle.notify_all()

    def _settle(self, job_id: int) -> None:
        """The engine is done with this job for this session."""
        with self._idle:
            self._active.pop(job_id, None)
            self._idle.notify_all()

    def _cancelled(self, job_id: int) -> bool:
        with self._lock:
            active = self._active.get(job_id)
        return active is None or active.cancel.is_set()

    def _stop_if_cancelled(self, job_id: int) -> bool:
        if not self._cancelled(job_id):
            return False
        self._settle(job_id)
        if not self._stopping.is_set():
            job = self.history.get_job(job_id, with_records=False)
            if job and not job.finished:
                self._commit(job_id, state="cancelled")
        return True

    # ---- step 1: hash --------------------------------------------------------------------------
    def _start_hashing(self, job_id: int, kind: str, path: str, *, register: bool = True) -> None:
        if register:
            with self._lock:
                self._active[job_id] = _Active(kind, path)
        self._run(self._hash_pool, job_id, self._hash_step)

    def _hash_step(self, job_id: int) -> None:
        from integritas_gui.core.hashing import hash_file

        if self._stop_if_cancelled(job_id):
            return
        job = self._commit(job_id, state="hashing", error=None, error_kind=None)
        reference = reference_for(self.history, job.path) if job.kind == "verify" else None
        segment_size = reference["segment_size"] if reference else self.segment_size
        with self._lock:
            active = self._active.get(job_id)
        if active is None:
            return
        cancel = active.cancel

        def progress(done: int, total: int) -> None:
            self._emit(JobUpdate(job_id, job.kind, job.path, "hashing", done, total))

        try:
            digest = known_digest(self.history, job, reference) if job.options.get("report") else None
            if digest is None:
                digest = hash_file(job.path, segment_size=segment_size, progress=progress, cancel=cancel)
        except Cancelled:
            self._stop_if_cancelled(job_id)
            return
        except FileProblem as exc:
            self._settle(job_id)
            self._commit(job_id, state="failed", error=exc.message, error_kind=exc.kind)
            return
        skip = job.options.get("skip_if_stamped")
        with self._skip_lock if skip else contextlib.nullcontext():  # two copies hashed at once: one is sent
            self.history.save_digest(job_id, digest)
            earlier = self._stamped_before(job, digest.sha3_256) if skip else None
        if earlier is not None:
            self._settle(job_id)
            self._commit(job_id, state="cancelled", outcome="already stamped",
                         error=f"Not sent again: the same content was stamped as “{earlier.name}” "
                               f"(job {earlier.id}).")
            return
        if reference:
            self.history.update(job_id, receipt_check=compare_with_reference(reference, digest))
        self._emit(JobUpdate.of(self.history.get_job(job_id, with_records=False)))
        self._submit(job_id)

    def _stamped_before(self, job: Job, sha3: str) -> Job | None:
        return next((j for j in self.history.stamps_of_hash(sha3)
                     if j.id != job.id and j.state not in ("failed", "cancelled")), None)

    # ---- step 2: submit ------------------------------------------------------------------------
    def _submit(self, job_id: int) -> None:
        self._run(self._net_pool, job_id, self._submit_step)

    def _submit_step(self, job_id: int) -> None:
        from integritas_gui.core.client import ServiceError

        if self._stop_if_cancelled(job_id):
            return
        job = self.history.get_job(job_id, with_records=False)
        job = self._commit(job_id, known=job, state="submitting", attempts=job.attempts + 1)
        try:
            if job.kind == "stamp":
                self._stamp(job)
            elif job.kind == "check":
                result = self.client.check(job.sha3_256)
                self._settle(job_id)
                self._commit(job_id, known=job, state="done", outcome=result.status.replace("_", " "),
                             response={"message": result.message})
            else:
                self._verify(job)
        except ServiceError as exc:
            self._service_failed(job, exc, retry_action="submit")

    def _service_failed(self, job: Job, exc: Any, *, retry_action: str) -> None:
        """Rate limits are waited out; everything else the client already retried is final."""
        if exc.kind == "rate_limited" and not self._stopping.is_set():
            delay = exc.retry_after if exc.retry_after is not None else 5.0
            self._commit(job.id, state="hashed" if retry_action == "submit" else job.state,
                         error=f"Waiting {delay:.0f} s: the service's rate limit was reached.",
                         error_kind=exc.kind)
            self._schedule(job.id, retry_action, delay)
            return
        self._settle(job.id)
        self._commit(job.id, state="failed", error=exc.message, error_kind=exc.kind)

    def _stamp(self, job: Job) -> None:
        result = self.client.stamp(job.sha3_256)
        response = {"message": result.message, "request_id": result.request_id,
                    "newly_anchored": result.newly_anchored}
        if result.newly_anchored:
            job = self._commit(job.id, known=job, state="pending", submitted_at=utc_now(),
                               response=response, error=None, error_kind=None)
            self._follow(job)
            return
        # Already on chain: the service answered with what it knows.
        records = result.verification.records if result.verification else ()
        response["already_on_chain"] = True
        if self._confirm(job, records, response=response, submitted_at=utc_now()):
            return
        job = self._commit(job.id, known=job, state="pending", submitted_at=utc_now(), response=response,
                           error=AWAITING_BLOCK_TEXT, error_kind=AWAITING_BLOCK)
        self._schedule(job.id, "poll", self.confirm.interval)

    def _verify(self, job: Job) -> None:
        details = job.options.get("send_file_details") and job.path
        result = self.client.verify(
            job.sha3_256,
            filename=job.name if details else None,
            filesize=job.size if details else None,
            report=bool(job.options.get("report")),
        )
        self.history.add_records(job.id, result.records)
        changes: dict[str, Any] = {
            "response": {
                "message": result.message,
                "unique_hashes": result.unique_hashes,
                "nft_coin_id": result.nft_coin_id,
                "nft_txn_id": result.nft_txn_id,
                "segments": [
                    {"offset": s.offset, "packet_size": s.packet_size, "matched_hash": s.matched_hash}
                    for s in result.segments
                ],
                "report_file_name": result.report.file_name if result.report else None,
            },
        }
        newest = max(result.records, key=lambda r: r.block_number or 0, default=None)
        if newest is not None:
            changes.update(block_number=newest.block_number, block_date=newest.block_date)
        if result.report is not None:
            changes.update(self._download_report(result.report))
        elif job.options.get("report"):
            changes.update(error=NO_REPORT_LINK, error_kind="report")
        self._settle(job.id)
        self._commit(job.id, known=job, state="done", outcome=result.result, **changes)

    def _download_report(self, link: Any) -> dict[str, Any]:
        from integritas_gui.core.client import ServiceError

        if self.reports_dir is None:
            return {}
        try:
            saved = self.client.download_report(link, self.reports_dir)
        except ServiceError as exc:
            return {"error": f"Verified, but the PDF report could not be saved: {exc.message}",
                    "error_kind": "report"}
        return {"report_path": str(saved)}

    # ---- the scheduler thread ------------------------------------------------------------------
    def _schedule(self, job_id: int, action: str, delay: float) -> None:
        """Run ``action`` after ``delay`` s: "submit", "recheck" or "poll" a job, or "follow" (a round of the
        follow-up keyed ``job_id``, see _follow)."""
        if action in ("submit", "recheck"):  # a deferred send is still work: wait_idle waits for it
            with self._lock:
                self._busy += 1
        with self._timer_wake:
            heapq.heappush(self._timed, (time.monotonic() + delay, next(self._seq), job_id, action))
            self._timer_wake.notify()

    def _run_timer(self) -> None:
        steps = {"poll": self._poll_step, "submit": self._submit_step, "follow": self._follow_step,
                 "recheck": self._recheck_step}
        while not self._stopping.is_set():
            with self._timer_wake:
                if not self._timed:
                    self._timer_wake.wait(1.0)
                    continue
                due, _, job_id, action = self._timed[0]
                wait = due - time.monotonic()
                if wait > 0:
                    self._timer_wake.wait(min(wait, 1.0))
                    continue
                heapq.heappop(self._timed)
            self._run(self._net_pool, job_id, steps[action], counted=action in ("submit", "recheck"))
