"""Expected failures, each with a plain message that says what to do next.

Everything the user can cause or the world can throw at us (a file, the network, the service) is an
``IntegritasError``. Anything else is a bug and belongs in the crash handler.
"""

from __future__ import annotations


class IntegritasError(Exception):
    """Base of every expected failure. ``message`` is shown to the user as it is."""

    kind = "error"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class BadInput(IntegritasError):
    """Something the user typed or chose cannot be used (a malformed hash, a corrupt receipt)."""

    kind = "bad_input"


class FileProblem(IntegritasError):
    """A file cannot be read or hashed: missing, unreadable, a FIFO, changed while hashing..."""

    kind = "file"

    def __init__(self, message: str, path: str | None = None):
        super().__init__(message)
        self.path = path


class FileChanged(FileProblem):
    """The file's size or modification time moved while it was being hashed."""

    kind = "file_changed"


class Cancelled(IntegritasError):
    """The user asked to stop."""

    kind = "cancelled"

    def __init__(self, message: str = "Cancelled."):
        super().__init__(message)


class StoreError(IntegritasError):
    """The local history database cannot be used (locked, corrupt, disk full)."""

    kind = "store"


class ServiceError(IntegritasError):
    """The service could not do what was asked. ``kind`` says why, ``message`` what to do next."""

    KINDS = frozenset({"bad_request", "auth", "plan_limit", "rate_limited", "unavailable",
                       "timeout", "network", "malformed", "report", "insecure"})

    def __init__(self, kind: str, message: str, *, status: int | None = None,
                 retry_after: float | None = None):
        super().__init__(message)
        self.kind = kind
        self.status = status
        self.retry_after = retry_after

    def __repr__(self) -> str:
        return f"ServiceError(kind={self.kind!r}, status={self.status!r}, message={self.message!r})"

    @property
    def retryable(self) -> bool:
        """Worth trying again later (the engine keeps such jobs instead of failing them for good)."""
        return self.kind in {"rate_limited", "unavailable", "timeout", "network"}
