"""Field answers through the CLI (issue 14): a report asked for with no link in the answer, dates
without a zone, a report request that timed out, and a report asked for an unchanged file."""

from __future__ import annotations

import os
import sqlite3
from datetime import datetime

from integritas_gui import cli
from integritas_gui.core.hashing import hash_file
from tests.reliability.conftest import SLOW_FAULT_SECONDS, assert_clean_logs, make_files
from tests.sandbox_fixture import sandbox_stats

def report_args(tmp_path) -> list[str]:
    return ["--report", str(tmp_path / "out" / "report.pdf")]


def test_report_answer_without_a_link_is_said_plainly(run_cli, sandbox, proxy, on_chain, tmp_path,
                                                       data_dir):
    proxy.shape = "no-report-link"
    code, [line], err = run_cli("verify", str(on_chain), *report_args(tmp_path), base_url=proxy.base_url,
                                api_key=sandbox.api_key)
    assert code == 3
    assert line["outcome"] == "full match" and "without a report link" in line["error"]
    [said] = [text for text in err.splitlines() if "no report for" in text]
    assert str(on_chain) in said and "answered without a report link" in said
    assert "integritas.technology" in said
    assert not (tmp_path / "out" / "report.pdf").exists()
    assert_clean_logs(data_dir)


def test_v1_style_report_link_saves_the_report(run_cli, sandbox, proxy, on_chain, tmp_path):
    proxy.shape = "v1-report-link"
    code, [line], err = run_cli("verify", str(on_chain), *report_args(tmp_path), base_url=proxy.base_url,
                                api_key=sandbox.api_key)
    assert code == 0, err
    assert (tmp_path / "out" / "report.pdf").read_bytes().startswith(b"%PDF-")


def test_dates_without_a_zone_are_shown_as_utc_in_local_time(sandbox, proxy, on_chain, zone, capsys,
                                                              data_dir, fast_timing, monkeypatch):
    monkeypatch.setenv("INTEGRITAS_BLOCK_TIME", "0.2")
    proxy.shape = "naive-dates"
    code = cli.main(["verify", str(on_chain), "--base-url", proxy.base_url, "--api-key", sandbox.api_key])
    out = capsys.readouterr().out
    assert code == 0, out
    db = sqlite3.connect(data_dir / "history.sqlite3")
    [(stored,)] = db.execute("SELECT block_date FROM records").fetchall()
    db.close()
    assert stored.endswith("Z")  # normalised when the answer was read: UTC with its zone
    shown = datetime.fromisoformat(stored.replace("Z", "+00:00")).astimezone(zone)
    assert f"at {shown:%Y-%m-%d %H:%M:%S}" in out, out
    naive = datetime.fromisoformat(stored.replace("Z", ""))
    assert f"at {naive:%Y-%m-%d %H:%M:%S}" not in out  # not the UTC digits taken as local time


def test_report_request_that_timed_out_is_not_sent_again(run_cli, sandbox, proxy, on_chain, tmp_path,
                                                          data_dir):
    proxy.aim("verify", f"slow:{SLOW_FAULT_SECONDS}")
    code, [line], err = run_cli("verify", str(on_chain), *report_args(tmp_path), base_url=proxy.base_url,
                                api_key=sandbox.api_key, retries=3)
    assert code == 3
    assert proxy.counts["verify"] == 1  # one request, whatever --retries says
    assert sandbox_stats(sandbox)["reports"] == 1  # the service did make it
    assert line["state"] == "failed" and "may have made the report" in line["error"]
    assert "report list on integritas.technology" in err
    assert_clean_logs(data_dir)


def test_report_for_an_unchanged_file_does_not_read_it_again(run_cli, sandbox, tmp_path, reads):
    [path] = make_files(tmp_path / "in", 1, prefix="unchanged")
    base = dict(base_url=sandbox.base_url, api_key=sandbox.api_key)
    code, _, err = run_cli("stamp", "--wait", str(path), **base)
    assert code == 0, err
    assert reads == [str(path)]
    code, [line], err = run_cli("verify", str(path), *report_args(tmp_path), **base)
    assert code == 0, err
    assert reads == [str(path)]  # the stamp's hash was used: the file was not read again
    assert line["sha3_256"] == hash_file(str(path)).sha3_256 and line["outcome"] == "full match"
    assert sandbox_stats(sandbox)["reports"] == 1

    # Same size and modification time, other bytes: only the status-change time tells.
    before = os.stat(path)
    path.write_bytes(bytes(b ^ 1 for b in path.read_bytes()))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    code, [line], err = run_cli("verify", str(path), *report_args(tmp_path), **base)
    assert reads == [str(path)] * 2  # changed: hashed again
    assert line["outcome"] == "no match" and line["sha3_256"] == hash_file(str(path)).sha3_256
