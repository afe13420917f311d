"""Logging: a rotating file in the user log dir, with secrets scrubbed from every record."""

from __future__ import annotations

import logging
import logging.handlers
import os
import re
import threading
from pathlib import Path

LOG_FILE_NAME = "integritas.log"
_secrets: set[str] = set()
_lock = threading.Lock()
# Header-shaped secrets are scrubbed even when nobody registered the value.
_HEADER_PATTERN = re.compile(r"(x-api-key['\"]?\s*[:=]\s*['\"]?)[^\s'\",}]+", re.IGNORECASE)


def register_secret(value: str | None) -> None:
    """Make sure ``value`` never reaches a log file (or anything else that calls ``redact``)."""
    if value and len(value) >= 4:
        with _lock:
            _secrets.add(value)


def redact(text: str) -> str:
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        text = text.replace(secret, "[redacted]")
    return _HEADER_PATTERN.sub(r"\1[redacted]", text)


class RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def setup_logging(log_dir: str | os.PathLike, level: int = logging.INFO, *,
                  file_name: str = LOG_FILE_NAME) -> Path:
    """Send the app's logs to ``log_dir/integritas.log`` (1 MB x 5, rotating; another ``file_name``
    for another process). Returns the path."""
    log_dir = Path(log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    path = log_dir / file_name
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_integritas", False):
            root.removeHandler(handler)
            handler.close()
    handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=1_000_000, backupCount=5, encoding="utf-8"
    )
    handler._integritas = True  # type: ignore[attr-defined]
    handler.setFormatter(
        RedactingFormatter("%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s")
    )
    root.addHandler(handler)
    root.setLevel(level)
    # httpx logs full request lines at INFO; keep them out of the user's log.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    return path
