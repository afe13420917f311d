"""`integritas watch` as a real process against the real sandbox over loopback, on real folders."""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from tests.sandbox_fixture import sandbox_stats as stats

pytestmark = pytest.mark.skipif(sys.platform == "win32",
                                reason="the watch is stopped with SIGINT, which Windows cannot send to a console process")

SETTLE = 0.6
NOBODY = 65534


class WatchProcess:
    """`integritas watch ... --json` running in the background; its stdout lines read as they come."""

    def __init__(self, sandbox, data_dir: Path, *args: str, user: int | None = None,
                 sigint_ignored: bool = False):
        env = {**os.environ, "INTEGRITAS_DATA_DIR": str(data_dir), "INTEGRITAS_BLOCK_TIME": "0.2"}
        command = [sys.executable, "-m", "integritas_gui.cli", "watch", *args, "--json",
                   "--settle", str(SETTLE), "--base-url", sandbox.base_url, "--api-key", sandbox.api_key,
                   "--retries", "1"]
        # As a shell without job control starts a command in the background: SIGINT ignored.
        ignore = (lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if sigint_ignored else None
        self.process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True, user=user, preexec_fn=ignore)
        self.lines: "queue.Queue[dict]" = queue.Queue()
        self.seen: list[dict] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            if line.strip():
                self.lines.put(json.loads(line))

    def wait_for(self, match, timeout: float = 20.0, since: int = 0) -> dict:
        """The first line (seen from index ``since`` on, or coming) for which ``match(line)`` holds."""
        for line in self.seen[since:]:
            if match(line):
                return line
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.1)
            except queue.Empty:
                assert self.process.poll() is None, self.process.stderr.read()
                continue
            self.seen.append(line)
            if match(line):
                return line
        raise AssertionError(f"no matching line in {timeout} s; got {self.seen}")

    def drain(self, seconds: float) -> list[dict]:
        """Everything printed in the next ``seconds``."""
        end = time.monotonic() + seconds
        got = []
        while time.monotonic() < end:
            try:
                line = self.lines.get(timeout=0.05)
            except queue.Empty:
                continue
            self.seen.append(line)
            got.append(line)
        return got

    def stop(self) -> tuple[int, str]:
        self.process.send_signal(signal.SIGINT)
        code = self.process.wait(timeout=20)
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        return code, self.process.stderr.read()


@pytest.fixture
def watch(sandbox, data_dir):
    started: list[WatchProcess] = []

    def start(*args: str, data: Path = data_dir, user: int | None = None, **options) -> WatchProcess:
        process = WatchProcess(sandbox, data, *args, user=user, **options)
        started.append(process)
        return process

    yield start
    for process in started:
        if process.process.poll() is None:
            process.process.kill()
            process.process.wait()


def confirmed(path) -> callable:
    return lambda l: l.get("event") == "stamp" and l["path"] == str(path) and l["state"] == "confirmed"


def stamps(lines, path=None) -> list[dict]:
    return [l for l in lines if l.get("event") == "stamp" and l["state"] == "pending"
            and (path is None or l["path"] == str(path))]


def run_cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "INTEGRITAS_DATA_DIR": str(data_dir)}
    return subprocess.run([sys.executable, "-m", "integritas_gui.cli", "watch", *args], env=env,
                          capture_output=True, text=True, timeout=60)


def test_new_changed_renamed_and_restart(watch, sandbox, tmp_path, data_dir):
    folder = tmp_path / "notebook"
    (folder / "sub").mkdir(parents=True)
    before = folder / "before.txt"
    before.write_text("written while the app was off")
    w = watch(str(folder), "--recursive")
    first = w.wait_for(confirmed(before))
    assert first["sha3_256"] and first["block_number"]

    new = folder / "sub" / "new.txt"
    new.write_text("a new page")
    w.wait_for(confirmed(new))

    before.write_text("changed after its first stamp")
    second = w.wait_for(lambda l: confirmed(before)(l) and l["id"] != first["id"])
    assert second["sha3_256"] != first["sha3_256"]

    renamed = folder / "sub" / "renamed.txt"
    new.rename(renamed)
    time.sleep(SETTLE * 3)
    assert stamps(w.drain(1.0)) == []  # a rename is not a new content
    submitted = stats(sandbox)["submissions"]
    code, err = w.stop()
    assert code == 0 and "stopped watching" in err

    # Off: one file changes, one is added, one keeps its content under a new name (copied, so new
    # ctime and inode), one is only touched.
    (folder / "offline.txt").write_text("added while off")
    copied = folder / "copy of before.txt"
    shutil.copy(before, copied)
    os.utime(renamed, None)
    w = watch(str(folder), "--recursive")
    w.wait_for(confirmed(folder / "offline.txt"))
    skipped = w.wait_for(lambda l: l.get("event") == "stamp" and l["path"] == str(copied))
    assert (skipped["state"], skipped["outcome"]) == ("cancelled", "already stamped")
    touched = w.wait_for(lambda l: l.get("event") == "stamp" and l["path"] == str(renamed))
    assert touched["outcome"] == "already stamped"
    time.sleep(SETTLE * 2)
    lines = w.seen + w.drain(1.0)
    assert {l["path"] for l in stamps(lines)} == {str(folder / "offline.txt")}
    assert w.stop()[0] == 0
    assert stats(sandbox)["submissions"] == submitted + 1  # the copy and the touched file were not sent

    # The file's history shows both of its stamps.
    history = subprocess.run([sys.executable, "-m", "integritas_gui.cli", "history", "--json", "--search",
                              "before.txt"], env={**os.environ, "INTEGRITAS_DATA_DIR": str(data_dir)},
                             capture_output=True, text=True, check=True)
    jobs = [json.loads(l) for l in history.stdout.splitlines()]
    assert sorted(j["state"] for j in jobs if j["path"] == str(before)) == ["confirmed", "confirmed"]


def test_growing_file_is_stamped_once_when_it_stops(watch, tmp_path):
    folder = tmp_path / "scans"
    folder.mkdir()
    w = watch(str(folder))
    w.wait_for(lambda l: l.get("event") == "folder" and l["state"] == "watching")
    growing = folder / "scan.tiff"
    with open(growing, "wb") as handle:
        for _ in range(8):
            handle.write(os.urandom(50_000))
            handle.flush()
            time.sleep(SETTLE / 2)
    assert stamps(w.drain(0.1), growing) == []
    line = w.wait_for(confirmed(growing))
    assert line["size"] == 400_000
    assert len(stamps(w.seen, growing)) == 1


@pytest.fixture
def ordinary(tmp_path):
    """(base folder, user to run as, own(path)): permissions only bind an ordinary user, so as root
    the watch runs as nobody in a folder nobody can enter."""
    if os.geteuid() != 0:
        yield tmp_path, None, lambda path: None
        return
    base = Path(tempfile.mkdtemp(prefix="integritas-watch-"))
    base.chmod(0o755)
    os.chown(base, NOBODY, NOBODY)
    try:
        yield base, NOBODY, lambda path: os.chown(path, NOBODY, NOBODY)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _owned_folders(ordinary, name: str):
    """A folder to watch and a data folder, both owned by the ordinary user."""
    base, user, own = ordinary
    folder, data = base / name, base / "data"
    for made in (folder, data):
        made.mkdir()
        own(made)
    return folder, data, user, own


def test_unreadable_file_is_a_plain_message_then_stamped_when_readable(watch, ordinary):
    folder, data, user, own = _owned_folders(ordinary, "private")
    secret = folder / "locked.pdf"
    secret.write_bytes(b"%PDF-1.7 locked")
    own(secret)
    secret.chmod(0)
    w = watch(str(folder), data=data, user=user)
    failed = w.wait_for(lambda l: l.get("event") == "stamp" and l["path"] == str(secret))
    assert failed["state"] == "failed" and "permission" in failed["error"].lower()
    time.sleep(SETTLE * 3)
    assert w.drain(0.5) == []  # not tried again and again
    secret.chmod(0o600)  # a permission change: tried again
    w.wait_for(confirmed(secret))
    assert w.stop()[0] == 0


def test_folder_that_loses_its_permission_says_so_then_catches_up(watch, ordinary):
    folder, data, user, own = _owned_folders(ordinary, "shared")
    first = folder / "first.txt"
    first.write_text("before")
    own(first)
    w = watch(str(folder), data=data, user=user)
    w.wait_for(confirmed(first))
    mark = len(w.seen)
    folder.chmod(0)
    lost = w.wait_for(lambda l: l.get("event") == "folder" and l["state"] == "unreadable", since=mark)
    assert "permission denied" in lost["message"] and w.process.poll() is None
    meanwhile = folder / "meanwhile.txt"
    meanwhile.write_text("written while it could not be read")
    own(meanwhile)
    time.sleep(SETTLE * 2)
    assert stamps(w.drain(0.5)) == []
    folder.chmod(0o755)
    w.wait_for(confirmed(meanwhile))
    time.sleep(SETTLE * 2)
    assert len(stamps(w.seen + w.drain(0.5), first)) == 1  # not stamped again after the break
    assert w.stop()[0] == 0


def test_sigint_stops_a_watch_started_with_sigint_ignored(watch, tmp_path):
    folder = tmp_path / "inbox"
    folder.mkdir()
    (folder / "a.txt").write_text("a")
    w = watch(str(folder), sigint_ignored=True)
    w.wait_for(confirmed(folder / "a.txt"))
    code, err = w.stop()
    assert code == 0 and "stopped watching" in err


def test_filters_hidden_and_receipts(watch, tmp_path):
    folder = tmp_path / "exports"
    (folder / "drafts").mkdir(parents=True)
    (folder / ".git").mkdir()
    files = {
        "photo.jpg": True, "notes.txt": False, "drafts/sketch.jpg": False, ".hidden.jpg": False,
        ".git/blob.jpg": False, "photo.jpg.integritas.json": False, "raw.jpg.part": False,
    }
    for name in files:
        (folder / name).write_text(name)
    w = watch(str(folder), "--recursive", "--include", "*.jpg", "--exclude", "drafts")
    w.wait_for(confirmed(folder / "photo.jpg"))
    time.sleep(SETTLE * 2)
    (folder / "later.jpg").write_text("later")
    (folder / "later.txt").write_text("later")
    w.wait_for(confirmed(folder / "later.jpg"))
    time.sleep(SETTLE * 2)
    lines = w.seen + w.drain(0.5)
    assert {Path(l["path"]).name for l in stamps(lines)} == {"photo.jpg", "later.jpg"}


def test_folder_removed_and_back_pause_resume_list(watch, tmp_path, data_dir):
    folder = tmp_path / "usb"
    folder.mkdir()
    kept = folder / "kept.txt"
    kept.write_text("kept")
    deleted = folder / "deleted.txt"
    deleted.write_text("deleted soon")
    w = watch(str(folder), "--rescan", "1")
    w.wait_for(confirmed(kept))
    w.wait_for(confirmed(deleted))
    deleted.unlink()  # no stamp, no error; the next rescan forgets it

    parked = tmp_path / "parked"
    folder.rename(parked)  # unplugged
    gone = w.wait_for(lambda l: l.get("event") == "folder" and l["state"] == "missing")
    assert "not there" in gone["message"]
    assert w.process.poll() is None
    mark = len(w.seen)
    parked.rename(folder)  # plugged in again: nothing unchanged is stamped again
    w.wait_for(lambda l: l.get("event") == "folder" and l["state"] == "watching", since=mark)
    time.sleep(SETTLE * 3)
    assert stamps(w.drain(0.5)) == [] and [l for l in w.seen if l.get("state") == "failed"] == []

    listed = run_cli(data_dir, "--list", "--json")
    assert listed.returncode == 0
    (row,) = [json.loads(l) for l in listed.stdout.splitlines()]
    assert (row["path"], row["state"], row["files_known"]) == (str(folder), "watching", 1)

    assert run_cli(data_dir, "--pause", str(folder)).returncode == 0
    w.wait_for(lambda l: l.get("event") == "folder" and l["state"] == "paused")
    while_paused = folder / "while paused.txt"
    while_paused.write_text("written while paused")
    time.sleep(SETTLE * 3)
    assert stamps(w.drain(0.5)) == []
    assert run_cli(data_dir, "--resume", str(folder)).returncode == 0
    w.wait_for(confirmed(while_paused))

    mark = len(w.seen)
    shutil.rmtree(folder)  # removed for good: a message, the process keeps running
    w.wait_for(lambda l: l.get("event") == "folder" and l["state"] == "missing", since=mark)
    time.sleep(1)
    assert w.process.poll() is None
    assert w.stop()[0] == 0

    removed = run_cli(data_dir, "--remove", str(folder))
    assert removed.returncode == 0 and "no longer watched" in removed.stdout
    listed = run_cli(data_dir, "--list")
    assert listed.stdout == "" and "No watched folders" in listed.stderr


def test_bad_input_is_one_plain_line(tmp_path, data_dir):
    missing = run_cli(data_dir, str(tmp_path / "nowhere"), "--api-key", "k")
    assert missing.returncode == 2
    assert missing.stderr.strip().count("\n") == 0 and "does not exist" in missing.stderr
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    assert "is not a folder" in run_cli(data_dir, str(a_file), "--api-key", "k").stderr
    unknown = run_cli(data_dir, "--pause", str(tmp_path))
    assert unknown.returncode == 2 and "is not a watched folder" in unknown.stderr


def test_a_service_outage_loses_no_stamp(tmp_path, data_dir):
    import types

    from integritas_gui.sandbox.server import SandboxServer
    from tests.sandbox_fixture import TEST_API_KEY, TEST_BLOCK_TIME, closed_port

    port = closed_port()  # nothing listens there yet
    folder = tmp_path / "lab"
    folder.mkdir()
    page = folder / "page 1.txt"
    page.write_text("measured while the service was down")
    down = types.SimpleNamespace(base_url=f"http://127.0.0.1:{port}/core", api_key=TEST_API_KEY)
    w = WatchProcess(down, data_dir, str(folder), "--rescan", "1")
    try:
        failed = w.wait_for(lambda l: l.get("event") == "stamp" and l["path"] == str(page))
        assert failed["state"] == "failed" and w.process.poll() is None
        server = SandboxServer("127.0.0.1", port, api_key=TEST_API_KEY, block_time=TEST_BLOCK_TIME)
        server.start()
        try:
            w.wait_for(confirmed(page), timeout=30)  # tried again by the next rescan
        finally:
            w.stop()
            server.close()
    finally:
        if w.process.poll() is None:
            w.process.kill()
