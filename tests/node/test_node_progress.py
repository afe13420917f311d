"""The time left of a batch sent through a node: pure arithmetic on a fake clock."""

from __future__ import annotations

import pytest

from integritas_gui.cli_node import sending_note, unsent_jobs
from integritas_gui.core.node_progress import SendEstimator


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def send(estimator: SendEstimator, clock: FakeClock, seconds: float) -> None:
    clock.now += seconds
    estimator.sent(seconds)


def test_time_left_is_unknown_until_two_sends_were_timed():
    clock = FakeClock()
    estimator = SendEstimator(clock=clock, block_time=50.0)
    estimator.begin(10, coins=40)
    first = estimator.estimate()
    assert (first.total, first.sent, first.sending, first.seconds_left, first.per_minute) == (10, 0, 1, None, None)
    assert "time left not known yet" in sending_note(first)
    send(estimator, clock, 1.0)
    assert estimator.estimate().seconds_left is None
    send(estimator, clock, 1.4)
    estimate = estimator.estimate()
    assert estimate.per_send == pytest.approx(1.2)
    assert estimate.seconds_left == pytest.approx(8 * 1.2)  # 8 sends left, coins enough: no block to wait for
    assert estimate.block_waits == 0
    assert estimate.per_minute == pytest.approx(60 / 1.4)  # between the two answers


def test_the_average_follows_the_last_sends_only():
    clock = FakeClock()
    estimator = SendEstimator(clock=clock, window=3)
    estimator.begin(100, coins=100)
    for seconds in (10.0, 10.0, 10.0, 1.0, 1.0, 1.0):
        send(estimator, clock, seconds)
    estimate = estimator.estimate()
    assert estimate.per_send == pytest.approx(1.0)
    assert estimate.seconds_left == pytest.approx(94 * 1.0)
    assert estimate.per_minute == pytest.approx(60.0)  # three answers a second apart (after the window's first)


def test_coins_running_out_add_the_waits_for_a_block():
    clock = FakeClock()
    estimator = SendEstimator(clock=clock, block_time=50.0)
    estimator.begin(25, coins=10)
    send(estimator, clock, 1.0)
    send(estimator, clock, 1.0)
    estimate = estimator.estimate()
    # 23 sends left, 8 coins left this block: two more blocks (10 coins each) to wait for, each wait the
    # rest of a 50 s block after 10 one-second sends
    assert (estimate.left, estimate.coins_left, estimate.block_waits) == (23, 8, 2)
    assert estimate.seconds_left == pytest.approx(23 * 1.0 + 2 * 40.0)
    for _ in range(8):
        send(estimator, clock, 1.0)
    estimator.coins_ran_out()
    estimator.block_wait_started()
    clock.now += 15.0
    waiting = estimator.estimate()
    assert waiting.waiting_for_block and waiting.block_waits == 1  # the one going on is counted apart
    assert waiting.seconds_left == pytest.approx(15 * 1.0 + 1 * 40.0 + (40.0 - 15.0))
    assert "waiting for the next block" in sending_note(waiting)
    clock.now += 15.0
    estimator.block_arrived()  # a wait measured at 30 s replaces the guess
    after = estimator.estimate()
    assert (after.waiting_for_block, after.coins_left, after.block_waits) == (False, 10, 1)
    assert after.seconds_left == pytest.approx(15 * 1.0 + 30.0)


def test_files_that_need_no_send_shrink_the_batch():
    clock = FakeClock()
    estimator = SendEstimator(clock=clock)
    estimator.begin(6, coins=None)  # one file: no coins prepared, none counted
    send(estimator, clock, 2.0)
    send(estimator, clock, 2.0)
    estimate = estimator.estimate(unsent_jobs({"queued": 1, "submitting": 1, "confirmed": 3}))
    assert (estimate.total, estimate.left, estimate.sending, estimate.block_waits) == (4, 2, 3, 0)
    assert estimate.seconds_left == pytest.approx(4.0)
    assert sending_note(estimate) == "sending 3 of 4 through your node · 30/min · about 4 s left"
    assert sending_note(estimator.estimate(unsent=0)) == ""  # all sent: only the follow-up is left
