"""Verifying a file against its receipt: re-hash it with the receipt's segment size and say which byte
ranges changed. "match" only when the SHA3-256 is exactly the one in the receipt."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from integritas_gui.core.errors import Cancelled, FileChanged, FileProblem
from integritas_gui.core.hashing import hash_file
from integritas_gui.core.receipts import Receipt, normalise_hex, segment_length


@dataclass(frozen=True)
class ReceiptCheck:
    status: str  # "match" | "changed" | "missing" | "unreadable"
    changed_segments: tuple[tuple[int, int, int], ...] = ()  # (index, offset, length)
    size_now: int | None = None
    size_then: int = 0
    sha3_now: str | None = None
    message: str = ""
    segment_size: int = 0

    @property
    def is_match(self) -> bool:
        return self.status == "match"

    @property
    def changed_ranges(self) -> list[tuple[int, int]]:
        """Changed segments merged into (offset, length) byte ranges."""
        return merge_changed_segments(self.changed_segments)


def merge_changed_segments(changed: Iterable[tuple[int, int, int]]) -> list[tuple[int, int]]:
    """Merge (index, offset, length) segments that touch into (offset, length) byte ranges."""
    ranges: list[list[int]] = []
    for _index, offset, length in sorted(changed, key=lambda item: item[1]):
        if ranges and offset <= ranges[-1][0] + ranges[-1][1]:
            end = max(ranges[-1][0] + ranges[-1][1], offset + length)
            ranges[-1][1] = end - ranges[-1][0]
        else:
            ranges.append([offset, length])
    return [(offset, length) for offset, length in ranges]


def describe_range(offset: int, length: int) -> str:
    """'bytes 65,536 to 131,071 (64 KiB)': inclusive, as people read it."""
    if length <= 0:
        return f"from byte {offset:,} (nothing left)"
    return f"bytes {offset:,} to {offset + length - 1:,} ({human_size(length)})"


def human_size(size: int) -> str:
    from integritas_gui.core.display import format_size

    return format_size(size)


def compare_segments(receipt: Receipt, digest: Any) -> tuple[tuple[int, int, int], ...]:
    """The segments that differ between a receipt and a digest made with the same segment size."""
    size_then, size_now = receipt.size, int(digest.size)
    then, now = receipt.segments, tuple(normalise_hex(s) for s in digest.segments)
    step = receipt.segment_size
    changed = []
    for index in range(max(len(then), len(now))):
        before = then[index] if index < len(then) else None
        after = now[index] if index < len(now) else None
        if before != after:
            length = max(segment_length(size_then, step, index), segment_length(size_now, step, index))
            changed.append((index, index * step, length))
    return tuple(changed)


def verify_file_against_receipt(
    path: str | os.PathLike,
    receipt: Receipt,
    *,
    progress: Callable[[int, int], None] | None = None,
    cancel: threading.Event | None = None,
) -> ReceiptCheck:
    """Re-hash ``path`` with the receipt's segment size and say what, if anything, changed.

    "match" only when SHA3-256, BLAKE3, size and every segment are exactly those of the receipt.
    ``Cancelled`` propagates; every other problem is a status with a plain message.
    """
    base = dict(size_then=receipt.size, segment_size=receipt.segment_size)
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        return ReceiptCheck(status="missing", message=f"The file is not there any more: {path}", **base)
    try:
        digest = hash_file(path, segment_size=receipt.segment_size, progress=progress, cancel=cancel)
    except Cancelled:
        raise
    except FileChanged as exc:
        return ReceiptCheck(
            status="unreadable",
            message=f"The file changed while it was being checked; try again when it is finished. ({exc.message})",
            **base,
        )
    except FileProblem as exc:
        if not path.exists():
            return ReceiptCheck(status="missing", message=f"The file is not there any more: {path}", **base)
        return ReceiptCheck(status="unreadable", message=exc.message, **base)

    sha3_now = normalise_hex(digest.sha3_256)
    changed = compare_segments(receipt, digest)
    result = dict(size_now=int(digest.size), sha3_now=sha3_now, changed_segments=changed, **base)
    if (
        sha3_now == receipt.sha3_256
        and normalise_hex(digest.blake3) == receipt.blake3
        and digest.size == receipt.size
        and not changed
    ):
        return ReceiptCheck(
            status="match",
            message=(
                f"The file matches its receipt: the same {human_size(receipt.size)}, the same SHA3-256 "
                f"and all {receipt.segment_count} segment hashes."
            ),
            **result,
        )
    return ReceiptCheck(status="changed", message=_changed_message(receipt, digest, changed, sha3_now), **result)


def _changed_message(receipt: Receipt, digest: Any, changed: Sequence[tuple[int, int, int]], sha3_now: str) -> str:
    parts = ["The file has changed since its receipt was made"]
    if digest.size != receipt.size:
        verb = "grew" if digest.size > receipt.size else "shrank"
        parts[0] += f"; it {verb} from {receipt.size:,} to {int(digest.size):,} bytes"
    parts[0] += "."
    if changed:
        ranges = merge_changed_segments(changed)
        total = max(receipt.segment_count, len(digest.segments))
        shown = ", ".join(describe_range(offset, length) for offset, length in ranges[:5])
        more = f" and {len(ranges) - 5} more ranges" if len(ranges) > 5 else ""
        parts.append(f"{len(changed)} of {total} segments differ: {shown}{more}.")
    elif sha3_now != receipt.sha3_256:
        parts.append("Its SHA3-256 differs although no segment hash does: the receipt itself may have been edited.")
    else:
        parts.append("Its BLAKE3 hash differs from the receipt's: the receipt itself may have been edited.")
    return " ".join(parts)


__all__ = [
    "ReceiptCheck", "verify_file_against_receipt", "merge_changed_segments", "compare_segments",
    "describe_range", "human_size",
]
