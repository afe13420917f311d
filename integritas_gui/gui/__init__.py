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
    """Keeps full garbage collections short while jobs run. A big drop keeps ~20 objects per queued
    file alive (engine futures, rows): a full collection, started by whichever thread allocates,
    scans them all with the GIL held and stalls the window 50-100 ms. While busy, ``tick`` (once a
    second, GUI thread) collects the young generations and freezes the survivors, so a full
    collection only ever sees the last second's objects. Once idle for two ticks, everything is
    unfrozen and collected once (cyclic garbage frozen meanwhile is freed then), and the survivors
    are frozen again."""

    IDLE_TICKS = 2

    def __init__(self) -> None:
        self._froze_while_busy = False
        self._idle_ticks = 0

    def tick(self, busy: bool) -> None:
        import gc

        if busy:
            self._idle_ticks = 0
            gc.collect(1)
            gc.freeze()
            self._froze_while_busy = True
            return
        self._idle_ticks += 1
        if self._froze_while_busy and self._idle_ticks >= self.IDLE_TICKS:
            self._froze_while_busy = False
            gc.unfreeze()
            gc.collect()
            gc.freeze()
