"""The engine mode as the window speaks to it: JSON lines over a real child process's stdin/stdout
(docs/architecture.md, "The engine protocol")."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from integritas_gui.core.hashing import hash_file
from integritas_gui.engine_process import update_from_wire, update_to_wire
from tests.sandbox_fixture import TEST_BLOCK_TIME


class Engine:
    def __init__(self):
        self.process = subprocess.Popen([sys.executable, "-m", "integritas_gui", "--engine"],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True, encoding="utf-8")
        self.events: list[dict] = []

    def send(self, **message) -> None:
        self.process.stdin.write(json.dumps(message) + "\n")
        self.process.stdin.flush()

    def until(self, test) -> dict:
        for line in self.process.stdout:
            event = json.loads(line)  # every line on stdout is one JSON object
            self.events.append(event)
            if test(event):
                return event
        raise AssertionError(f"the engine ended first: {self.process.stderr.read()[-2000:]}")

    def seen(self, test) -> dict:
        """The first event so far that passes ``test``, else the next one (events and replies race)."""
        return next((e for e in self.events if test(e)), None) or self.until(test)

    def reply(self, request: int) -> dict:
        return self.until(lambda e: e.get("event") == "reply" and e.get("id") == request)

    def start_ready(self, sandbox) -> None:
        """``start`` on the trial sandbox with one hash worker; the engine must answer ``ready``."""
        self.send(cmd="start", settings={"hash_workers": 1},
                  sandbox={"base_url": sandbox.base_url, "api_key": sandbox.api_key, "block_time": TEST_BLOCK_TIME})
        assert self.until(lambda e: e["event"] in ("ready", "fatal"))["event"] == "ready"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def jobs(self, job_id: int) -> list[dict]:
        return [job for e in self.events if e["event"] == "updates" for job in e["jobs"]
                if job["job_id"] == job_id]


def test_start_commands_updates_and_shutdown(sandbox, tmp_path):
    engine = Engine()
    try:
        engine.send(cmd="start", settings={"hash_workers": 1},
                    sandbox={"base_url": sandbox.base_url, "api_key": sandbox.api_key,
                             "block_time": TEST_BLOCK_TIME},
                    overrides={"client_options": {"backoff_base": 0.01, "backoff_max": 0.05}})
        ready = engine.until(lambda e: e["event"] in ("ready", "fatal"))
        assert ready["event"] == "ready" and ready["protocol"] == 1 and ready["pid"] == engine.process.pid
        assert (ready["base_url"], ready["trial"], ready["block_time"], ready["hash_workers"]) == (
            sandbox.base_url, True, TEST_BLOCK_TIME, 1)

        path = tmp_path / "a.txt"
        path.write_text("stamped through the pipe\n")
        engine.send(cmd="add_files", id=1, kind="stamp", paths=[str(path)])
        [job_id] = engine.reply(1)["result"]
        engine.send(cmd="wait_idle", id=2, timeout=30)
        assert engine.reply(2)["result"] is True
        assert engine.jobs(job_id)[-1]["state"] == "confirmed"
        assert engine.jobs(job_id)[-1]["sha3_256"] == hash_file(str(path)).sha3_256

        engine.send(cmd="add_hash", id=3, kind="check", sha3_256="zz")
        assert "error" in engine.reply(3)  # a plain message, and the engine goes on
        engine.send(cmd="no_such_command", id=4)
        assert "Unknown command" in engine.reply(4)["error"]

        engine.send(cmd="shutdown", id=5)
        assert engine.reply(5)["result"] is None
        assert engine.process.wait(timeout=30) == 0
    finally:
        engine.stop()


def test_the_engine_stops_when_the_window_goes_away(sandbox):
    engine = Engine()
    engine.send(cmd="start", sandbox={"base_url": sandbox.base_url, "api_key": sandbox.api_key,
                                      "block_time": TEST_BLOCK_TIME})
    assert engine.until(lambda e: e["event"] in ("ready", "fatal"))["event"] == "ready"
    engine.process.stdin.close()  # the window died without a word
    assert engine.process.wait(timeout=30) == 0


def test_updates_leave_defaults_out_and_come_back_whole():
    from integritas_gui.core.engine import JobUpdate

    update = JobUpdate(7, "stamp", "/a.txt", "hashing", 1024, 4096)
    wire = update_to_wire(update)
    assert wire == {"job_id": 7, "kind": "stamp", "path": "/a.txt", "state": "hashing",
                    "bytes_done": 1024, "bytes_total": 4096}
    assert update_from_wire(json.loads(json.dumps(wire))) == update


def test_watch_commands_and_folder_events(sandbox, tmp_path):
    """The engine watches; the window only sends watch_* commands and reads folder events."""
    engine = Engine()
    try:
        engine.start_ready(sandbox)
        engine.send(cmd="watch_start", id=1, settle=0.2, poll=30)  # a long poll: refresh must not wait for it
        assert engine.reply(1)["result"] == []
        inbox = tmp_path / "inbox"
        inbox.mkdir()
        engine.send(cmd="watch_add", id=2, path=str(inbox), recursive=True, exclude=["*.log"])
        sent = time.monotonic()
        added = engine.reply(2)["result"]
        assert (added["path"], added["recursive"], added["exclude"]) == (str(inbox), True, ["*.log"])
        event = engine.seen(lambda e: e["event"] == "folder" and e["folder"]["state"] == "watching")
        assert event["folder"]["id"] == added["id"]
        assert time.monotonic() - sent < 25  # picked up at once, not at the next 30 s poll

        (inbox / "note.txt").write_text("watched\n")
        confirmed = engine.seen(lambda e: e["event"] == "updates" and any(
            j["state"] == "confirmed" and j["path"] == str(inbox / "note.txt") for j in e["jobs"]))
        assert confirmed

        engine.send(cmd="watch_pause", id=3, path=str(inbox), paused=True)
        assert engine.reply(3)["result"]["paused"] is True
        engine.seen(lambda e: e["event"] == "folder" and e["folder"]["state"] == "paused")
        engine.send(cmd="watch_remove", id=4, path=str(tmp_path / "elsewhere"))
        assert "is not a watched folder" in engine.reply(4)["error"]
        engine.send(cmd="watch_remove", id=5, path=str(inbox))
        assert engine.reply(5)["result"]["id"] == added["id"]
        engine.send(cmd="watch_list", id=6)
        assert engine.reply(6)["result"] == []
        engine.send(cmd="shutdown", id=7)
        assert engine.reply(7)["result"] is None
        assert engine.process.wait(timeout=30) == 0
    finally:
        engine.stop()


def test_reverify_and_import_commands(sandbox, tmp_path):
    """Re-verify all and imports run in the engine: the window reads per-file events and replies."""
    from tests.proof_files import error_entry

    engine = Engine()
    try:
        engine.start_ready(sandbox)
        kept, edited = tmp_path / "kept.txt", tmp_path / "edited.txt"
        kept.write_text("kept as stamped\n")
        edited.write_text("stamped, then edited\n")
        engine.send(cmd="add_files", id=1, kind="stamp", paths=[str(kept), str(edited)])
        assert len(engine.reply(1)["result"]) == 2
        engine.send(cmd="wait_idle", id=2, timeout=30)
        assert engine.reply(2)["result"] is True
        edited.write_text("stamped, then EDITED\n")

        engine.send(cmd="reverify", id=3, folders=[str(tmp_path)])
        assert engine.reply(3)["result"] == {"checked": 2, "total": 2, "cancelled": False}
        checks = [e for e in engine.events if e["event"] == "reverify" and e["request"] == 3]
        assert [c["done"] for c in checks] == [1, 2] and {c["total"] for c in checks} == {2}
        assert {c["check"]["path"]: c["check"]["status"] for c in checks} == {
            str(kept): "match", str(edited): "changed"}
        engine.send(cmd="reverify_cancel", id=4, request=3)  # nothing running: a no-op
        assert engine.reply(4)["result"] is None

        proof = tmp_path / "failed.json"
        proof.write_text(json.dumps([error_entry("ab" * 32)]))
        engine.send(cmd="import_files", id=5, paths=[str(proof), str(tmp_path / "absent.json")])
        first, absent = engine.reply(5)["result"]
        assert first["imported"] == 1 and "failed at the Integritas service" in first["message"]
        assert absent["imported"] == 0 and absent["error"] and absent["message"].startswith("absent.json: ")
    finally:
        engine.stop()
