"""The desktop window (PySide6). Importing this package first makes None, True and False
immortal on Python 3.11, see below."""

from __future__ import annotations

import sys


def keep_singletons_alive() -> None:
    """PySide6 6.12 drops one reference to ``None`` on every call of a Qt method that returns
    nothing (``label.setText``, ``button.setEnabled``...) and one to ``True`` on every
    ``Signal.emit``. From Python 3.12 these objects are immortal and that does no harm; on 3.11 a
    long session (an 8 GiB file's progress updates) brings a count to zero and the process aborts
    ("none_dealloc", "bool_dealloc"). Give them the huge count 3.12 gives them."""
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return
    import ctypes

    for singleton in (None, True, False, Ellipsis, NotImplemented):
        count = ctypes.c_ssize_t.from_address(id(singleton))  # ob_refcnt, the object's first field
        if count.value < 1 << 40:
            count.value += 1 << 60


keep_singletons_alive()

_frozen = False


def freeze_startup_objects() -> None:
    """Move every object alive after start-up (modules, classes, Qt wrappers: hundreds of thousands)
    out of the garbage collector's reach, once per process. Otherwise a full collection, started
    by whichever thread allocates (the folder walk of a big drop), scans them all while holding the
    GIL: 60-140 ms stalls of the window, measured. Objects made later are collected as usual."""
    global _frozen
    if _frozen:
        return
    import gc

    _frozen = True
    gc.freeze()  # no collection first: it would cost start-up ~0.1 s for a few kB of garbage


class BusyCollector:
    """Keeps the garbage collector from stalling the window while jobs run. A big drop keeps ~20
    objects per queued file alive (engine futures, rows): a full collection, started by whichever
    thread allocates, scans them all with the GIL held and stalls the window 30-100 ms (measured).

    While busy (from ``start``, or a ``tick`` that sees work), full collections are off: the young
    generations still collect as usual, and ``tick`` (once a second, GUI thread) freezes what
    survived them. Once idle for two ticks, everything is unfrozen and collected once (cyclic
    garbage kept meanwhile is freed then), the survivors are frozen again and full collections
    are back on."""

    IDLE_TICKS = 2
    NO_FULL_COLLECTIONS = 1 << 30  # third gc threshold while busy

    def __init__(self) -> None:
        self._threshold: tuple[int, int, int] | None = None  # saved while busy
        self._idle_ticks = 0

    def start(self) -> None:
        """Work is about to start (a drop): no full collections from now until idle."""
        import gc

        self._idle_ticks = 0
        if self._threshold is None:
            self._threshold = gc.get_threshold()
            gc.set_threshold(self._threshold[0], self._threshold[1], self.NO_FULL_COLLECTIONS)

    def stop(self) -> None:
        """Full collections back on (idle again, or the window is closing); frozen objects stay
        frozen."""
        import gc

        if self._threshold is not None:
            gc.set_threshold(*self._threshold)
            self._threshold = None

    def tick(self, busy: bool) -> None:
        import gc

        if busy:
            self.start()
            gc.collect(1)
            gc.freeze()
            return
        self._idle_ticks += 1
        if self._threshold is not None and self._idle_ticks >= self.IDLE_TICKS:
            self.stop()
            gc.unfreeze()
            gc.collect()
            gc.freeze()
