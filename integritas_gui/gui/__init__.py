"""The desktop window (PySide6). Importing this package first makes ``None`` immortal, see below."""

from __future__ import annotations

import sys


def keep_none_alive() -> None:
    """PySide6 6.12 drops one reference to ``None`` on every call of a Qt method that returns
    nothing (``label.setText``, ``bar.setValue``...). From Python 3.12 ``None`` is immortal and that
    does no harm; on 3.11 a long session (an 8 GiB file's progress updates) brings the count to zero
    and the process aborts with "none_dealloc". Give ``None`` the huge count 3.12 gives it."""
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return
    import ctypes

    count = ctypes.c_ssize_t.from_address(id(None))  # ob_refcnt, the object's first field
    if count.value < 1 << 40:
        count.value += 1 << 60


keep_none_alive()
