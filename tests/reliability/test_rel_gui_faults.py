"""The fault kinds through the real main window: a stamp (and a verification with a report) meets the
fault; the row ends as the CLI's would (retried and fine, or failed with the plain message), no
exception reaches the Qt event loop (pytest-qt fails the test if one does), and history is consistent."""

from __future__ import annotations


import pytest

from integritas_gui.core.hashing import hash_file
from tests.reliability.conftest import SLOW_FAULT_SECONDS, assert_history_consistent, make_files
from tests.sandbox_fixture import closed_port, wait_for_block

WAIT_MS = 20_000
RETRYABLE = ("503-html", "502", "429", "slow", "reset")
STAMP_FAILS_WITH = {"truncated-json": "answer the app cannot read", "401": "refused the API key",
                    "402": "usage limit has been reached", "not-listening": "Could not connect"}


def _row(qtbot, window, path, states):
    found = {}

    def ready():
        for row in window.model.rows():
            if row.path == str(path) and row.state in states:
                found["row"] = row
                return True
        return False

    qtbot.waitUntil(ready, timeout=WAIT_MS)
    return found["row"]


@pytest.mark.parametrize("fault", RETRYABLE + tuple(STAMP_FAILS_WITH))
def test_gui_stamp_and_report_under_fault(fault, qtbot, window_for, sandbox, proxy, tmp_path, data_dir):
    to_stamp, on_chain = make_files(tmp_path / "in", 2, prefix=fault)
    sandbox.do_stamp(hash_file(str(on_chain)).sha3_256, "set-up")
    wait_for_block(sandbox)
    base_url, api_key = proxy.base_url, sandbox.api_key
    spec = f"slow:{SLOW_FAULT_SECONDS}" if fault == "slow" else fault
    if fault in RETRYABLE:
        proxy.aim("stamp", f"{spec}; times={1 if fault == 'slow' else 2}")
        proxy.aim("report", spec)
    elif fault == "truncated-json":
        proxy.aim("stamp", fault)
        proxy.aim("report", fault)
    elif fault == "401":
        api_key = "wrong-key-Gq71"
    elif fault == "402":
        sandbox.quota = 1  # the set-up stamp used it up
    else:
        base_url = f"http://127.0.0.1:{closed_port()}/core"
    window = window_for(base_url, api_key)

    window.add_paths([to_stamp], "stamp")
    if fault in RETRYABLE:
        row = _row(qtbot, window, to_stamp, {"pending", "confirmed"})
        assert proxy.counts["stamp"] == (2 if fault == "slow" else 3)
    else:
        row = _row(qtbot, window, to_stamp, {"failed"})
        assert STAMP_FAILS_WITH[fault] in row.error and "wrong-key-Gq71" not in row.error

    if fault in RETRYABLE or fault == "truncated-json":
        window.add_paths([on_chain], "verify", report=True)
        row = _row(qtbot, window, on_chain, {"done"})
        assert row.outcome == "full match"
        assert row.error and "report could not be saved" in row.error, row.error
        assert not list((data_dir / "reports").glob("*.pdf"))

    window.services.engine.wait_idle(10, include_pending=False)
    assert_history_consistent(data_dir / "history.sqlite3", [to_stamp], "stamp",
                              allowed=("pending", "confirmed", "failed"))


@pytest.mark.parametrize("endpoint", ("check", "verify"))
@pytest.mark.parametrize("fault", RETRYABLE + tuple(STAMP_FAILS_WITH))
def test_gui_check_and_verify_under_fault(fault, endpoint, qtbot, window_for, sandbox, proxy, tmp_path,
                                          data_dir):
    """A file already on chain is checked or verified while its endpoint meets the fault: retryable
    faults end in the right answer after the client's retries; the others fail on the row with the
    CLI's plain message."""
    [on_chain] = make_files(tmp_path / "in", 1, prefix=f"{fault}-{endpoint}")
    sandbox.do_stamp(hash_file(str(on_chain)).sha3_256, "set-up")
    wait_for_block(sandbox)
    base_url, api_key = proxy.base_url, sandbox.api_key
    spec = f"slow:{SLOW_FAULT_SECONDS}" if fault == "slow" else fault
    if fault in RETRYABLE:
        proxy.aim(endpoint, f"{spec}; times={1 if fault == 'slow' else 2}")
    elif fault in ("truncated-json", "402"):
        proxy.aim(endpoint, fault)
    elif fault == "401":
        api_key = "wrong-key-Gq71"
    else:
        base_url = f"http://127.0.0.1:{closed_port()}/core"
    window = window_for(base_url, api_key)

    window.add_paths([on_chain], endpoint)
    if fault in RETRYABLE:
        row = _row(qtbot, window, on_chain, {"done"})
        assert row.outcome == ("found" if endpoint == "check" else "full match")
        assert proxy.counts[endpoint] == (2 if fault == "slow" else 3)
    else:
        row = _row(qtbot, window, on_chain, {"failed"})
        assert STAMP_FAILS_WITH[fault] in row.error and "wrong-key-Gq71" not in row.error

    window.services.engine.wait_idle(10)
    assert_history_consistent(data_dir / "history.sqlite3", [on_chain], endpoint,
                              allowed=("done", "failed"))
