"""The window while the service answers in shapes that used to fool the follow-up of a stamp: a hash
found before verify lists its block, and a Minima node status sent as text. Real window, real
sandbox over loopback (its shapes and faults asked for with request headers)."""

from __future__ import annotations

from integritas_gui.core.engine import ConfirmPolicy
from integritas_gui.gui.queue_model import BLOCK, STATUS
from tests.sandbox_fixture import TEST_BLOCK_TIME
from tests.sandbox_fixture import sandbox_stats as stats

WAIT_MS = 20_000


def window_with(make_window, monkeypatch, sandbox, **headers):
    monkeypatch.setenv("INTEGRITAS_API_KEY", sandbox.api_key)
    window = make_window(base_url=sandbox.base_url, client_options={"extra_headers": headers})
    return window


def cell(window, job_id, column):
    return window.model.index(window.model.position_of(job_id), column).data()


def stamp_one(qtbot, make_window, monkeypatch, sandbox, tmp_path, headers, states):
    """A window whose requests carry ``headers``; one file stamped; (window, its row once in ``states``)."""
    window = window_with(make_window, monkeypatch, sandbox, **headers)
    # the engine process follows stamps at the test sandbox's pace (INTEGRITAS_SANDBOX_BLOCK_TIME)
    qtbot.waitUntil(lambda: window.bridge.state == "ready", timeout=WAIT_MS)
    assert window.bridge.ready_info["block_time"] == TEST_BLOCK_TIME
    path = tmp_path / "deed.txt"
    path.write_bytes(tmp_path.name.encode() * 500)
    window.add_paths([path], "stamp")
    qtbot.waitUntil(lambda: window.model.rowCount() == 1 and window.model.rows()[0].state in states,
                    timeout=WAIT_MS)
    return window, window.model.rows()[0]


def test_a_found_stamp_without_a_block_says_so_and_stays_pending(qtbot, make_window, monkeypatch,
                                                                  sandbox, tmp_path):
    window, row = stamp_one(qtbot, make_window, monkeypatch, sandbox, tmp_path, {"x-sandbox-shape": "no-record"},
                            {"pending"})
    qtbot.waitUntil(lambda: cell(window, row.job_id, STATUS).startswith(
        "Found, waiting for the block details"), timeout=WAIT_MS)
    asked = stats(sandbox)["verifications"]
    qtbot.waitUntil(lambda: stats(sandbox)["verifications"] > asked, timeout=WAIT_MS)  # asked again
    assert row.state == "pending" and row.block_number is None
    assert cell(window, row.job_id, BLOCK) in (None, "")
    assert "Confirmed" not in cell(window, row.job_id, STATUS)
    job = window.services.history.get_job(row.job_id)
    assert (job.state, job.block_number, job.error_kind) == ("pending", None, "awaiting_block")


def test_a_found_stamp_is_confirmed_with_its_block_once_verify_lists_it(qtbot, make_window, monkeypatch,
                                                                      sandbox, tmp_path):
    window, row = stamp_one(qtbot, make_window, monkeypatch, sandbox, tmp_path, {"x-sandbox-shape": "no-record:2"},
                            {"confirmed"})
    assert row.block_number is not None
    assert cell(window, row.job_id, STATUS).startswith(f"Confirmed in block {row.block_number:,}")
    assert stats(sandbox)["verifications"] == 3


def test_a_node_status_false_as_text_fails_the_stamp_plainly(qtbot, make_window, monkeypatch, sandbox,
                                                             tmp_path):
    window, row = stamp_one(qtbot, make_window, monkeypatch, sandbox, tmp_path, {"x-sandbox-fault": 'node-failed:"false"'},
                            {"failed", "pending", "confirmed"})
    assert row.state == "failed"
    text = cell(window, row.job_id, STATUS)
    assert text.startswith("\u2718 The Integritas service could not pass the stamp to the Minima network")
    assert "nothing was anchored" in text and "Stamp the file again later." in text
    qtbot.wait(int(ConfirmPolicy.for_block_time(TEST_BLOCK_TIME).first_delay * 1000) + 300)
    assert (stats(sandbox)["checks"], stats(sandbox)["verifications"]) == (0, 0)  # never followed
    assert window.queue_page.retry_button.isEnabled()
