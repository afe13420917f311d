"""Times and byte sizes as people see them: one rule for the window, the CLI, the certificate and
the history export.

Times: the service sends ISO-8601 UTC (``2026-01-21T09:55:48.726Z``); older answers send a date
without a zone (``2026-01-21 09:55:48``), which is UTC too, never the local time of this computer.
Sizes: binary units (KiB = 1,024 bytes, as segment sizes are chosen), one decimal below 100.
No Qt here.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

_EPOCH_MS_FROM = 10_000_000_000  # numbers at or above this are milliseconds since the epoch
_SIZE_UNITS = ("KiB", "MiB", "GiB", "TiB", "PiB")
_ZONE_SUFFIX = re.compile(r"(?i)(?:z|utc|gmt)$")


def parse_service_time(value: Any) -> datetime | None:
    """A date as the service (or an older file) writes it -> an aware UTC datetime, or None.

    ISO-8601 with ``Z`` or an offset; without a zone it is taken as UTC. Numbers are seconds (or
    milliseconds) since the epoch."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = value / 1000 if abs(value) >= _EPOCH_MS_FROM else value
        try:
            return datetime.fromtimestamp(seconds, timezone.utc)
        except (OverflowError, OSError, ValueError):
            return None
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        if re.fullmatch(r"\d{9,13}(?:\.\d+)?", text):
            return parse_service_time(float(text))
        zoned = _ZONE_SUFFIX.search(text)
        if zoned:
            text = text[: zoned.start()].rstrip() + "+00:00"
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return None
    else:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def iso_utc(value: Any) -> str | None:
    """A service date normalised for storage: ``2026-01-21T09:55:48.000Z`` (UTC, millisecond
    precision). Text that is not a date is kept as it came; None stays None."""
    moment = parse_service_time(value)
    if moment is None:
        return (value.strip() or None) if isinstance(value, str) else None
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def format_local(value: Any, *, with_date: bool | None = True, now: datetime | None = None) -> str:
    """The time in this computer's zone: ``2026-01-21 10:55:48``; with ``with_date=None`` the date
    is left out for today (``10:55:48``). Text that is not a date is shown as it is."""
    moment = parse_service_time(value)
    if moment is None:
        return value.strip() if isinstance(value, str) else ""
    local = moment.astimezone()
    if with_date is None:
        today = (now or datetime.now().astimezone()).astimezone(local.tzinfo).date()
        with_date = local.date() != today
    return local.strftime("%Y-%m-%d %H:%M:%S" if with_date else "%H:%M:%S")


def format_utc(value: Any, *, unknown: str = "unknown") -> str:
    """``Wed 21 Jan 2026, 09:55:48 UTC``: unambiguous, for documents that outlive this computer."""
    moment = parse_service_time(value)
    if moment is None:
        return str(value) if value else unknown
    return moment.strftime("%a %d %b %Y, %H:%M:%S UTC")


def format_size(size: Any) -> str:
    """``512 bytes``, ``64 KiB``, ``1.5 MiB``, ``8 GiB``; "" for an unknown size."""
    if size is None or isinstance(size, bool):
        return ""
    try:
        count = int(size)
    except (TypeError, ValueError):
        return ""
    if abs(count) < 1024:
        return f"{count:,} byte" + ("" if count == 1 else "s")
    value = float(count)
    for unit in _SIZE_UNITS:
        value /= 1024
        if abs(value) < 1024 or unit == _SIZE_UNITS[-1]:
            text = f"{value:,.1f}" if abs(value) < 100 else f"{value:,.0f}"
            return f"{text.removesuffix('.0')} {unit}"
    raise AssertionError("unreachable")


def format_rate(bytes_per_second: float) -> str:
    """``12.5 MiB/s``."""
    return f"{format_size(int(max(0.0, bytes_per_second)))}/s"


def format_duration(seconds: float) -> str:
    """``40 s``, ``3 min``, ``1 h 20 min`` (rounded: an estimate, not a stopwatch)."""
    seconds = max(0.0, float(seconds))
    if seconds < 59.5:
        return f"{max(1, round(seconds))} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def count_noun(count: int | None, singular: str, plural: str | None = None) -> str:
    """``1 coin``, ``3 coins``, ``1,200 entries`` (``plural`` where adding an s is wrong)."""
    if count is None:
        return f"? {plural or singular + 's'}"
    return f"{count:,} {singular if count == 1 else (plural or singular + 's')}"


__all__ = ["parse_service_time", "iso_utc", "format_local", "format_utc", "format_size", "format_rate",
           "format_duration", "count_noun"]
