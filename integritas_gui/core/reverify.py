"""Re-verify: does every stamped file still match what was stamped?

For each file the history holds a confirmed or pending stamp of (its newest one), the file is
re-hashed and compared with its receipt (the sidecar next to it when it belongs to that stamp,
else the receipt the history rebuilds: every segment hash), or with the stamped SHA3-256 when no
segment hashes were recorded. A quick check trusts a file whose size, modification and
status-change times are those recorded when it was hashed, and reads nothing.

No Qt: the window runs it on a worker thread, the CLI (``integritas reverify``) in its own.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from integritas_gui.core.errors import Cancelled, IntegritasError
from integritas_gui.core.model import Job

STATUSES = ("match", "changed", "missing", "moved", "unreadable")
MOVED_CANDIDATES = 50  # files of the right size hashed while looking for a moved one

ProgressFn = Callable[[int, int], None]  # (files done, files in all)


@dataclass(frozen=True)
class FileCheck:
    job_id: int
    name: str
    path: str
    status: str  # one of STATUSES
    message: str
    sha3_256: str = ""  # what was stamped
    changed_ranges: tuple[tuple[int, int], ...] = ()  # (offset, length) of changed bytes
    new_path: str | None = None  # where a moved file is now
    quick: bool = False  # judged by size and times alone, nothing read

    @property
    def matches(self) -> bool:
        return self.status == "match"


def _receipt_of(history: Any, job: Job) -> Any | None:
    from integritas_gui.core.job_receipts import receipt_for_job
    from integritas_gui.core.receipts import read_receipt

    if job.receipt_path and os.path.isfile(job.receipt_path):
        try:
            receipt = read_receipt(job.receipt_path)
            if receipt.sha3_256 == job.sha3_256:
                return receipt
        except IntegritasError:
            pass
    try:
        return receipt_for_job(history, job.id)
    except IntegritasError:  # no segment hashes recorded (e.g. an imported entry)
        return None


def _find_moved(job: Job, cancel: threading.Event | None) -> str | None:
    """The file under another name in its folder, or next to its receipt: same size, same SHA3-256."""
    from integritas_gui.core.hashing import hash_file

    folders = [Path(job.path).parent]
    if job.receipt_path:
        folders.append(Path(job.receipt_path).parent)
    tried = 0
    for folder in dict.fromkeys(folders):
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            try:
                if not entry.is_file() or entry.stat().st_size != job.size:
                    continue
            except OSError:
                continue
            tried += 1
            if tried > MOVED_CANDIDATES:
                return None
            try:
                if hash_file(entry.path, cancel=cancel).sha3_256 == job.sha3_256:
                    return entry.path
            except Cancelled:
                raise
            except IntegritasError:
                continue
    return None


def _unchanged_on_disk(job: Job) -> bool:
    """Size, modification and status-change time are those recorded when the file was hashed."""
    if job.size is None or job.mtime_ns is None or job.ctime_ns is None:
        return False
    try:
        st = os.stat(job.path)
    except OSError:
        return False
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns) == (job.size, job.mtime_ns, job.ctime_ns)


def check_file(history: Any, job: Job, *, quick: bool = False,
               cancel: threading.Event | None = None) -> FileCheck:
    """Does the file at the stamp's path still match what was stamped?"""
    from integritas_gui.core.hashing import hash_file
    from integritas_gui.core.receipt_verify import verify_file_against_receipt

    base = dict(job_id=job.id, name=job.display_name, path=job.path, sha3_256=job.sha3_256 or "")
    if quick and _unchanged_on_disk(job):
        return FileCheck(status="match", quick=True, message=(
            "Unchanged since it was stamped: the same size and times (quick check, not re-read)."), **base)
    receipt = _receipt_of(history, job)
    ranges: tuple[tuple[int, int], ...] = ()
    if receipt is not None:
        check = verify_file_against_receipt(job.path, receipt, cancel=cancel)
        status, message = check.status, check.message
        ranges = tuple(check.changed_ranges)
    elif not os.path.exists(job.path):
        status, message = "missing", f"The file is not there any more: {job.path}"
    else:
        try:
            same = hash_file(job.path, cancel=cancel).sha3_256 == job.sha3_256
        except Cancelled:
            raise
        except IntegritasError as exc:
            return FileCheck(status="unreadable", message=exc.message, **base)
        status = "match" if same else "changed"
        message = ("The file still has the SHA3-256 that was stamped." if same else
                   "The file's SHA3-256 differs from the one that was stamped: it has changed.")
    if status == "missing":
        moved = _find_moved(job, cancel)
        if moved:
            return FileCheck(status="moved", new_path=moved,
                             message=f"The file was moved or renamed; it is unchanged at {moved}", **base)
    return FileCheck(status=status, message=message, changed_ranges=ranges, **base)


def reverify(history: Any, folders: Sequence[str] = (), *, quick: bool = False,
             cancel: threading.Event | None = None, progress: ProgressFn | None = None) -> Iterator[FileCheck]:
    """A ``FileCheck`` per stamped file (within ``folders`` when given), newest stamp first.

    ``progress(done, total)`` after each file; ``Cancelled`` once ``cancel`` is set.
    """
    jobs = list(history.stamped_files(folders))
    if progress is not None:
        progress(0, len(jobs))
    for done, job in enumerate(jobs, start=1):
        if cancel is not None and cancel.is_set():
            raise Cancelled("Re-verification cancelled.")
        yield check_file(history, job, quick=quick, cancel=cancel)
        if progress is not None:
            progress(done, len(jobs))


__all__ = ["FileCheck", "STATUSES", "check_file", "reverify"]
