"""Every fault kind on every endpoint, from the CLI: the expected retry (counted by the sandbox and
the proxy) or the expected plain message and exit code; no traceback; no file lost from history."""

from __future__ import annotations


import pytest

from integritas_gui.core.report_download import REPORT_ATTEMPTS
from integritas_gui.core.hashing import hash_file
from tests.reliability.conftest import (
    SLOW_FAULT_SECONDS,
    assert_clean_logs,
    assert_history_consistent,
    make_files,
)
from tests.sandbox_fixture import closed_port, sandbox_stats, wait_for_block

RETRIES = 2
RETRYABLE = ("503-html", "502", "429", "slow", "reset")
POST_ENDPOINTS = ("stamp", "check", "verify")

# What a person reads when the fault does not go away (the client's own words, in part).
PERSISTENT_MESSAGE = {
    "503-html": "unavailable right now (HTTP 503)",
    "502": "unavailable right now (HTTP 502)",
    "slow": "did not answer in time",
    "reset": "connection to the Integritas service was interrupted",
    "truncated-json": "answer the app cannot read",
    "401": "refused the API key",
    "402": "usage limit has been reached",
    "not-listening": "Could not connect",
}
REPORT_MESSAGE = {
    "503-html": "could not be downloaded (HTTP 503)",
    "502": "could not be downloaded (HTTP 502)",
    "429": "could not be downloaded (HTTP 429)",
    "slow": "download timed out",
    "reset": "download was interrupted",
    "truncated-json": "download was interrupted",
    "401": "link has expired",
    "402": "could not be downloaded (HTTP 402)",
    "not-listening": "download was interrupted",
}
# A stamp is "pending" when sent, or "confirmed" at once when the service already has it on chain
# (after a slow answer, the first attempt's stamp may be in a block before the retry arrives).
SUCCESS = {"stamp": {("pending", None), ("confirmed", "confirmed")}, "check": {("done", "found")},
           "verify": {("done", "full match")}}


def fault_spec(fault: str, times: int | None) -> str:
    name = f"slow:{SLOW_FAULT_SECONDS}" if fault == "slow" else fault
    return name if times is None else f"{name}; times={times}"


@pytest.fixture
def target(sandbox, tmp_path):
    """One file; for check/verify/report it is already on chain (stamped straight in the sandbox)."""

    def make(endpoint: str):
        [path] = make_files(tmp_path / "in", 1, prefix=endpoint)
        if endpoint != "stamp":
            sandbox.do_stamp(hash_file(str(path)).sha3_256, "set-up")
            wait_for_block(sandbox)
        return path

    return make


def command_for(endpoint: str, path, tmp_path) -> list[str]:
    if endpoint == "stamp":
        return ["stamp", str(path)]
    if endpoint == "report":
        return ["verify", str(path), "--report", str(tmp_path / "out" / "report.pdf")]
    return [endpoint, str(path)]


def finish(data_dir, path, endpoint, err, *, failed: bool):
    kind = "verify" if endpoint == "report" else endpoint
    allowed = ("failed",) if failed else ("pending", "confirmed", "done", "failed")
    rows = assert_history_consistent(data_dir / "history.sqlite3", [path], kind, allowed=allowed)
    assert "Traceback" not in err
    assert_clean_logs(data_dir)
    return rows[str(path)][0]


@pytest.mark.parametrize("endpoint", POST_ENDPOINTS)
@pytest.mark.parametrize("fault", RETRYABLE)
def test_transient_fault_is_retried_and_the_job_succeeds(fault, endpoint, run_cli, sandbox, proxy,
                                                          target, tmp_path, data_dir):
    path = target(endpoint)
    times = 1 if fault == "slow" else 2
    before = sandbox_stats(sandbox)
    proxy.aim(endpoint, fault_spec(fault, times))
    code, lines, err = run_cli(*command_for(endpoint, path, tmp_path), base_url=proxy.base_url,
                               api_key=sandbox.api_key, retries=RETRIES)
    after = sandbox_stats(sandbox)
    assert code == 0 and (lines[0]["state"], lines[0]["outcome"]) in SUCCESS[endpoint], (lines, err)
    assert proxy.counts[endpoint] == times + 1  # the faulted attempts, then the one that worked
    assert after["faults_injected"] - before["faults_injected"] == times
    if endpoint == "stamp":
        # a slow answer is the stamp lost in flight: the service did it, the retry did it again
        assert after["submissions"] - before["submissions"] == (2 if fault == "slow" else 1)
    finish(data_dir, path, endpoint, err, failed=False)


@pytest.mark.parametrize("endpoint", POST_ENDPOINTS)
@pytest.mark.parametrize("fault", ("503-html", "502", "slow", "reset"))
def test_lasting_fault_gives_up_after_the_retries_with_a_plain_message(fault, endpoint, run_cli, sandbox,
                                                                        proxy, target, tmp_path, data_dir):
    path = target(endpoint)
    proxy.aim(endpoint, fault_spec(fault, None))
    code, lines, err = run_cli(*command_for(endpoint, path, tmp_path), base_url=proxy.base_url,
                               api_key=sandbox.api_key, retries=RETRIES)
    assert code == 3, (lines, err)
    assert lines[0]["state"] == "failed" and PERSISTENT_MESSAGE[fault] in lines[0]["error"]
    assert proxy.counts[endpoint] == RETRIES + 1
    finish(data_dir, path, endpoint, err, failed=True)


@pytest.mark.parametrize("endpoint", POST_ENDPOINTS)
def test_lasting_rate_limit_is_waited_out(endpoint, run_cli, sandbox, proxy, target, tmp_path, data_dir):
    """429 beyond the client's retries: the engine waits Retry-After and sends again, it never fails."""
    path = target(endpoint)
    retries = 0
    times = retries + 2  # the client gives up after one, the engine waits Retry-After twice
    proxy.aim(endpoint, fault_spec("429", times))
    code, lines, err = run_cli(*command_for(endpoint, path, tmp_path), base_url=proxy.base_url,
                               api_key=sandbox.api_key, retries=retries)
    assert code == 0 and (lines[0]["state"], lines[0]["outcome"]) in SUCCESS[endpoint], (lines, err)
    assert proxy.counts[endpoint] == times + 1
    finish(data_dir, path, endpoint, err, failed=False)


@pytest.mark.parametrize("endpoint", POST_ENDPOINTS)
@pytest.mark.parametrize("fault", ("truncated-json", "401", "402", "not-listening"))
def test_fault_that_no_retry_fixes_fails_at_once_with_a_plain_message(fault, endpoint, run_cli, sandbox,
                                                                       proxy, target, tmp_path, data_dir):
    path = target(endpoint)
    api_key, base_url = sandbox.api_key, proxy.base_url
    before = sandbox_stats(sandbox)
    if fault == "truncated-json":
        proxy.aim(endpoint, fault)
    elif fault == "401":
        api_key = "wrong-key-Zq81xV"  # the real sandbox refuses it
    elif fault == "402" and endpoint == "stamp":
        sandbox.quota = before["submissions"]  # the real sandbox's plan limit
    elif fault == "402":
        proxy.aim(endpoint, "402")
    else:
        base_url = f"http://127.0.0.1:{closed_port()}/core"
    code, lines, err = run_cli(*command_for(endpoint, path, tmp_path), base_url=base_url,
                               api_key=api_key, retries=RETRIES)
    after = sandbox_stats(sandbox)
    assert code == 3, (lines, err)
    assert lines[0]["state"] == "failed" and PERSISTENT_MESSAGE[fault] in lines[0]["error"], lines
    assert "wrong-key-Zq81xV" not in lines[0]["error"] + err
    if fault == "not-listening":
        assert after["requests"] == before["requests"]
    else:
        assert proxy.counts[endpoint] == 1  # not retried: repeating cannot help
    if fault == "401":
        assert after["auth_failures"] - before["auth_failures"] == 1
    if fault == "402" and endpoint == "stamp":
        assert after["quota_refused"] - before["quota_refused"] == 1
    finish(data_dir, path, endpoint, err, failed=True)


@pytest.mark.parametrize("fault", ["503-html", "429", "reset", "truncated-json"])
def test_a_report_download_fault_that_clears_still_saves_the_report(fault, run_cli, sandbox, proxy,
                                                                    target, tmp_path, data_dir):
    path = target("report")
    proxy.aim("report", fault, 1)
    code, lines, err = run_cli(*command_for("report", path, tmp_path), base_url=proxy.base_url,
                               api_key=sandbox.api_key, retries=RETRIES)
    assert code == 0, (lines, err)
    line = lines[0]
    assert (line["state"], line["outcome"]) == ("done", "full match"), line
    assert line.get("error") is None, line.get("error")
    assert (tmp_path / "out" / "report.pdf").read_bytes().startswith(b"%PDF-")
    assert proxy.counts["report"] == 2 and sandbox_stats(sandbox)["reports"] == 1  # one NFT minted
    finish(data_dir, path, "report", err, failed=False)


@pytest.mark.parametrize("fault", RETRYABLE + ("truncated-json", "401", "402", "not-listening"))
def test_report_download_fault_keeps_the_verification_and_says_why(fault, run_cli, sandbox, proxy, target,
                                                                    tmp_path, data_dir):
    path = target("report")
    if fault == "not-listening":
        proxy.report_origin = f"http://127.0.0.1:{closed_port()}"
    else:
        proxy.aim("report", fault_spec(fault, None))
    code, lines, err = run_cli(*command_for("report", path, tmp_path), base_url=proxy.base_url,
                               api_key=sandbox.api_key, retries=RETRIES)
    assert code == 3, (lines, err)
    line = lines[0]
    assert (line["state"], line["outcome"]) == ("done", "full match")  # the verification itself stands
    assert "report could not be saved" in line["error"] and REPORT_MESSAGE[fault] in line["error"], line
    assert "report_path" not in line
    assert sandbox_stats(sandbox)["reports"] == 1
    if fault in ("401", "402"):
        assert proxy.counts["report"] == 1  # an expired or refused link is not asked again
    elif fault != "not-listening":
        # a busy server or a broken download is tried again: verifying again would mint another NFT
        assert proxy.counts["report"] == min(REPORT_ATTEMPTS, RETRIES + 1)
    leftovers = [p for p in (data_dir / "reports").rglob("*")] + list((tmp_path / "out").glob("*"))
    assert leftovers == [], leftovers  # no partial PDF anywhere
    row = finish(data_dir, path, "report", err, failed=False)
    assert row[1] == "done"
