"""Every fault of the service, injected by the real sandbox, and what the real client does with it.

The sandbox's /_sandbox/stats counters prove how many requests reached it and what they changed.
"""

from __future__ import annotations

import time

import httpx
import pytest

from integritas_gui.core.client import ServiceError
from integritas_gui.core.retry import MAX_HONOURED_WAIT
from tests.contract.contract_helpers import RecordingSleep, new_hash, stats
from tests.sandbox_fixture import closed_port, fast_client, running_sandbox

BACKOFF_MAX = 0.05  # fast_client's cap


def fail(call, *args, **kwargs) -> ServiceError:
    with pytest.raises(ServiceError) as caught:
        call(*args, **kwargs)
    error = caught.value
    assert error.message and "Traceback" not in error.message and "<" not in error.message
    return error


# ---- gateway errors: retried with capped, jittered backoff ---------------------------------------


@pytest.mark.parametrize("fault, status", [("503-html", 503), ("502", 502)])
def test_gateway_error_once_is_retried_and_succeeds(sandbox, make_client, fault, status):
    sleeps = RecordingSleep()
    client = make_client(fault=f"{fault}; times=1", sleep=sleeps)
    digest = new_hash()
    assert client.stamp(digest).newly_anchored
    counters = stats(sandbox)
    assert (counters["requests"], counters["faults_injected"], counters["submissions"]) == (2, 1, 1)
    assert len(sleeps.calls) == 1 and 0 <= sleeps.calls[0] <= BACKOFF_MAX


@pytest.mark.parametrize("fault, status", [("503-html", 503), ("502", 502)])
def test_gateway_error_that_persists_becomes_unavailable_after_the_retries(sandbox, make_client,
                                                                          fault, status):
    sleeps = RecordingSleep()
    client = make_client(fault=fault, max_retries=3, sleep=sleeps)
    error = fail(client.check, new_hash())
    assert (error.kind, error.status, error.retryable) == ("unavailable", status, True)
    assert "Try again later" in error.message and "nginx" not in error.message
    counters = stats(sandbox)
    assert (counters["requests"], counters["checks"]) == (4, 0)
    assert len(sleeps.calls) == 3 and all(0 <= s <= BACKOFF_MAX for s in sleeps.calls)


def test_backoff_grows_exponentially_up_to_the_cap(sandbox, make_client):
    # Full jitter: attempt n waits uniform(0, min(cap, base * 2**n)); a fixed rng makes it exact.
    import random

    sleeps = RecordingSleep(real=False)
    client = make_client(fault="503-html", max_retries=6, sleep=sleeps, backoff_base=0.1,
                         backoff_max=1.0, rng=random.Random(7))
    fail(client.check, new_hash())
    expected_rng = random.Random(7)
    ceilings = [min(1.0, 0.1 * 2 ** n) for n in range(6)]
    assert sleeps.calls == [expected_rng.uniform(0, c) for c in ceilings]
    assert stats(sandbox)["requests"] == 7


# ---- rate limits ----------------------------------------------------------------------------------


def test_429_retry_after_seconds_is_honoured(sandbox, make_client):
    sleeps = RecordingSleep()
    client = make_client(fault="429:1; times=1", sleep=sleeps)
    started = time.monotonic()
    assert client.check(new_hash()).status == "not_found"
    assert time.monotonic() - started >= 1.0
    assert sleeps.calls == [pytest.approx(1.0, abs=0.05)]
    counters = stats(sandbox)
    assert (counters["requests"], counters["faults_injected"], counters["checks"]) == (2, 1, 1)


def test_429_retry_after_http_date_is_honoured(sandbox, make_client):
    sleeps = RecordingSleep(real=False)
    client = make_client(fault="429:date+3; times=1", sleep=sleeps)
    assert client.stamp(new_hash()).newly_anchored
    [waited] = sleeps.calls
    assert 1.5 < waited <= 3.0  # an HTTP date has whole seconds
    assert stats(sandbox)["submissions"] == 1


def test_429_with_a_wait_too_long_to_block_is_handed_to_the_caller(sandbox, make_client):
    sleeps = RecordingSleep(real=False)
    client = make_client(fault="429:900", sleep=sleeps)
    error = fail(client.stamp, new_hash())
    assert (error.kind, error.status, error.retry_after) == ("rate_limited", 429, 900.0)
    assert "900 s" in error.message and error.retryable
    assert sleeps.calls == [] and stats(sandbox)["requests"] == 1
    assert 900 > MAX_HONOURED_WAIT


def start_of_a_window(window: float) -> None:
    """Sleep until just after a rate-limit window boundary if the current window is nearly over."""
    into = time.time() % window
    if into > window / 2:
        time.sleep(window - into + 0.02)


def test_rate_limited_service_429_is_waited_out_once(make_client):
    """Another client used up the window; ours gets a real 429 with headers, waits, and succeeds."""
    with running_sandbox(rate_limit="2/2") as limited:
        start_of_a_window(2)
        with httpx.Client(trust_env=False) as other:
            answers = [other.post(limited.base_url + "/v2/file/check", json={"hash": new_hash()},
                                  headers={"x-api-key": limited.api_key}) for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 429]
        refused = answers[-1]
        assert refused.json()["status"] == "error" and refused.json()["statusCode"] == 429
        assert refused.headers["x-ratelimit-limit"] == "2"
        assert refused.headers["x-ratelimit-remaining"] == "0"
        assert int(refused.headers["x-ratelimit-reset"]) % 2 == 0
        sleeps = RecordingSleep()
        with fast_client(limited.base_url, limited.api_key, sleep=sleeps) as client:
            assert client.check(new_hash()).status == "not_found"
        counters = stats(limited)
        assert (counters["rate_limited"], counters["checks"]) == (2, 3)
        [waited] = sleeps.calls  # the Retry-After it was given (whole seconds), then success
        assert waited == pytest.approx(round(waited), abs=0.05) and 1 <= round(waited) <= 2


def test_x_ratelimit_remaining_zero_makes_the_client_wait_before_a_429(make_client):
    with running_sandbox(rate_limit="3/1") as limited:
        sleeps = RecordingSleep()
        with fast_client(limited.base_url, limited.api_key, sleep=sleeps) as client:
            for _ in range(7):
                assert client.check(new_hash()).status == "not_found"
        counters = stats(limited)
        assert counters["checks"] == 7
        assert counters["rate_limited"] == 0  # the X-RateLimit-* headers kept it under the limit
        assert sleeps.calls and all(0 < s <= 2 for s in sleeps.calls)


# ---- slow answers and timeouts ---------------------------------------------------------------------


def test_slow_check_times_out_and_is_retried(sandbox, make_client):
    client = make_client(fault="slow:1.5; times=1", timeout=0.3)
    started = time.monotonic()
    assert client.check(new_hash()).status == "not_found"
    assert time.monotonic() - started < 1.4  # did not wait for the slow answer
    counters = stats(sandbox)
    assert (counters["requests"], counters["checks"]) == (2, 2)  # the slow one was carried out


def test_slow_stamp_lost_in_flight_is_stamped_again_as_with_the_real_service():
    with running_sandbox(block_time=30) as server:  # both submissions wait for the same block
        with fast_client(server.base_url, server.api_key, timeout=0.3,
                         extra_headers={"x-sandbox-fault": "slow:1.5; times=1"}) as client:
            assert client.stamp(new_hash()).newly_anchored
        counters = stats(server)
        assert (counters["requests"], counters["submissions"], counters["pending"]) == (2, 2, 2)


def test_timeouts_that_persist_become_a_timeout_error(sandbox, make_client):
    client = make_client(fault="slow:3", timeout=0.2, max_retries=2)
    error = fail(client.check, new_hash())
    assert (error.kind, error.status, error.retryable) == ("timeout", None, True)
    assert "did not answer in time" in error.message and "Try again later" in error.message
    assert stats(sandbox)["requests"] == 3


def test_slow_verify_is_waited_for_with_the_long_read_timeout(sandbox, make_client):
    client = make_client(fault="slow:0.8", timeout=0.3, verify_timeout=5)
    result = client.verify(new_hash())
    assert result.result == "no match"
    assert stats(sandbox)["requests"] == 1 and stats(sandbox)["verifications"] == 1


# ---- bodies that are not the documented JSON ---------------------------------------------------


@pytest.mark.parametrize("fault", ["truncated-json", "empty-200", "html-200"])
def test_unreadable_success_is_malformed_and_not_retried(sandbox, make_client, fault):
    client = make_client(fault=fault)
    error = fail(client.stamp, new_hash())
    assert (error.kind, error.status) == ("malformed", 200)
    assert "cannot read" in error.message and not error.retryable
    assert stats(sandbox)["requests"] == 1


def test_a_failed_minima_node_command_is_an_error_not_a_pending_stamp(sandbox, make_client):
    client = make_client(fault="node-failed")
    error = fail(client.stamp, new_hash())
    assert error.kind == "unavailable" and "nothing was anchored" in error.message
    counters = stats(sandbox)
    assert (counters["requests"], counters["submissions"], counters["pending"]) == (1, 0, 0)


# ---- connection problems ----------------------------------------------------------------------------


def test_connection_reset_once_is_retried_and_stamps_once(sandbox, make_client):
    client = make_client(fault="reset; times=1")
    assert client.stamp(new_hash()).newly_anchored
    counters = stats(sandbox)
    assert (counters["requests"], counters["submissions"]) == (2, 1)


def test_connection_resets_that_persist_become_a_network_error(sandbox, make_client):
    client = make_client(fault="reset", max_retries=2)
    error = fail(client.check, new_hash())
    assert (error.kind, error.retryable) == ("network", True)
    assert "interrupted" in error.message
    assert stats(sandbox)["requests"] == 3 and stats(sandbox)["checks"] == 0


def test_service_not_listening_is_a_network_error_after_the_retries():
    port = closed_port()
    sleeps = RecordingSleep()
    with fast_client(f"http://127.0.0.1:{port}/core", "k", max_retries=2, sleep=sleeps) as client:
        error = fail(client.stamp, new_hash())
    assert error.kind == "network"
    assert "Could not connect to the sandbox on this computer" in error.message
    assert "sandbox is running" in error.message
    assert len(sleeps.calls) == 2


# ---- refusals: never retried -------------------------------------------------------------------------


def test_wrong_api_key_is_auth_and_not_retried(sandbox, make_client):
    sleeps = RecordingSleep()
    client = make_client(api_key="wrong-key-abc", sleep=sleeps)
    error = fail(client.stamp, new_hash())
    assert (error.kind, error.status, error.retryable) == ("auth", 401, False)
    assert "API key" in error.message and "wrong-key-abc" not in error.message
    counters = stats(sandbox)
    assert (counters["requests"], counters["auth_failures"], counters["submissions"]) == (1, 1, 0)
    assert sleeps.calls == []


def test_missing_api_key_is_auth(sandbox, make_client):
    error = fail(make_client(api_key=None).check, new_hash())
    assert (error.kind, error.status) == ("auth", 401)
    assert stats(sandbox)["auth_failures"] == 1


def test_plan_limit_is_402_and_not_retried(make_client):
    with running_sandbox(quota=1) as limited:
        sleeps = RecordingSleep()
        with fast_client(limited.base_url, limited.api_key, sleep=sleeps) as client:
            assert client.stamp(new_hash()).newly_anchored
            error = fail(client.stamp, new_hash())
            assert client.check(new_hash()).status == "not_found"  # only stamps count
        assert (error.kind, error.status, error.retryable) == ("plan_limit", 402, False)
        assert "Upgrade the plan" in error.message
        counters = stats(limited)
        assert (counters["submissions"], counters["quota_refused"], counters["requests"]) == (1, 1, 3)
        assert sleeps.calls == []


@pytest.mark.parametrize("status, kind", [(400, "bad_request"), (401, "auth"), (402, "plan_limit"),
                                          (403, "auth")])
def test_client_errors_are_never_retried(sandbox, make_client, status, kind):
    sleeps = RecordingSleep()
    client = make_client(fault=f"status:{status}", sleep=sleeps, max_retries=5)
    error = fail(client.verify, new_hash())
    assert (error.kind, error.status, error.retryable) == (kind, status, False)
    assert stats(sandbox)["requests"] == 1 and sleeps.calls == []


def test_a_base_url_without_core_says_to_check_the_address(sandbox, make_client):
    client = make_client(base_url=sandbox.origin)  # forgot the /core
    error = fail(client.check, new_hash())
    assert (error.kind, error.status) == ("bad_request", 404)
    assert "Check the service address" in error.message
    assert stats(sandbox)["checks"] == 0


def test_random_faults_are_all_absorbed_by_retries(make_client):
    with running_sandbox(fault_rate=0.4, seed=3) as flaky:
        with fast_client(flaky.base_url, flaky.api_key, max_retries=8) as client:
            digests = [new_hash() for _ in range(10)]
            assert all(client.stamp(d).newly_anchored for d in digests)
        counters = stats(flaky)
        assert counters["faults_injected"] > 0
        assert counters["submissions"] == 10  # faults left the ledger unchanged
        assert counters["requests"] == 10 + counters["faults_injected"]
