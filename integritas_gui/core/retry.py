"""Retry timing for the Integritas client: backoff, Retry-After, and the shared rate-limit gate.

No HTTP here, so every rule is testable with a fake clock and a fake sleep.
"""

from __future__ import annotations

import email.utils
import random
import threading
import time
from collections.abc import Callable, Mapping

# HTTP statuses that are safe to repeat: the service did not do the work, or asks us to come back.
RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})

# Beyond this we stop waiting inside the client and hand the wait to the caller (retry_after).
MAX_HONOURED_WAIT = 120.0


def backoff_delay(attempt: int, *, base: float, cap: float, rng: random.Random) -> float:
    """Capped exponential backoff with full jitter: uniform(0, min(cap, base * 2**attempt))."""
    ceiling = min(cap, base * (2 ** min(attempt, 30)))
    return rng.uniform(0.0, ceiling)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta seconds or an HTTP date); None if unusable."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        if when.tzinfo is None:  # HTTP dates are GMT
            import datetime as _dt

            when = when.replace(tzinfo=_dt.timezone.utc)
        seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


class RateLimitGate:
    """Shared across threads: when the service says no requests remain, everyone waits for the reset."""

    def __init__(self, *, clock: Callable[[], float] = time.time):
        self._clock = clock
        self._lock = threading.Lock()
        self._open_at = 0.0  # wall-clock time before which no request should be sent

    def wait_time(self) -> float:
        with self._lock:
            return max(0.0, self._open_at - self._clock())

    def close_until(self, when: float) -> None:
        with self._lock:
            self._open_at = max(self._open_at, min(when, self._clock() + MAX_HONOURED_WAIT))

    def observe(self, headers: Mapping[str, str]) -> None:
        """Read X-RateLimit-Remaining / X-RateLimit-Reset from any response."""
        remaining = headers.get("x-ratelimit-remaining")
        reset = headers.get("x-ratelimit-reset")
        if remaining is None or reset is None:
            return
        try:
            remaining_count = int(float(remaining))
            reset_value = float(reset)
        except ValueError:
            return
        if remaining_count > 0 or reset_value != reset_value:
            return
        now = self._clock()
        # Documented as Unix time; small values are taken as "seconds from now" (some APIs do that).
        reset_at = reset_value if reset_value > 1_000_000_000 else now + reset_value
        if reset_at > now:
            self.close_until(reset_at)
