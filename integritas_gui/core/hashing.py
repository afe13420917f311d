"""One read pass per file: SHA3-256 (the anchored hash), BLAKE3, and BLAKE3 of fixed-size segments.

SHA3-256 is one sequential stream and the slowest part (about 250-400 MB/s on one core), so a file
bigger than ``INLINE_LIMIT`` is read through a small pipeline:

* a reader thread ``readinto``\\ s preallocated buffers, feeds each one to the whole-file BLAKE3 and
  the current segment's BLAKE3, then hands it to the calling thread;
* the calling thread only updates SHA3-256, then returns the buffer to the reader.

Both ``hashlib`` and ``blake3`` release the GIL on large inputs, so SHA3 keeps one core busy while
reading and BLAKE3 ride on the other. Memory is bounded by ``PIPELINE_BUFFERS * CHUNK_SIZE`` plus
the segment list (at most ``MAX_SEGMENTS`` entries), whatever the file size.

Small files are hashed on the calling thread alone: a thread hand-off would cost more than it saves.

Segments root (also in docs/receipt-format.md)::

    BLAKE3( b"integritas-segments-v1\\0" || uint64_be(segment_size) || uint64_be(file_size)
            || raw 32-byte BLAKE3 digest of each segment, in order )
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import queue
import stat
import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import blake3

from integritas_gui.core.errors import BadInput, Cancelled, FileChanged, FileProblem, IntegritasError

MIN_SEGMENT_SIZE = 64 * 1024
MAX_SEGMENTS = 16_384
SEGMENTS_ROOT_DOMAIN = b"integritas-segments-v1\0"

CHUNK_SIZE = 1024 * 1024
PIPELINE_BUFFERS = 4
INLINE_LIMIT = 1024 * 1024  # files up to this size are hashed without the reader thread
PROGRESS_INTERVAL = 0.05  # seconds: at most about 20 progress calls a second, plus the final one

_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)  # a FIFO swapped in after the stat check must not block the open
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)

ProgressCallback = Callable[[int, int], None]


# ---------------------------------------------------------------------------------------------
# Segments


def segment_size_for(file_size: int) -> int:
    """The smallest power of two >= 64 KiB that cuts ``file_size`` bytes into <= 16,384 segments."""
    if file_size < 0:
        raise BadInput(f"A file size cannot be negative (got {file_size}).")
    size = MIN_SEGMENT_SIZE
    while -(-file_size // size) > MAX_SEGMENTS:
        size *= 2
    return size


def check_segment_size(segment_size: int) -> int:
    """Return ``segment_size`` if it is a power of two of at least 64 KiB, else raise BadInput."""
    if (
        isinstance(segment_size, bool)
        or not isinstance(segment_size, int)
        or segment_size < MIN_SEGMENT_SIZE
        or segment_size & (segment_size - 1)
    ):
        raise BadInput(
            f"{segment_size!r} is not a usable segment size: it must be a power of two of at least "
            f"{MIN_SEGMENT_SIZE} bytes (64 KiB)."
        )
    return segment_size


def segment_count_for(file_size: int, segment_size: int) -> int:
    """How many segments a file of ``file_size`` bytes has: 0 for an empty file."""
    return -(-file_size // segment_size)


def segments_root(segment_size: int, file_size: int, segments: Sequence[str]) -> str:
    """The BLAKE3 root committing to the ordered segment list, as 64 lowercase hex.

    Raises BadInput when the list does not fit the sizes (wrong count, a digest that is not 64 hex).
    An empty file has no segments; its root still commits to the segment size and the size 0.
    """
    check_segment_size(segment_size)
    expected = segment_count_for(file_size, segment_size)
    if len(segments) != expected:
        raise BadInput(
            f"The segment list does not fit the file: {file_size} bytes in segments of "
            f"{segment_size} bytes make {expected} segments, but the list has {len(segments)}."
        )
    raws = []
    for index, segment in enumerate(segments):
        try:
            raw = bytes.fromhex(segment)
        except (TypeError, ValueError):
            raw = b""
        if len(raw) != 32:
            raise BadInput(f"Segment {index} is not a BLAKE3 hash (expected 64 hexadecimal characters).")
        raws.append(raw)
    return _segments_root_raw(segment_size, file_size, raws)


def _segments_root_raw(segment_size: int, file_size: int, digests: Sequence[bytes]) -> str:
    """``segments_root`` from the raw 32-byte digests, sizes already checked."""
    return blake3.blake3(
        b"".join((SEGMENTS_ROOT_DOMAIN, segment_size.to_bytes(8, "big"), file_size.to_bytes(8, "big"), *digests))
    ).hexdigest()


@dataclass(frozen=True)
class FileDigest:
    """Everything one read pass learns about a file.

    An empty file has zero segments (``segment_count == 0``, ``segments == ()``).
    """

    path: str  # absolute path as hashed
    size: int
    mtime_ns: int
    sha3_256: str  # 64 lowercase hex: the anchored hash
    blake3: str  # 64 lowercase hex, whole file
    segment_size: int
    segments: tuple[str, ...]  # BLAKE3 of each segment, 64 lowercase hex each
    segments_root: str
    ctime_ns: int | None = None  # status change time when hashed (a rewrite moves it)

    @property
    def segment_count(self) -> int:
        return len(self.segments)

    def segment_range(self, index: int) -> tuple[int, int]:
        """``(offset, length)`` of segment ``index``; the last one may be shorter."""
        if not 0 <= index < len(self.segments):
            raise IndexError(f"segment {index} is out of range (the file has {len(self.segments)})")
        offset = index * self.segment_size
        return offset, min(self.segment_size, self.size - offset)


class _Blake3Side:
    """Whole-file BLAKE3 and per-segment BLAKE3, fed with consecutive pieces of the file."""

    def __init__(self, segment_size: int, file_size: int):
        # a file of at most one segment: its only segment's BLAKE3 is the whole-file BLAKE3
        self.whole = blake3.blake3() if file_size > segment_size else None
        self.segment_size = segment_size
        self.current = blake3.blake3()
        self.current_length = 0
        self.digests: list[bytes] = []

    def update(self, view: memoryview) -> None:
        if self.whole is not None:
            self.whole.update(view)
        position, end = 0, len(view)
        while position < end:
            take = min(end - position, self.segment_size - self.current_length)
            piece = view[position : position + take]
            if take == self.segment_size:  # a whole segment in this piece: one call
                self.digests.append(blake3.blake3(piece).digest())
            else:
                self.current.update(piece)
                self.current_length += take
                if self.current_length == self.segment_size:
                    self.digests.append(self.current.digest())
                    self.current = blake3.blake3()
                    self.current_length = 0
            position += take

    def finish(self) -> tuple[str, tuple[str, ...]]:
        if self.current_length:
            self.digests.append(self.current.digest())
            self.current_length = 0
        segments = tuple([digest.hex() for digest in self.digests])
        if self.whole is None:
            return (segments[0] if segments else blake3.blake3().hexdigest()), segments
        return self.whole.hexdigest(), segments


# ---------------------------------------------------------------------------------------------
# Plain messages


def display_name(path: str | bytes | os.PathLike) -> str:
    """A file's name as it can be shown: undecodable bytes and control characters escaped."""
    name = os.path.basename(os.fsdecode(os.fspath(path)).rstrip("/" + os.sep)) or os.fsdecode(path)
    name = os.fsencode(name).decode("utf-8", "backslashreplace")
    if not name.isprintable():
        name = "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in name)
    return name


def special_file_message(path: str, mode: int) -> str | None:
    """The plain reason a file of this ``st_mode`` cannot be hashed, or None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    name = display_name(path)
    if stat.S_ISDIR(mode):
        return f"“{name}” is a folder, not a file."
    if stat.S_ISFIFO(mode):
        return f"“{name}” is a named pipe (FIFO), not a regular file, so it cannot be hashed."
    if stat.S_ISSOCK(mode):
        return f"“{name}” is a socket, not a regular file, so it cannot be hashed."
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return f"“{name}” is a device, not a regular file, so it cannot be hashed."
    return f"“{name}” is not a regular file, so it cannot be hashed."


def os_error_message(path: str, error: OSError, *, reading: bool = False) -> str:
    """A plain message, naming the file, for an OSError met while opening or reading it."""
    name = display_name(path)
    if isinstance(error, (FileNotFoundError, NotADirectoryError)):
        return f"“{name}” was not found: it may have been moved, renamed or deleted."
    if isinstance(error, PermissionError):
        return f"“{name}” cannot be read: permission denied. Check that your account may read it."
    if isinstance(error, IsADirectoryError):
        return f"“{name}” is a folder, not a file."
    if error.errno == errno.ELOOP:
        return f"“{name}” is a symbolic link that loops back on itself, so it cannot be hashed."
    what = error.strerror or type(error).__name__
    action = "reading" if reading else "opening"
    return (
        f"“{name}” could not be read ({what} while {action} it). The disk or network share may "
        f"have a problem: check it, or copy the file somewhere else and try again."
    )


def _changed(path: str) -> FileChanged:
    return FileChanged(
        f"“{display_name(path)}” changed while it was being hashed; hash it again when it is no "
        f"longer being written.",
        path,
    )


# ---------------------------------------------------------------------------------------------
# Hashing one file


class _Progress:
    """Calls ``callback`` at most every PROGRESS_INTERVAL seconds, plus the first and last call."""

    def __init__(self, callback: ProgressCallback | None, total: int):
        self.callback = callback
        self.total = total
        self.next_time = 0.0

    def update(self, done: int) -> None:
        if self.callback is None:
            return
        now = time.monotonic()
        if now >= self.next_time:
            self.next_time = now + PROGRESS_INTERVAL
            self.callback(done, self.total)

    def final(self) -> None:
        if self.callback is not None:
            self.callback(self.total, self.total)


_thread_buffers = threading.local()


def _inline_buffer() -> memoryview:
    """One reusable CHUNK_SIZE buffer per thread for small files (no allocation per file)."""
    view = getattr(_thread_buffers, "view", None)
    if view is None:
        view = _thread_buffers.view = memoryview(bytearray(CHUNK_SIZE))
    return view


def _hash_inline(reader: io.FileIO, size: int, side: _Blake3Side, sha3, progress: _Progress,
                 cancel: threading.Event | None) -> int:
    view = _inline_buffer()
    done = 0
    while done <= size:  # reading one chunk past `size` tells a file that grew
        count = reader.readinto(view)
        if not count:
            break
        piece = view[:count]
        sha3.update(piece)
        side.update(piece)
        done += count
        progress.update(min(done, size))
        if cancel is not None and cancel.is_set():
            raise Cancelled()
    return done


def _hash_pipelined(reader: io.FileIO, size: int, side: _Blake3Side, sha3, progress: _Progress,
                    cancel: threading.Event | None) -> int:
    free: queue.SimpleQueue = queue.SimpleQueue()
    filled: queue.SimpleQueue = queue.SimpleQueue()
    for _ in range(PIPELINE_BUFFERS):
        free.put(memoryview(bytearray(CHUNK_SIZE)))
    stop = threading.Event()

    def read_and_blake3() -> None:
        try:
            total = 0
            while total <= size and not stop.is_set():
                view = free.get()
                if view is None:
                    return
                count = reader.readinto(view)
                if not count:
                    break
                side.update(view[:count])
                total += count
                filled.put((view, count))
            filled.put((None, 0))
        except BaseException as error:  # handed to the calling thread, which raises it
            filled.put((error, 0))

    thread = threading.Thread(target=read_and_blake3, name="integritas-hash-reader", daemon=True)
    thread.start()
    done = 0
    try:
        while True:
            view, count = filled.get()
            if view is None:
                break
            if isinstance(view, BaseException):
                raise view
            sha3.update(view[:count])
            free.put(view)
            done += count
            progress.update(min(done, size))
            if cancel is not None and cancel.is_set():
                raise Cancelled()
    finally:
        stop.set()
        free.put(None)
        thread.join()
    return done


def hash_file(
    path: str | bytes | os.PathLike,
    *,
    segment_size: int | None = None,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
) -> FileDigest:
    """Hash one file in one read pass.

    ``progress(bytes_done, bytes_total)`` is called on the calling thread, at most about 20 times a
    second, always once at the start and once at the end with ``bytes_done == bytes_total``.
    ``cancel`` is checked between chunks. ``segment_size`` forces a segment size (a power of two of
    at least 64 KiB); by default ``segment_size_for(size)``. An empty file has zero segments.

    Raises FileProblem (plain message naming the file), FileChanged (size, modification time or
    identity moved while hashing), Cancelled, BadInput (unusable ``segment_size``).
    """
    if segment_size is not None:
        check_segment_size(segment_size)
    path = os.path.abspath(os.fsdecode(os.fspath(path)))
    if cancel is not None and cancel.is_set():
        raise Cancelled()

    # stat first: never open a FIFO or a device, not even with O_NONBLOCK
    try:
        mode = os.stat(path).st_mode
    except OSError as error:
        raise FileProblem(os_error_message(path, error), path) from None
    refusal = special_file_message(path, mode)
    if refusal:
        raise FileProblem(refusal, path)

    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as error:
        raise FileProblem(os_error_message(path, error), path) from None
    reader = io.FileIO(fd, "rb", closefd=True)
    try:
        before = os.fstat(fd)
        refusal = special_file_message(path, before.st_mode)  # swapped between stat and open
        if refusal:
            raise FileProblem(refusal, path)
        size = before.st_size
        if size > INLINE_LIMIT and hasattr(os, "posix_fadvise"):  # small files: default read-ahead
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)
            except OSError:
                pass
        chosen = segment_size or segment_size_for(size)
        side = _Blake3Side(chosen, size)
        sha3 = hashlib.sha3_256()
        meter = _Progress(progress, size)
        meter.update(0)
        run = _hash_inline if size <= INLINE_LIMIT else _hash_pipelined
        try:
            done = run(reader, size, side, sha3, meter, cancel)
        except OSError as error:
            raise FileProblem(os_error_message(path, error, reading=True), path) from None
        if done != size:
            raise _changed(path)
        after = os.fstat(fd)
    finally:
        reader.close()
    try:
        now = os.stat(path)
    except OSError:
        raise _changed(path) from None
    # ctime too: a rewrite that puts the old modification time back still moves it
    for later in (after, now):
        if (later.st_size, later.st_mtime_ns, later.st_ctime_ns, later.st_dev, later.st_ino) != (
            before.st_size, before.st_mtime_ns, before.st_ctime_ns, before.st_dev, before.st_ino
        ):
            raise _changed(path)
    meter.final()

    whole_blake3, segments = side.finish()
    return FileDigest(
        path=path,
        size=size,
        mtime_ns=before.st_mtime_ns,
        sha3_256=sha3.hexdigest(),
        blake3=whole_blake3,
        segment_size=chosen,
        segments=segments,
        segments_root=_segments_root_raw(chosen, size, side.digests),
        ctime_ns=before.st_ctime_ns,
    )


# ---------------------------------------------------------------------------------------------
# Many files


ResultCallback = Callable[[str, "FileDigest | IntegritasError"], None]


def _progress_for(progress: Callable[[str, int, int], None] | None, path: str) -> ProgressCallback | None:
    if progress is None:
        return None
    return lambda done, total: progress(path, done, total)


def hash_many(
    paths: Iterable[str | bytes | os.PathLike],
    *,
    workers: int | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    cancel: threading.Event | None = None,
    on_result: ResultCallback,
    segment_size: int | None = None,
) -> None:
    """Hash files in parallel on up to ``workers`` threads (default: one per CPU).

    ``paths`` is consumed lazily, so a generator of 100,000 paths is fine. Each file's FileDigest or
    IntegritasError goes to ``on_result(path, digest_or_error)``, where ``path`` is the path as given
    (``os.fsdecode``-d, not made absolute). ``progress(path, bytes_done, bytes_total)`` reports each
    file as ``hash_file`` does. Both callbacks run on worker threads.

    A per-file problem never raises. Once ``cancel`` is set, the files being hashed report
    Cancelled and files not yet started are left alone (no callback). An exception that is not an
    IntegritasError (a bug, or one raised by a callback) stops the workers and is raised here.
    """
    count = max(1, workers if workers is not None else (os.cpu_count() or 1))
    source = iter(paths)
    source_lock = threading.Lock()
    failures: list[BaseException] = []

    def work() -> None:
        while not failures and not (cancel is not None and cancel.is_set()):
            with source_lock:
                try:
                    item = next(source)
                except StopIteration:
                    return
            given = os.fsdecode(os.fspath(item))
            try:
                result: FileDigest | IntegritasError = hash_file(
                    given, segment_size=segment_size, progress=_progress_for(progress, given),
                    cancel=cancel)
            except IntegritasError as error:
                result = error
            on_result(given, result)

    def guarded() -> None:
        try:
            work()
        except BaseException as error:
            failures.append(error)

    if count == 1:
        work()
        return
    threads = [threading.Thread(target=guarded, name=f"integritas-hash-{n}", daemon=True) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
