"""core.hashing against the reference tools (openssl, b3sum) on real files, and its failure modes."""

from __future__ import annotations

import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
import tracemalloc
from pathlib import Path

import blake3
import pytest

from integritas_gui.core import hashing
from integritas_gui.core.errors import BadInput, Cancelled, FileChanged, FileProblem
from integritas_gui.core.hashing import (
    CHUNK_SIZE,
    INLINE_LIMIT,
    MAX_SEGMENTS,
    MIN_SEGMENT_SIZE,
    FileDigest,
    hash_file,
    hash_many,
    segment_size_for,
    segments_root,
)

REPO = Path(__file__).resolve().parents[2]
KiB, MiB, GiB = 1024, 1024**2, 1024**3

needs_tools = pytest.mark.skipif(
    not (shutil.which("openssl") and shutil.which("b3sum")), reason="openssl and b3sum are needed"
)


def openssl_sha3(path) -> str:
    out = subprocess.run(["openssl", "dgst", "-sha3-256", "-r", os.fsencode(path)],
                         check=True, capture_output=True).stdout
    return out.split()[0].decode().lower()


def b3sum(path) -> str:
    out = subprocess.run(["b3sum", "--no-names", os.fsencode(path)], check=True, capture_output=True).stdout
    return out.strip().decode()


def pattern(size: int, seed: int = 1) -> bytes:
    """Deterministic bytes that are not all alike (so misplaced segments are noticed)."""
    block = blake3.blake3(seed.to_bytes(8, "big")).digest(length=min(size, 1 * MiB) or 1)
    return (block * (size // len(block) + 1))[:size]


def write(path: Path, size: int, seed: int = 1) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pattern(size, seed))
    return path


def reference_root(segment_size: int, file_size: int, raw_digests: list[bytes]) -> str:
    """The segments root written out from its definition, independently of the module."""
    return blake3.blake3(
        b"integritas-segments-v1\0" + struct.pack(">QQ", segment_size, file_size) + b"".join(raw_digests)
    ).hexdigest()


def check_digest_by_slices(digest: FileDigest, data: bytes) -> None:
    size = digest.segment_size
    raw = [blake3.blake3(data[i : i + size]).digest() for i in range(0, len(data), size)]
    assert list(digest.segments) == [d.hex() for d in raw]
    assert digest.segments_root == reference_root(size, len(data), raw)
    assert digest.blake3 == blake3.blake3(data).hexdigest()


# ---------------------------------------------------------------------------------------------
# Agreement with openssl and b3sum


@needs_tools
@pytest.mark.parametrize(
    "size",
    [0, 1, 65535, 65536, 65537, 3 * 64 * KiB + 1, INLINE_LIMIT, INLINE_LIMIT + 1, 5 * MiB + 3],
)
def test_agrees_with_openssl_and_b3sum(tmp_path, size):
    path = write(tmp_path / f"file-{size}.bin", size)
    digest = hash_file(path)
    assert digest.sha3_256 == openssl_sha3(path)
    assert digest.blake3 == b3sum(path)
    assert digest.size == size
    assert digest.path == str(path)
    check_digest_by_slices(digest, path.read_bytes())


@needs_tools
@pytest.mark.parametrize(
    "relative",
    [
        "name with spaces.txt",
        "naïve ünïcødé 📄 שלום עולם.txt",
        "nested/deeper/still deeper/file.bin",
        os.fsdecode(b"invalid utf-8 \xff\xfe.bin"),
    ],
)
def test_agrees_on_awkward_names_and_nested_folders(tmp_path, relative):
    path = write(tmp_path / relative, 200 * KiB + 7, seed=len(relative))
    digest = hash_file(path)
    assert digest.sha3_256 == openssl_sha3(path)
    assert digest.blake3 == b3sum(path)
    assert os.fsencode(digest.path) == os.fsencode(str(path))


def test_accepts_bytes_and_pathlike_and_relative_paths(tmp_path, monkeypatch):
    path = write(tmp_path / "a.bin", 1000)
    monkeypatch.chdir(tmp_path)
    expected = hash_file(str(path))
    assert hash_file(os.fsencode(str(path))) == expected
    assert hash_file(Path("a.bin")) == expected


@needs_tools
@pytest.mark.slow
def test_file_over_4_gib_agrees_with_openssl_and_b3sum(tmp_path):
    """One sparse file just over 4 GiB with data around the 4 GiB boundary, hashed once by each tool."""
    path = tmp_path / "sparse over 4 GiB.img"
    size = 4 * GiB + 65537
    marks = {0: b"start", 2**32 - 3: b"across-4GiB", size - 4: b"end!"}
    with open(path, "wb") as handle:
        handle.truncate(size)
        for offset, data in marks.items():
            handle.seek(offset)
            handle.write(data)
    digest = hash_file(path)
    assert digest.size == size
    assert digest.segment_size == 512 * KiB  # 256 KiB would give 16,385 segments
    assert digest.segment_count == -(-size // (512 * KiB)) <= MAX_SEGMENTS
    assert digest.sha3_256 == openssl_sha3(path)
    assert digest.blake3 == b3sum(path)
    # the segment holding the 4 GiB boundary and the last one, checked by their own slices
    with open(path, "rb") as handle:
        for index in (2**32 // digest.segment_size - 1, 2**32 // digest.segment_size, digest.segment_count - 1):
            offset, length = digest.segment_range(index)
            handle.seek(offset)
            assert digest.segments[index] == blake3.blake3(handle.read(length)).hexdigest()
    assert digest.segments_root == reference_root(
        digest.segment_size, size, [bytes.fromhex(s) for s in digest.segments]
    )


# ---------------------------------------------------------------------------------------------
# Segments


def test_segments_match_blake3_of_each_slice_with_forced_size(tmp_path):
    data = pattern(10 * 64 * KiB + 12345, seed=7)
    path = tmp_path / "segments.bin"
    path.write_bytes(data)
    for segment_size in (64 * KiB, 128 * KiB, 4 * MiB):
        digest = hash_file(path, segment_size=segment_size)
        assert digest.segment_size == segment_size
        check_digest_by_slices(digest, data)
        last = digest.segment_count - 1
        assert digest.segment_range(0) == (0, min(segment_size, len(data)))
        assert digest.segment_range(last) == (last * segment_size, len(data) - last * segment_size)
        with pytest.raises(IndexError):
            digest.segment_range(digest.segment_count)


def test_segments_when_chunks_and_segments_do_not_line_up(tmp_path):
    """Segments bigger than a chunk, and a file ending mid-segment, in the pipelined path."""
    data = pattern(3 * CHUNK_SIZE + 5 * 64 * KiB + 3, seed=9)
    path = tmp_path / "unaligned.bin"
    path.write_bytes(data)
    check_digest_by_slices(hash_file(path, segment_size=2 * CHUNK_SIZE), data)
    check_digest_by_slices(hash_file(path, segment_size=64 * KiB), data)


def test_empty_file_has_zero_segments(tmp_path):
    path = tmp_path / "empty"
    path.write_bytes(b"")
    digest = hash_file(path)
    assert digest.segment_count == 0 and digest.segments == ()
    assert digest.segment_size == MIN_SEGMENT_SIZE
    assert digest.segments_root == reference_root(MIN_SEGMENT_SIZE, 0, [])
    assert digest.sha3_256 == "a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a"
    assert digest.blake3 == "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"


@pytest.mark.parametrize(
    "file_size, expected",
    [
        (0, 64 * KiB),
        (1, 64 * KiB),
        (MAX_SEGMENTS * 64 * KiB, 64 * KiB),
        (MAX_SEGMENTS * 64 * KiB + 1, 128 * KiB),
        (MAX_SEGMENTS * 128 * KiB, 128 * KiB),
        (MAX_SEGMENTS * 128 * KiB + 1, 256 * KiB),
        (2 * GiB, 128 * KiB),
        (4 * GiB + 65537, 512 * KiB),
    ],
)
def test_segment_size_boundaries(file_size, expected):
    assert segment_size_for(file_size) == expected


@pytest.mark.parametrize("file_size", [100 * 10**9, 2**40 + 1, 10**15])
def test_segment_size_keeps_big_files_within_the_limit(file_size):
    size = segment_size_for(file_size)
    assert size >= MIN_SEGMENT_SIZE and size & (size - 1) == 0
    assert -(-file_size // size) <= MAX_SEGMENTS
    assert -(-file_size // (size // 2)) > MAX_SEGMENTS  # the smallest that fits


def test_segment_size_rejects_negative_sizes():
    with pytest.raises(BadInput):
        segment_size_for(-1)


@pytest.mark.parametrize("bad", [0, 1000, 32 * KiB, 3 * 64 * KiB, -64 * KiB, True, 65536.0])
def test_forced_segment_size_must_be_a_power_of_two_of_64_kib(tmp_path, bad):
    path = write(tmp_path / "f", 10)
    with pytest.raises(BadInput, match="segment size"):
        hash_file(path, segment_size=bad)


def test_segments_root_checks_its_inputs():
    one = blake3.blake3(b"x").hexdigest()
    assert segments_root(64 * KiB, 1, [one]) == reference_root(64 * KiB, 1, [bytes.fromhex(one)])
    with pytest.raises(BadInput, match="segment list"):
        segments_root(64 * KiB, 64 * KiB + 1, [one])
    with pytest.raises(BadInput, match="Segment 0"):
        segments_root(64 * KiB, 1, ["zz" * 32])
    with pytest.raises(BadInput):
        segments_root(1000, 1, [one])


# ---------------------------------------------------------------------------------------------
# Progress, cancellation, memory


@pytest.mark.parametrize("size", [300 * KiB, 48 * MiB + 1])
def test_progress_is_monotone_throttled_and_ends_at_size(tmp_path, size):
    path = write(tmp_path / "progress.bin", size)
    calls: list[tuple[int, int]] = []
    started = time.monotonic()
    hash_file(path, progress=lambda done, total: calls.append((done, total)))
    elapsed = time.monotonic() - started
    assert calls[0] == (0, size) and calls[-1] == (size, size)
    assert all(total == size for _, total in calls)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)
    assert len(calls) <= elapsed * 20 + 3


def test_progress_runs_on_the_calling_thread(tmp_path):
    path = write(tmp_path / "big.bin", 4 * MiB)
    threads = set()
    hash_file(path, progress=lambda done, total: threads.add(threading.get_ident()))
    assert threads == {threading.get_ident()}


@pytest.mark.parametrize("size", [100 * KiB, 16 * MiB])
def test_cancel_between_chunks_raises_cancelled_and_leaves_no_thread(tmp_path, size):
    path = write(tmp_path / "cancel.bin", size)
    cancel = threading.Event()
    before = threading.active_count()
    with pytest.raises(Cancelled):
        hash_file(path, cancel=cancel, progress=lambda done, total: cancel.set())
    assert threading.active_count() == before
    with pytest.raises(Cancelled):
        hash_file(path, cancel=cancel)


def test_memory_stays_bounded_on_a_big_file(tmp_path):
    path = tmp_path / "sparse.img"
    with open(path, "wb") as handle:
        handle.truncate(256 * MiB)
    tracemalloc.start()
    try:
        hash_file(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < (hashing.PIPELINE_BUFFERS + 2) * CHUNK_SIZE + 2 * MiB


# ---------------------------------------------------------------------------------------------
# A file that changes while it is hashed


def grow_on_first_call(path: Path):
    state = {"grown": False}

    def progress(done, total):
        if not state["grown"]:
            state["grown"] = True
            with open(path, "ab") as handle:
                handle.write(b"more")

    return progress


@pytest.mark.parametrize("size", [10 * KiB, 8 * MiB])
def test_file_growing_while_hashed_raises_file_changed(tmp_path, size):
    path = write(tmp_path / "growing log.txt", size)
    with pytest.raises(FileChanged) as caught:
        hash_file(path, progress=grow_on_first_call(path))
    assert "growing log.txt" in caught.value.message
    assert "changed while it was being hashed" in caught.value.message
    assert "hash it again" in caught.value.message
    assert caught.value.path == str(path)


def test_file_touched_while_hashed_raises_file_changed(tmp_path):
    path = write(tmp_path / "touched.bin", 3 * MiB)

    def touch(done, total):
        os.utime(path, ns=(0, 10**9))

    with pytest.raises(FileChanged, match="touched.bin"):
        hash_file(path, progress=touch)


def test_file_replaced_while_hashed_raises_file_changed(tmp_path):
    path = write(tmp_path / "replaced.bin", 3 * MiB)
    other = write(tmp_path / "other.bin", 3 * MiB, seed=2)
    stat = path.stat()
    os.utime(other, ns=(stat.st_atime_ns, stat.st_mtime_ns))

    def replace(done, total):
        if other.exists():
            os.replace(other, path)

    with pytest.raises(FileChanged, match="replaced.bin"):
        hash_file(path, progress=replace)


def test_file_deleted_while_hashed_raises_file_changed(tmp_path):
    path = write(tmp_path / "deleted.bin", 3 * MiB)
    with pytest.raises(FileChanged, match="deleted.bin"):
        hash_file(path, progress=lambda done, total: path.unlink(missing_ok=True))


# ---------------------------------------------------------------------------------------------
# Things that are not hashable files


def test_missing_file(tmp_path):
    with pytest.raises(FileProblem, match="“gone.txt” was not found") as caught:
        hash_file(tmp_path / "gone.txt")
    assert not isinstance(caught.value, FileChanged)


def test_folder_is_refused(tmp_path):
    (tmp_path / "a folder").mkdir()
    with pytest.raises(FileProblem, match="“a folder” is a folder"):
        hash_file(tmp_path / "a folder")


@pytest.mark.timeout(20)
def test_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "my pipe"
    os.mkfifo(fifo)
    with pytest.raises(FileProblem, match="“my pipe” is a named pipe"):
        hash_file(fifo)


def test_socket_is_refused(tmp_path):
    path = tmp_path / "s.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        server.bind(str(path))
        with pytest.raises(FileProblem, match="“s.sock” is a socket"):
            hash_file(path)
    finally:
        server.close()


def test_device_is_refused():
    with pytest.raises(FileProblem, match="“null” is a device"):
        hash_file("/dev/null")


def test_symlink_loop_is_refused(tmp_path):
    (tmp_path / "loop-a").symlink_to(tmp_path / "loop-b")
    (tmp_path / "loop-b").symlink_to(tmp_path / "loop-a")
    with pytest.raises(FileProblem, match="“loop-a” is a symbolic link that loops"):
        hash_file(tmp_path / "loop-a")


def test_symlink_to_a_file_hashes_the_file(tmp_path):
    target = write(tmp_path / "target.bin", 5000)
    (tmp_path / "link").symlink_to(target)
    assert hash_file(tmp_path / "link").sha3_256 == hash_file(target).sha3_256


def run_without_root_privileges(code: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a child that cannot bypass file permissions, even when we are root."""
    command = [sys.executable, "-c", code]
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if not setpriv:
            pytest.skip("running as root without setpriv: permission checks cannot be simulated")
        command = [setpriv, "--bounding-set", "-dac_override,-dac_read_search", *command]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
    if done.returncode != 0:
        pytest.skip(f"cannot drop privileges here: {done.stderr.strip()[-300:]}")
    return done


def test_permission_denied(tmp_path):
    path = write(tmp_path / "secret file.txt", 100)
    path.chmod(0)
    code = (
        "import json, sys\n"
        "from integritas_gui.core.hashing import hash_file\n"
        "from integritas_gui.core.errors import FileProblem\n"
        "try:\n"
        f"    hash_file({str(path)!r})\n"
        "    print(json.dumps(None))\n"
        "except FileProblem as error:\n"
        "    print(json.dumps([type(error).__name__, error.message]))\n"
    )
    result = json.loads(run_without_root_privileges(code).stdout)
    assert result is not None, "the file could be read: permissions were not applied"
    kind, message = result
    assert kind == "FileProblem"
    assert "“secret file.txt” cannot be read: permission denied" in message


# ---------------------------------------------------------------------------------------------
# Many files


def test_hash_many_delivers_every_result_and_never_raises_for_a_file(tmp_path):
    good = [write(tmp_path / "many" / f"file {n:03d}.bin", n * 997 + (n % 3) * MiB, seed=n) for n in range(40)]
    fifo = tmp_path / "many" / "pipe"
    os.mkfifo(fifo)
    bad = [tmp_path / "missing.bin", tmp_path / "many", fifo]
    results: dict[str, object] = {}
    lock = threading.Lock()
    progress_paths = set()

    def on_result(path, outcome):
        with lock:
            assert path not in results
            results[path] = outcome

    def progress(path, done, total):
        with lock:
            progress_paths.add(path)

    hash_many((p for p in good + bad), workers=3, on_result=on_result, progress=progress)
    assert set(results) == {str(p) for p in good + bad}
    for path in good:
        assert results[str(path)] == hash_file(path)
    for path in bad:
        assert isinstance(results[str(path)], FileProblem)
    assert progress_paths == {str(p) for p in good}


def test_hash_many_single_worker_and_empty_input(tmp_path):
    path = write(tmp_path / "one.bin", 10)
    seen = []
    hash_many([path], workers=1, on_result=lambda p, r: seen.append((p, r.sha3_256)))
    assert seen == [(str(path), hash_file(path).sha3_256)]
    hash_many([], workers=2, on_result=lambda p, r: pytest.fail("no files, no results"))


def test_hash_many_stops_when_cancelled(tmp_path):
    paths = [write(tmp_path / f"f{n}.bin", 2 * MiB, seed=n) for n in range(30)]
    cancel = threading.Event()
    results = []

    def on_result(path, outcome):
        results.append(outcome)
        cancel.set()

    hash_many(paths, workers=2, cancel=cancel, on_result=on_result)
    assert 1 <= len(results) <= 2  # what was running when cancel came in, nothing new after


def test_hash_many_raises_a_callback_bug(tmp_path):
    paths = [write(tmp_path / f"f{n}.bin", 10, seed=n) for n in range(5)]

    def on_result(path, outcome):
        raise ZeroDivisionError("bug in the caller")

    with pytest.raises(ZeroDivisionError):
        hash_many(paths, workers=2, on_result=on_result)
