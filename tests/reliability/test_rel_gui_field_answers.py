"""Field answers through the real main window (issue 14): the row, its status cell and the detail
panel say what happened, as the CLI does."""

from __future__ import annotations

from datetime import datetime

from tests.gui.test_main_window import WAIT_MS, show_details, status_cell, wait_row
from tests.reliability.conftest import SLOW_FAULT_SECONDS, make_files
from tests.sandbox_fixture import sandbox_stats


def settled(qtbot, window, path, states, kind="verify"):
    return wait_row(qtbot, window, path, states, kind=kind)


def test_window_says_the_answer_had_no_report_link(qtbot, window_for, sandbox, proxy, on_chain):
    proxy.shape = "no-report-link"
    window = window_for(proxy.base_url, sandbox.api_key)
    window.add_paths([on_chain], "verify", report=True)
    row = settled(qtbot, window, on_chain, {"done", "failed"})
    assert row.state == "done" and row.outcome == "full match"
    assert "without a report link" in status_cell(window, row.job_id)
    panel = show_details(qtbot, window, row.job_id, "done")
    assert panel.banner.title.text() == "Full match"
    assert "without a report link" in panel.banner.text.text()
    assert "integritas.technology" in panel.banner.text.text()
    assert not panel.open_report_button.isVisible()


def test_window_shows_dates_without_a_zone_as_utc_in_local_time(qtbot, window_for, sandbox, proxy,
                                                                 on_chain, zone):
    proxy.shape = "naive-dates"
    window = window_for(proxy.base_url, sandbox.api_key)
    window.add_paths([on_chain], "verify")
    row = settled(qtbot, window, on_chain, {"done"})
    panel = show_details(qtbot, window, row.job_id, "done")
    [record] = panel.details.records
    assert record.block_date.endswith("Z")
    local = datetime.fromisoformat(record.block_date.replace("Z", "+00:00")).astimezone(zone)
    assert f"{local:%Y-%m-%d %H:%M:%S}" in panel.banner.text.text()


def test_window_report_that_timed_out_is_asked_once_and_explained(qtbot, window_for, sandbox, proxy,
                                                                   on_chain):
    proxy.aim("verify", f"slow:{SLOW_FAULT_SECONDS}")
    window = window_for(proxy.base_url, sandbox.api_key)
    window.add_paths([on_chain], "verify", report=True)
    row = settled(qtbot, window, on_chain, {"done", "failed"})
    assert row.state == "failed" and "may have made the report" in row.error
    assert proxy.counts["verify"] == 1 and sandbox_stats(sandbox)["reports"] == 1
    panel = show_details(qtbot, window, row.job_id, "failed")
    assert "report list on integritas.technology" in panel.banner.text.text()


def test_window_report_for_an_unchanged_file_does_not_read_it_again(qtbot, window_for, sandbox, tmp_path,
                                                                     engine_reads):
    [path] = make_files(tmp_path / "in", 1, prefix="report-me")
    window = window_for(sandbox.base_url, sandbox.api_key)
    window.add_paths([path], "stamp")
    stamped = settled(qtbot, window, path, {"confirmed"}, kind="stamp")
    assert engine_reads() == [str(path)]
    panel = show_details(qtbot, window, stamped.job_id, "confirmed")
    with qtbot.waitSignal(window.report_ready, timeout=WAIT_MS) as ready:
        panel.report_button.click()
    job_id, report_path = ready.args
    assert report_path.endswith(".pdf") and sandbox_stats(sandbox)["reports"] == 1
    assert engine_reads() == [str(path)]  # the stamp's hash was reused: no second read of the file
    assert window.services.history.get_job(job_id).sha3_256 == window.services.history.get_job(
        stamped.job_id).sha3_256
