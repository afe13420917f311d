"""Plain words for a job's state, shared by the queue table, the detail panel and the status bar.

No widgets here: every function takes plain values and returns text, so they are easy to test.
"""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import QCoreApplication

from integritas_gui.core.display import format_local, format_size, parse_service_time

# States a job can be in (see docs/architecture.md, core.history).
ACTIVE_STATES = frozenset({"queued", "hashing", "hashed", "submitting", "pending"})
FINISHED_STATES = frozenset({"confirmed", "done", "cancelled", "failed"})
PAST_HASHING = frozenset({"hashed", "submitting", "pending", "confirmed", "done"})

# Result words with a symbol, so a result never depends on colour alone.
OUTCOME_SYMBOLS = {
    "full match": "\u2714",  # check mark
    "partial match": "\u25d0",  # half-filled circle
    "no match": "\u2718",  # cross
    "found": "\u2714",
    "not found": "\u2718",
    "unknown": "?",
}


_translated: dict[str, str] = {}


def tr(text: str) -> str:
    """The text in the user's language. The queue asks for the same few words thousands of times
    a second and translators are installed once at start-up, so each answer is kept."""
    found = _translated.get(text)
    if found is None:
        found = _translated[text] = QCoreApplication.translate("status", text)
    return found


def human_size(num_bytes: int | None) -> str:
    return format_size(num_bytes)


def human_duration(seconds: float) -> str:
    """0:07, 1:05, 1:02:03."""
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{minutes}:{secs:02d}"


def parse_utc(iso: str | None) -> datetime | None:
    """A date from the service or the history as an aware UTC datetime (no zone means UTC), or None."""
    return parse_service_time(iso)


def local_time(iso: str | None, *, now: datetime | None = None, with_date: bool | None = None) -> str:
    """The block date in the user's local time: "14:03:22" today, "2026-01-21 14:03:22" otherwise."""
    return format_local(iso, with_date=with_date, now=now) if parse_service_time(iso) else ""


def block_text(block_number: int | None) -> str:
    return f"{block_number:,}" if block_number is not None else ""


def outcome_text(outcome: str | None) -> str:
    words = {
        "full match": tr("Full match"),
        "partial match": tr("Partial match"),
        "no match": tr("No match"),
        "found": tr("Found on chain"),
        "not found": tr("Not found on chain"),
    }
    key = outcome or "unknown"
    return f"{OUTCOME_SYMBOLS.get(key, '?')} {words.get(key, tr('Unknown answer from the service'))}"


def status_text(
    kind: str,
    state: str,
    *,
    bytes_done: int = 0,
    bytes_total: int = 0,
    outcome: str | None = None,
    error: str | None = None,
    block_number: int | None = None,
    block_date: str | None = None,
    pending_seconds: float | None = None,
    error_kind: str | None = None,
) -> str:
    if state == "queued":
        return tr("Waiting")
    if state == "hashing":
        percent = int(100 * bytes_done / bytes_total) if bytes_total else 0
        return tr("Hashing {percent}%").format(percent=min(percent, 100))
    if state == "hashed":
        return tr("Hashed")
    if state == "submitting":
        return {
            "stamp": tr("Sending to Integritas\u2026"),
            "verify": tr("Verifying\u2026"),
            "check": tr("Checking\u2026"),
        }.get(kind, tr("Sending\u2026"))
    if state == "pending":
        if error_kind == "awaiting_block":  # the service has the hash; its block is not listed yet
            if pending_seconds is None:
                return tr("Found, waiting for the block details")
            return tr("Found, waiting for the block details \u00b7 {elapsed}").format(
                elapsed=human_duration(pending_seconds))
        if pending_seconds is None:
            return tr("Pending on chain")
        return tr("Pending on chain \u00b7 {elapsed}").format(elapsed=human_duration(pending_seconds))
    if state == "confirmed":
        if block_number is None:
            return tr("Confirmed")
        when = local_time(block_date)
        if when:
            return tr("Confirmed in block {block} at {time}").format(
                block=block_text(block_number), time=when
            )
        return tr("Confirmed in block {block}").format(block=block_text(block_number))
    if state == "done":
        if error:  # the answer came, but something asked with it did not (e.g. no report link)
            return f"{outcome_text(outcome)} \u00b7 {error}"
        return outcome_text(outcome)
    if state == "failed":
        return "\u2718 " + (error or tr("Failed"))
    if state == "cancelled":
        return tr("Cancelled")
    return state


def kind_text(kind: str) -> str:
    return {"stamp": tr("Stamp"), "verify": tr("Verify"), "check": tr("Check")}.get(kind, kind)
