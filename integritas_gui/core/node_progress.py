"""How far a batch sent through the user's Minima node has got, and an honest time left.

A node mines each send before it answers, so sends go out one at a time; and it spends only
confirmed coins, one stamp per coin per block, so when the coins prepared for the batch are used up
the next send waits for a block. Time left is the sends left times the measured time per send (a
moving average of the last sends), plus the waits for a block still ahead. Nothing is guessed: until
two sends have been timed the time left is unknown.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable

WINDOW = 10  # sends the moving average looks back on
MIN_TIMED = 2  # sends timed before there is an estimate


@dataclass(frozen=True)
class SendEstimate:
    total: int  # sends in the batch: sent + left
    sent: int
    coins_left: int | None  # coins spendable before the next block (None: not known)
    per_send: float | None  # seconds one send takes, moving average; None until MIN_TIMED sends
    per_minute: float | None  # sends per minute lately, waits for blocks included
    block_waits: int  # waits for a block still ahead (the coins run out)
    waiting_for_block: bool
    seconds_left: float | None  # None: not known yet

    @property
    def left(self) -> int:
        return max(0, self.total - self.sent)

    @property
    def sending(self) -> int:
        """The number of the send going out now (1-based)."""
        return min(self.total, self.sent + 1)


class SendEstimator:
    """Fed by the node client (``begin``, ``sent``, ``block_wait_started``, ``block_arrived``,
    ``coins_ran_out``); read from any thread with ``estimate``."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, block_time: float = 50.0,
                 window: int = WINDOW):
        self.clock = clock
        self.block_time = float(block_time)
        self._lock = threading.Lock()
        self._durations: deque[float] = deque(maxlen=window)
        self._finished: deque[float] = deque(maxlen=window + 1)  # when the last sends came back
        self._waits: deque[float] = deque(maxlen=window)
        self._wait_started: float | None = None
        self.total = 0
        self.sent_count = 0
        self.coins_per_block: int | None = None
        self.coins_left: int | None = None

    def begin(self, total: int, coins: int | None) -> None:
        """A batch of ``total`` sends with ``coins`` coins spendable per block."""
        with self._lock:
            self.total = max(0, int(total))
            self.sent_count = 0
            self.coins_per_block = max(1, int(coins)) if coins is not None else None
            self.coins_left = self.coins_per_block

    def sent(self, seconds: float) -> None:
        """One stamp went out; the node took ``seconds`` to answer."""
        with self._lock:
            self.sent_count += 1
            self._durations.append(max(0.0, float(seconds)))
            self._finished.append(self.clock())
            if self.coins_left is not None:
                self.coins_left = max(0, self.coins_left - 1)

    def coins_ran_out(self) -> None:
        """The node said no coin is spendable before the next block."""
        with self._lock:
            if self.coins_per_block is not None:
                self.coins_left = 0

    def block_wait_started(self) -> None:
        with self._lock:
            self._wait_started = self.clock()

    def block_arrived(self) -> None:
        with self._lock:
            if self._wait_started is not None:
                self._waits.append(self.clock() - self._wait_started)
                self._wait_started = None
            self.coins_left = self.coins_per_block

    def estimate(self, unsent: int | None = None) -> SendEstimate:
        """``unsent``: the batch's jobs not sent yet, when known (fewer than planned when some files
        needed no stamp)."""
        with self._lock:
            now = self.clock()
            left = max(0, self.total - self.sent_count)
            if unsent is not None:
                left = min(left, max(0, unsent))
            timed = len(self._durations) >= MIN_TIMED
            per_send = sum(self._durations) / len(self._durations) if timed else None
            per_minute = None
            if len(self._finished) >= MIN_TIMED and self._finished[-1] > self._finished[0]:
                per_minute = 60.0 * (len(self._finished) - 1) / (self._finished[-1] - self._finished[0])
            waiting = self._wait_started is not None
            # during a wait the coming block's coins are the ones to spend; the wait itself is added below
            coins = self.coins_per_block if waiting else self.coins_left
            waits = 0
            if self.coins_per_block is not None and left > (coins or 0):
                waits = math.ceil((left - (coins or 0)) / self.coins_per_block)
            seconds = None
            if per_send is not None:
                per_wait = (sum(self._waits) / len(self._waits) if self._waits
                            else max(0.0, self.block_time - (self.coins_per_block or 0) * per_send))
                seconds = left * per_send + waits * per_wait
                if waiting:  # the wait going on now counts as far as it is left
                    seconds += max(0.0, per_wait - (now - self._wait_started))
            return SendEstimate(self.sent_count + left, self.sent_count, self.coins_left, per_send, per_minute, waits,
                                waiting, seconds)
