"""Times and sizes as people see them: one rule for the CLI, the window and the certificate."""

from __future__ import annotations

import time
from datetime import datetime, timezone

import pytest

from integritas_gui import cli
from integritas_gui.core import certificate, certificate_text, receipt_verify
from integritas_gui.core.display import format_local, format_size, format_utc, iso_utc, parse_service_time
from integritas_gui.gui import status_text

V1_DATE = "2026-01-21 09:55:48"  # v1 style: no zone, and it is UTC


@pytest.fixture
def kolkata(monkeypatch):
    monkeypatch.setenv("TZ", "Asia/Kolkata")  # UTC+05:30 all year
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.parametrize("value", [V1_DATE, "2026-01-21T09:55:48Z", "2026-01-21T09:55:48.000Z",
                                   "2026-01-21T10:55:48+01:00", "2026-01-21T09:55:48+0000",
                                   "2026-01-21 09:55:48 UTC", 1768989348, 1768989348000, "1768989348"])
def test_every_form_of_the_same_instant_is_read_as_utc(value):
    assert parse_service_time(value) == datetime(2026, 1, 21, 9, 55, 48, tzinfo=timezone.utc)
    assert iso_utc(value) == "2026-01-21T09:55:48.000Z"


def test_what_is_not_a_date_is_kept_and_shown_as_it_came():
    assert parse_service_time("last Tuesday") is None and iso_utc("last Tuesday") == "last Tuesday"
    assert iso_utc(None) is None and format_local(None) == "" and format_utc(None) == "unknown"


def test_cli_window_and_certificate_show_a_date_without_a_zone_as_utc(kolkata):
    assert cli.local_time(V1_DATE) == "2026-01-21 15:25:48"
    assert status_text.local_time(V1_DATE, with_date=True) == "2026-01-21 15:25:48"
    assert certificate_text.format_time(V1_DATE) == "Wed 21 Jan 2026, 09:55:48 UTC"
    today = datetime(2026, 1, 21, 12, 0, tzinfo=timezone.utc)
    assert status_text.local_time(V1_DATE, now=today) == "15:25:48"


@pytest.mark.parametrize("size, text", [(0, "0 bytes"), (1, "1 byte"), (1023, "1,023 bytes"),
                                        (1024, "1 KiB"), (1536, "1.5 KiB"), (65_536, "64 KiB"),
                                        (1_500_000, "1.4 MiB"), (150 * 1024**2, "150 MiB"),
                                        (8 * 1024**3, "8 GiB")])
def test_one_unit_system_everywhere(size, text):
    # The CLI, the window and the certificate (via receipts) agree for every file.
    assert format_size(size) == cli.human_size(size) == status_text.human_size(size) == text
    assert receipt_verify.human_size(size) == certificate.human_size(size) == text


def test_the_history_export_writes_dates_without_a_zone_as_utc(tmp_path):
    from integritas_gui.core.history import History
    from integritas_gui.core.history_export import export_to_string, read_csv_export

    history = History(tmp_path / "h.sqlite3")
    job_id = history.add_job("stamp", path="/v1.txt", sha3_256="ab" * 32)
    history.update(job_id, state="confirmed", block_number=7, block_date=V1_DATE)  # as stored before
    history.db.execute("INSERT INTO records (job_id, block_number, block_date) VALUES (?, 7, ?)",
                       (job_id, V1_DATE))
    exported = export_to_string(history, "json")
    assert V1_DATE not in exported and exported.count("2026-01-21T09:55:48.000Z") == 2
    import io

    [row] = read_csv_export(io.StringIO(export_to_string(history, "csv").replace(
        "2026-01-21T09:55:48.000Z", V1_DATE)))  # an older export read back
    assert row["block_date"] == "2026-01-21T09:55:48.000Z"
    assert row["records"][0].block_date == "2026-01-21T09:55:48.000Z"
    history.close()


@pytest.mark.parametrize("seconds, text", [(0, "1 s"), (42.4, "42 s"), (59.6, "1 min"), (61, "1 min"),
                                           (150, "2 min"), (3599, "1 h"), (3600, "1 h"), (4830, "1 h 20 min")])
def test_durations_read_as_estimates(seconds, text):
    from integritas_gui.core.display import format_duration

    assert format_duration(seconds) == text
