"""Bad input, at least 25 kinds: each gets one plain per-file message (or is handled as the ordinary
file it is), nothing hangs, nothing crashes. Through the CLI (`integritas hash` / `stamp`, as a real
process, so stderr is the real one) and through core.walk / core.hashing."""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from integritas_gui.core.errors import BadInput, Cancelled, FileChanged, FileProblem, IntegritasError
from integritas_gui.core.hashing import hash_file, segment_size_for
from integritas_gui.core.walk import expand_paths
from tests.sandbox_fixture import sandbox_stats

EMPTY_SHA3 = "a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a"
NOBODY = 65534


def cli(*argv: str, env: dict | None = None, timeout: float = 60) -> tuple[int, list[dict], str]:
    """The real `integritas` process; a FIFO that blocked it would trip the timeout."""
    result = subprocess.run([sys.executable, "-m", "integritas_gui.cli", *argv, "--json"],
                            capture_output=True, timeout=timeout, env={**os.environ, **(env or {})})
    err = result.stderr.decode("utf-8", "replace")
    assert "Traceback" not in err, err
    lines = [json.loads(line) for line in result.stdout.decode("utf-8").splitlines() if line.strip()]
    return result.returncode, lines, err


# ---- the zoo: one folder holding most kinds, each with what the app must say about it -----------
# expected: "hash" (an ordinary file, hashed), or a phrase of the plain per-file message
ZOO_EXPECTED = {
    "empty.txt": "hash",
    "empty folder": "is an empty folder",  # dropped on its own (inside a folder it gives nothing)
    "nested/a/b/c": "is an empty folder",
    "link to file": "hash",
    "loop a": "loops back on itself",
    "folder loop/up": "a link back into a folder",
    "dangling": "no longer exists",
    "fifo": "named pipe (FIFO)",
    "socket": "socket",
    "name with  spaces .txt": "hash",
    "emoji 📄🔒✅.txt": "hash",
    "עברית مرحبا rtl.txt": "hash",
    os.fsdecode(b"invalid \xff\xfe utf8.txt"): "hash",
}


@pytest.fixture
def zoo(tmp_path) -> Path:
    root = tmp_path / "zoo"
    root.mkdir()
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"the link's target\n")
    (root / "empty.txt").write_bytes(b"")
    (root / "empty folder").mkdir()
    (root / "nested/a/b/c").mkdir(parents=True)
    (root / "link to file").symlink_to(outside)
    (root / "loop a").symlink_to(root / "loop b")
    (root / "loop b").symlink_to(root / "loop a")
    (root / "folder loop").mkdir()
    (root / "folder loop/up").symlink_to(root / "folder loop")
    (root / "dangling").symlink_to(tmp_path / "gone.txt")
    os.mkfifo(root / "fifo")
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(root / "socket"))
    for name in ("name with  spaces .txt", "emoji 📄🔒✅.txt", "עברית مرحبا rtl.txt"):
        (root / name).write_text(f"content of {name}\n", encoding="utf-8")
    with open(os.path.join(os.fsencode(root), b"invalid \xff\xfe utf8.txt"), "wb") as handle:
        handle.write(b"a name that is not text\n")
    yield root
    listener.close()


def _expect(line: dict, expected: str) -> None:
    if expected == "hash":
        assert "error" not in line and len(line["sha3_256"]) == 64, line
    else:
        assert expected in line["error"], line
        assert "\n" not in line["error"] and "Traceback" not in line["error"]


def test_cli_hash_gives_one_plain_line_per_odd_entry(zoo):
    """Each entry dropped on its own, all in one command: one line each, in under a minute."""
    names = list(ZOO_EXPECTED) + ["/dev/null", "missing.txt"]
    args = [str(zoo / n) if not n.startswith("/") else n for n in names]
    started = time.monotonic()
    code, lines, err = cli("hash", *args)
    assert time.monotonic() - started < 60
    assert code == 2  # some entries are bad input
    by_path = {line["path"]: line for line in lines}
    assert len(lines) == len(names), [l["path"] for l in lines]
    # a link to its own folder, dropped on its own, is walked once: the loop shows one level down
    by_path[str(zoo / "folder loop/up")] = by_path.pop(str(zoo / "folder loop/up/up"))
    for name, expected in ZOO_EXPECTED.items():
        _expect(by_path[str(zoo / name)], expected)
    _expect(by_path["/dev/null"], "is a device")
    _expect(by_path[str(zoo / "missing.txt")], "was not found")
    assert by_path[str(zoo / "empty.txt")]["sha3_256"] == EMPTY_SHA3
    assert by_path[str(zoo / "empty.txt")]["segment_count"] == 0
    # the invalid UTF-8 name comes back escaped, and maps back to the real file
    weird = os.fsencode(str(zoo / os.fsdecode(b"invalid \xff\xfe utf8.txt")))
    assert os.path.exists(os.fsencode(os.fsdecode(weird)))


def test_cli_hash_of_the_folder_lists_files_and_refusals(zoo):
    code, lines, _ = cli("hash", str(zoo))
    by_path = {line["path"]: line for line in lines}
    for name, expected in ZOO_EXPECTED.items():
        if name in ("empty folder", "nested/a/b/c"):
            assert str(zoo / name) not in by_path  # empty folders inside a folder are just skipped
            continue
        _expect(by_path[str(zoo / name)], expected)
    assert code == 2


def test_invalid_utf8_name_on_a_strict_utf8_terminal(zoo):
    """A desktop terminal (en_US.UTF-8) has strict stdout: the name is escaped, never a crash."""
    target = os.path.join(os.fsencode(zoo), b"invalid \xff\xfe utf8.txt")
    for extra in ([], ["--json"]):
        result = subprocess.run([sys.executable, "-m", "integritas_gui.cli", "hash", target, *extra],
                                capture_output=True, timeout=60,
                                env={**os.environ, "PYTHONIOENCODING": "utf-8"})
        assert result.returncode == 0, result.stderr.decode()
        assert b"\\udcff\\udcfe" in result.stdout


def test_cli_stamp_of_the_zoo_records_every_entry(zoo, sandbox, tmp_path):
    data = tmp_path / "data"
    code, lines, err = cli("stamp", str(zoo / "empty folder"), str(zoo), "/dev/null",
                           "--base-url", sandbox.base_url, "--api-key", sandbox.api_key,
                           env={"INTEGRITAS_DATA_DIR": str(data)})
    assert code == 2, err
    by_path = {line["path"]: line for line in lines}
    for name, expected in ZOO_EXPECTED.items():
        if name == "nested/a/b/c":
            continue
        if name.startswith("invalid"):
            # the history holds UTF-8 text: such a name is refused with a plain message
            line = by_path[str(zoo / "invalid \\xff\\xfe utf8.txt")]
            assert line["state"] == "failed" and "not valid text" in line["error"], line
            continue
        line = by_path[str(zoo / name)]
        if expected == "hash":
            assert line["state"] == "pending" and line["sha3_256"], line
        else:
            assert line["state"] == "failed" and expected in line["error"], line
    assert by_path["/dev/null"]["state"] == "failed"
    good = sum(1 for e in ZOO_EXPECTED.values() if e == "hash") - 1  # less the invalid UTF-8 name
    assert sandbox_stats(sandbox)["submissions"] == good
    db = sqlite3.connect(data / "history.sqlite3")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert db.execute("SELECT COUNT(*) FROM jobs").fetchone()[0] == len(lines)
    db.close()


def test_same_file_dropped_twice_is_one_job(sandbox, tmp_path):
    file = tmp_path / "twice.txt"
    file.write_text("dropped twice\n")
    (tmp_path / "hard link.txt").hardlink_to(file)
    data = tmp_path / "data"
    code, lines, _ = cli("stamp", str(file), str(file), str(tmp_path / "hard link.txt"),
                         "--base-url", sandbox.base_url, "--api-key", sandbox.api_key,
                         env={"INTEGRITAS_DATA_DIR": str(data)})
    assert code == 0 and len(lines) == 1
    assert sandbox_stats(sandbox)["submissions"] == 1
    assert [i.path for i in expand_paths([file, file, tmp_path / "hard link.txt"])] == [str(file)]


# ---- permission denied: root reads everything, so a child process becomes `nobody` --------------

def _as_nobody(work) -> dict:
    """Run ``work()`` in a forked child with uid/gid nobody; returns what it returned (JSON)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        status = 0
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            payload = json.dumps(work()).encode()
        except BaseException as exc:  # report, never raise out of a forked pytest
            payload = json.dumps({"child_error": repr(exc)}).encode()
            status = 1
        with os.fdopen(write_end, "wb") as out:
            out.write(payload)
        os._exit(status)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        payload = pipe.read()
    os.waitpid(pid, 0)
    return json.loads(payload)


@pytest.mark.skipif(os.name != "posix" or not hasattr(os, "fork"), reason="needs fork/setuid")
def test_permission_denied_file_and_folder():
    if os.geteuid() == 0:
        base = Path(tempfile.mkdtemp(prefix="integritas-perm-", dir="/tmp"))
        os.chmod(base, 0o755)
    else:
        base = Path(tempfile.mkdtemp(prefix="integritas-perm-"))
    try:
        secret = base / "secret.txt"
        secret.write_text("no reading\n")
        os.chmod(secret, 0o000)
        closed = base / "closed folder"
        closed.mkdir()
        (closed / "inner.txt").write_text("x")
        os.chmod(closed, 0o000)
        readable = base / "fine.txt"
        readable.write_text("fine\n")
        os.chmod(readable, 0o644)

        def work():
            walked = {i.path: i.error for i in expand_paths([base])}
            try:
                hash_file(secret)
                hashed = None
            except FileProblem as exc:
                hashed = exc.message
            return {"walked": walked, "hashed": hashed}

        result = _as_nobody(work) if os.geteuid() == 0 else work()
        assert "child_error" not in result, result
        walked = result["walked"]
        assert "permission denied" in walked[str(secret)]
        assert "cannot be opened: permission denied" in walked[str(closed)]
        assert walked[str(readable)] is None
        assert "permission denied" in result["hashed"]
    finally:
        for path in base.rglob("*"):
            os.chmod(path, 0o700)
        shutil.rmtree(base)


# ---- files that change while they are hashed ----------------------------------------------------

@pytest.mark.parametrize("change", ["deleted", "growing", "rewritten", "rewritten, old mtime put back"])
def test_file_changed_during_hashing(tmp_path, change):
    path = tmp_path / "moving.bin"
    # Big enough that progress is reported mid-file (calls are at most every 50 ms) however fast
    # the machine hashes it.
    path.write_bytes(os.urandom(4 * 1024 * 1024) * 24)
    # File times move in clock ticks (a few ms): a change within the tick of the last write cannot
    # be seen by any stat-based check, so the change here comes a tick later, as it would in life.
    time.sleep(0.03)
    fired = []

    def meddle():
        if change == "deleted":
            path.unlink()
        elif change == "growing":
            with open(path, "ab") as handle:
                handle.write(b"more")
        else:
            before = os.stat(path)
            with open(path, "r+b") as handle:
                handle.seek(90 * 1024 * 1024)
                handle.write(b"rewritten")
            if change.endswith("put back"):
                os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))

    def progress(done, total):
        if not fired and 0 < done < 64 * 1024 * 1024:
            fired.append(done)
            meddle()

    with pytest.raises(FileChanged) as caught:
        hash_file(path, progress=progress)
    assert fired and "changed while it was being hashed" in caught.value.message


# ---- big, long, many ----------------------------------------------------------------------------

def test_sparse_8_gib_file_walks_and_hashes_with_progress_and_cancel(tmp_path):
    path = tmp_path / "sparse.img"
    with open(path, "wb") as handle:
        handle.truncate(8 * 1024**3)
    [item] = list(expand_paths([path]))
    assert item.error is None and item.size == 8 * 1024**3
    assert segment_size_for(item.size) == 512 * 1024
    cancel = threading.Event()
    seen = []

    def progress(done, total):
        seen.append(done)
        if done >= 256 * 1024 * 1024:
            cancel.set()

    started = time.monotonic()
    with pytest.raises(Cancelled):
        hash_file(path, progress=progress, cancel=cancel)
    assert time.monotonic() - started < 30
    assert seen[0] == 0 and max(seen) >= 256 * 1024 * 1024


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("INTEGRITAS_SLOW"), reason="hashes 8 GiB: scripts/reliability_soak.py")
def test_sparse_8_gib_file_hashes_in_full_through_the_cli(tmp_path):
    path = tmp_path / "sparse.img"
    with open(path, "wb") as handle:
        handle.truncate(8 * 1024**3)
    started = time.monotonic()
    code, [line], _ = cli("hash", str(path), timeout=1200)
    print(f"\n8 GiB sparse file hashed by the CLI in {time.monotonic() - started:.0f} s")
    assert code == 0 and line["size"] == 8 * 1024**3 and line["segment_count"] == 16384


def test_very_long_paths(tmp_path):
    folder = str(tmp_path)
    while len(folder) < 3700:
        folder = os.path.join(folder, "d" * 200)
    os.makedirs(folder)
    long_file = os.path.join(folder, "f" * (4000 - len(folder) - 1))
    assert len(long_file) == 4000
    Path(long_file).write_text("a 4000-character path\n")
    too_long = os.path.join(long_file + "-folder", "x" * 200)  # past PATH_MAX (4096)
    code, lines, _ = cli("hash", long_file, too_long)
    by_path = {line["path"]: line for line in lines}
    assert len(by_path[long_file]["sha3_256"]) == 64
    assert "File name too long" in by_path[too_long]["error"] or "not found" in by_path[too_long]["error"]
    assert code == 2
    assert [i.error for i in expand_paths([tmp_path])] == [None]


@pytest.mark.slow  # the normal run walks 100,000 files in tests/unit/test_walk.py
def test_folder_of_100000_files_walks_lazily(tmp_path):
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(100_000):
        os.close(os.open(folder / f"{i:06d}", os.O_CREAT | os.O_WRONLY, 0o644))
    started = time.monotonic()
    walk = expand_paths([folder])
    first = next(walk)
    assert first.path.endswith("000000") and first.error is None
    count = 1 + sum(1 for _ in walk)
    elapsed = time.monotonic() - started
    assert count == 100_000
    assert elapsed < 60
    print(f"\n100,000 files walked in {elapsed:.1f} s")


# ---- hashes, receipts, proofs -------------------------------------------------------------------

@pytest.mark.parametrize("bad", ["not-a-hash", "zz" * 32, "ab" * 31, "ab" * 33, "", "0x" + "g" * 64,
                                 "ab" * 32 + "\u200b"])
def test_bad_hash_is_refused_before_anything_is_sent(bad, sandbox, tmp_path):
    code, lines, err = cli("check", "--hash", bad, "--base-url", sandbox.base_url,
                           "--api-key", sandbox.api_key, env={"INTEGRITAS_DATA_DIR": str(tmp_path / "d")})
    assert code == 2 and lines == [] and err.count("\n") == 1 and err.startswith("integritas: ")
    assert sandbox_stats(sandbox)["requests"] == 0


@pytest.mark.parametrize("content", [b"", b"{not json", b"[]", b'{"format": "integritas-receipt"}',
                                     b"\xff\xfe\x00garbage", b'{"format": "integritas-receipt", "version": 99}'])
def test_corrupt_receipt_is_a_plain_message(content, tmp_path):
    file = tmp_path / "doc.txt"
    file.write_text("hello\n")
    receipt = tmp_path / "doc.txt.receipt.json"
    receipt.write_bytes(content)
    code, lines, err = cli("receipt", str(file), "--verify", str(receipt))
    assert code == 2 and lines == [] and err.startswith("integritas: ") and err.count("\n") == 1, err


def test_v1_proof_with_a_wrong_root_is_rejected(tmp_path):
    from integritas_gui.core.v1proof import ROOT_MISMATCH, VALID, parse_v1_proofs

    good = {"address": "0xFFEEDD",
            "data": "0xE630FCDE204036E93323AE99843BF0EC6D03CAEB51CBBEA11E03D6739F8E9C3F",
            "proof": "0x000100000100",
            "root": "0x1384FA6242E0D750FFA9366EFC7A0AC226E7EFD14EC5DF70DD50E36188AC0EA6"}
    wrong = dict(good, root="0x" + "1384FA6242E0D750FFA9366EFC7A0AC226E7EFD14EC5DF70DD50E36188AC0EA7")
    [checked_good, checked_wrong] = parse_v1_proofs(json.dumps([good, wrong]))
    assert checked_good.status == VALID
    assert checked_wrong.status == ROOT_MISMATCH and not checked_wrong.ok
    assert "does not match" in checked_wrong.why
    for damaged in ("[{}]", "{", "[1]", json.dumps([dict(good, data="0x1234")])):
        with pytest.raises(BadInput):
            parse_v1_proofs(damaged)


# ---- the history database -----------------------------------------------------------------------

def test_history_locked_by_another_process(tmp_path):
    data = tmp_path / "data"
    env = {"INTEGRITAS_DATA_DIR": str(data)}
    cli("history", env=env)  # creates the database
    file = tmp_path / "x.txt"
    file.write_text("x")
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sqlite3, sys, time\n"
        f"db = sqlite3.connect({str(data / 'history.sqlite3')!r}, isolation_level=None)\n"
        "db.execute('BEGIN EXCLUSIVE'); print('locked', flush=True); time.sleep(60)")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        started = time.monotonic()
        code, lines, err = cli("stamp", str(file), "--base-url", "http://127.0.0.1:9/core",
                               "--api-key", "k-123456", env=env, timeout=60)
        assert time.monotonic() - started < 30
    finally:
        holder.kill()
        holder.wait()
    assert code == 3 and "in use by another program" in err and err.count("\n") == 1, err


def test_history_corrupt(tmp_path):
    data = tmp_path / "data"
    env = {"INTEGRITAS_DATA_DIR": str(data)}
    cli("history", env=env)
    db_file = data / "history.sqlite3"
    for extra in ("-wal", "-shm"):
        Path(str(db_file) + extra).unlink(missing_ok=True)
    db_file.write_bytes(b"this is not a database" * 100)
    code, lines, err = cli("history", env=env)
    assert code == 3 and "is damaged" in err and err.count("\n") == 1, err


# ---- a full disk while saving a report ----------------------------------------------------------

@pytest.fixture
def full_disk(tmp_path):
    """A 64 KiB tmpfs, filled up (needs root's mount; skipped where that is not allowed)."""
    mount_point = tmp_path / "full"
    mount_point.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs",
                                            str(mount_point)], capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tiny tmpfs here (needs root)")
    try:
        try:
            with open(mount_point / "filler", "wb") as handle:
                handle.write(b"x" * 128 * 1024)
        except OSError:
            pass
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_full_disk_while_saving_a_report(full_disk, sandbox, tmp_path):
    file = tmp_path / "report me.txt"
    file.write_text("verify me with a report\n")
    target = full_disk / "report.pdf"
    code, lines, err = cli("verify", str(file), "--report", str(target), "--base-url", sandbox.base_url,
                           "--api-key", sandbox.api_key, env={"INTEGRITAS_DATA_DIR": str(tmp_path / "d")})
    assert code == 2, err
    assert "could not be saved" in err and "No space left on device" in err and "a copy is kept" in err
    assert not target.exists()  # no half-written PDF
    assert lines[0]["state"] == "done" and Path(lines[0]["report_path"]).read_bytes().startswith(b"%PDF-")


def test_full_disk_in_the_client_download(full_disk, sandbox_client):
    """The client's own download into a full folder: plain message, no partial file left."""
    from integritas_gui.core.client import ServiceError

    digest = "ab" * 32
    result = sandbox_client.verify(digest, report=True)
    with pytest.raises(ServiceError) as caught:
        sandbox_client.download_report(result.report, full_disk)
    assert "disk is full" in caught.value.message
    assert sorted(p.name for p in full_disk.iterdir()) == ["filler"]


def test_walk_and_hash_never_raise_anything_but_plain_errors(zoo):
    """core.walk and core.hashing on every zoo entry: WalkItem errors or IntegritasError only."""
    for item in expand_paths([zoo, zoo / "empty folder", "/dev/null", zoo / "fifo"]):
        if item.error:
            assert "\n" not in item.error
            continue
        try:
            hash_file(item.path)
        except IntegritasError as exc:  # pragma: no cover - every listed file is readable
            pytest.fail(f"{item.path}: {exc.message}")
    for odd in ("fifo", "socket", "dangling", "loop a"):
        with pytest.raises(FileProblem):
            hash_file(zoo / odd)
