"""`integritas reverify` as its own process, on a history made by real stamps on the sandbox."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest


@pytest.fixture
def integritas(data_dir):
    def run(*argv: str, timeout: float = 90) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("INTEGRITAS_")}
        env.update(INTEGRITAS_DATA_DIR=str(data_dir), INTEGRITAS_SANDBOX_BLOCK_TIME="0.2")
        done = subprocess.run([sys.executable, "-m", "integritas_gui.cli", *argv], capture_output=True,
                              text=True, timeout=timeout, env=env)
        done.lines = [json.loads(line) for line in done.stdout.splitlines() if "--json" in argv and line.strip()]
        return done

    return run


@pytest.fixture
def stamped(integritas, sandbox, tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    files = []
    for i in range(3):
        files.append(folder / f"letter {i}.txt")
        files[-1].write_bytes(os.urandom(100_000 + i))
    done = integritas("stamp", "--wait", "--json", str(folder), "--base-url", sandbox.base_url,
                      "--api-key", sandbox.api_key)
    assert done.returncode == 0, done.stderr
    return files


def test_all_match_then_a_changed_and_a_missing_file_exit_1(integritas, stamped, tmp_path):
    done = integritas("reverify", "--json")
    assert done.returncode == 0, done.stderr
    assert sorted(line["path"] for line in done.lines) == sorted(map(str, stamped))
    assert {line["status"] for line in done.lines} == {"match"} and "sandbox" not in done.lines[0]

    with open(stamped[0], "r+b") as handle:
        handle.seek(70_000)
        handle.write(b"!")
    stamped[1].unlink()
    done = integritas("reverify")
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert f"{stamped[0]}: changed: " in done.stdout and "    changed bytes: 65536-99999" in lines
    assert f"{stamped[1]}: missing: The file is not there any more" in done.stdout
    assert f"{stamped[2]}: match: " in done.stdout
    assert "1 of 3 stamped files still match; 2 no longer match." in done.stderr

    only = integritas("reverify", "--json", str(stamped[2]))
    assert only.returncode == 0 and [line["path"] for line in only.lines] == [str(stamped[2])]


def test_unreadable_is_2_and_nothing_under_a_path_is_1(integritas, stamped, tmp_path):
    stamped[0].unlink()
    stamped[0].mkdir()
    done = integritas("reverify", "--json", "--quick")
    assert done.returncode == 2
    statuses = {line["path"]: (line["status"], line["quick"]) for line in done.lines}
    assert statuses[str(stamped[0])][0] == "unreadable"
    assert statuses[str(stamped[1])] == ("match", True)  # untouched: judged by size and times

    nothing = integritas("reverify", str(tmp_path / "elsewhere"))
    assert nothing.returncode == 1 and nothing.stdout == ""
    assert "no stamped files under" in nothing.stderr and "integritas stamp" in nothing.stderr


def test_an_empty_history_is_fine(integritas):
    done = integritas("reverify")
    assert done.returncode == 0 and "no stamped files in this history" in done.stderr
