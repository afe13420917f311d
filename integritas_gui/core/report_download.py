"""Saving a verification report PDF from the service's presigned link.

One GET per attempt through the client's connection pool, same-host redirects only, https unless
the link is on this computer, a size cap, a PDF check, retries on a busy server (429, 502-504,
honouring Retry-After) or a broken connection, a safe file name, and never an overwrite.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import tempfile
import threading
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from integritas_gui.core.answers import ReportLink, _as_int
from integritas_gui.core.errors import ServiceError
from integritas_gui.core.loopback import is_loopback_host
from integritas_gui.core.retry import RETRYABLE_STATUSES, parse_retry_after

log = logging.getLogger(__name__)

DEFAULT_REPORT_MAX_BYTES = 50 * 1024 * 1024
MAX_REPORT_REDIRECTS = 3
# A report link is good for about an hour and asking again mints another NFT, so a download that
# meets a busy server (429, 502-504) or a broken connection is tried this many times before giving up.
REPORT_ATTEMPTS = 3
MAX_REPORT_WAIT = 30.0  # seconds between attempts at most, whatever Retry-After asks


# Report file names


_WINDOWS_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)),
                     *(f"lpt{i}" for i in range(1, 10))}


def sanitise_report_name(name: Any, *, max_length: int = 120) -> str:
    """A server-chosen file name -> a safe basename ending in .pdf (never a path)."""
    text = name if isinstance(name, str) else ""
    text = re.split(r"[/\\]", text)[-1]
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C")
    text = re.sub(r'[<>:"|?*]', "_", text)
    text = text.strip().lstrip(".").strip().rstrip(". ")
    if text.lower().endswith(".pdf"):
        text = text[:-4].rstrip(". ")
    if text.split(".")[0].lower() in _WINDOWS_RESERVED:
        text = "report-" + text
    text = text[: max_length - 4].rstrip(". ") or "verification-report"
    return text + ".pdf"


class _TransientReportError(ServiceError):
    """A report download failure worth another attempt (busy server, broken connection)."""


def download_report(http: httpx.Client, link: ReportLink, dest_dir: Path, *, slots: threading.Semaphore,
                    timeout: httpx.Timeout, attempts: int, sleep: Callable[[float], None],
                    backoff: Callable[[int], float], max_bytes: int = DEFAULT_REPORT_MAX_BYTES) -> Path:
    """Save the report PDF into ``dest_dir``; returns the new file's path. A busy server or a broken
    connection is tried again, ``attempts`` in all; ``backoff(n)`` is the wait after the n-th failure
    when the server names none."""
    dest = Path(dest_dir)
    url = _report_url(getattr(link, "download_url", None))
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _report_disk_error(exc, dest) from None
    attempts = max(1, attempts)
    attempt = 0
    while True:
        try:
            temp_path = _fetch_report(http, slots, timeout, url, dest, max_bytes)
            break
        except _TransientReportError as exc:
            attempt += 1
            if attempt >= attempts:
                raise
            log.info("Report download attempt %d failed: %s", attempt, exc.status or "connection")
            wait = exc.retry_after if exc.retry_after is not None else backoff(attempt - 1)
            sleep(min(MAX_REPORT_WAIT, wait))
    return _place(temp_path, dest, sanitise_report_name(getattr(link, "file_name", "")))


def _fetch_report(http: httpx.Client, slots: threading.Semaphore, timeout: httpx.Timeout,
                  url: httpx.URL, dest: Path, max_bytes: int) -> Path:
    """One attempt, following same-host redirects; the finished download's temporary file."""
    original_host = url.host
    for _hop in range(MAX_REPORT_REDIRECTS + 1):
        try:
            with slots, http.stream("GET", url, headers={"accept": "application/pdf"},
                                    timeout=timeout) as response:
                if response.is_redirect:
                    url = _redirect_target(url, response.headers.get("location"), original_host)
                    continue
                _check_report_response(response, max_bytes)
                return _stream_to_temp(response, dest, max_bytes)
        except httpx.TimeoutException:
            raise _TransientReportError("report", "The report download timed out. Verify again "
                                                  "with a report to get a new link.") from None
        except httpx.HTTPError:
            raise _TransientReportError("report", "The report download was interrupted. Verify "
                                                  "again with a report to get a new link.") from None
    raise ServiceError("report", "The report link redirected too many times. Verify again with "
                                 "a report to get a new link.")


def _report_url(raw: Any) -> httpx.URL:
    try:
        url = httpx.URL(raw) if isinstance(raw, str) else None
    except (httpx.InvalidURL, ValueError):
        url = None
    if url is None or url.scheme not in ("http", "https") or not url.host:
        raise ServiceError("report", "The service sent a report link the app cannot use.")
    if url.scheme != "https" and not is_loopback_host(url.host):
        raise ServiceError("report", "The report link is not secure (plain http), so it was not "
                                     "downloaded. Verify again with a report to get a new link.")
    return url


def _redirect_target(current: httpx.URL, location: str | None, original_host: str) -> httpx.URL:
    if not location:
        raise ServiceError("report", "The report link redirected nowhere. Verify again later.")
    try:
        target = current.join(location)
    except (httpx.InvalidURL, ValueError):
        raise ServiceError("report", "The report link redirected to an address the app cannot "
                                     "use.") from None
    if target.host != original_host:
        raise ServiceError("report", "The report link redirected to another site, so it was not "
                                     "downloaded. Verify again with a report to get a new link.")
    return _report_url(str(target))


def _check_report_response(response: httpx.Response, max_bytes: int) -> None:
    status = response.status_code
    if status in (401, 403, 404, 410):
        raise ServiceError("report", "The report link has expired or is no longer valid. Verify "
                                     "again with a report to get a new link.", status=status)
    if status in RETRYABLE_STATUSES:
        raise _TransientReportError(
            "report", f"The report could not be downloaded (HTTP {status}). Try again later.",
            status=status, retry_after=parse_retry_after(response.headers.get("retry-after")))
    if status != 200:
        raise ServiceError("report", f"The report could not be downloaded (HTTP {status}). Try "
                                     "again later.", status=status)
    length = _as_int(response.headers.get("content-length"))
    if length is not None and length > max_bytes:
        raise ServiceError("report", f"The report is larger than {max_bytes // (1024 * 1024)} MiB, "
                                     "so it was not downloaded.")


def _stream_to_temp(response: httpx.Response, dest: Path, max_bytes: int) -> Path:
    try:
        fd, name = tempfile.mkstemp(prefix=".integritas-report-", suffix=".part", dir=dest)
    except OSError as exc:
        raise _report_disk_error(exc, dest) from None
    temp_path = Path(name)
    ok = False
    try:
        with os.fdopen(fd, "wb") as out:
            head = b""
            total = 0
            for chunk in response.iter_bytes(64 * 1024):
                total += len(chunk)
                if total > max_bytes:
                    raise ServiceError(
                        "report", f"The report is larger than {max_bytes // (1024 * 1024)} MiB, "
                                  "so the download was stopped.")
                if len(head) < 5:
                    head += chunk[: 5 - len(head)]
                    if len(head) >= 5 and head != b"%PDF-":
                        raise ServiceError("report", "The report link did not return a PDF "
                                                     "(maybe an error page). Verify again with "
                                                     "a report to get a new link.")
                out.write(chunk)
            if head != b"%PDF-":
                raise ServiceError("report", "The report link did not return a PDF. Verify "
                                             "again with a report to get a new link.")
            out.flush()
            os.fsync(out.fileno())
        ok = True
        return temp_path
    except OSError as exc:
        raise _report_disk_error(exc, dest) from None
    finally:
        if not ok:
            _unlink_quietly(temp_path)


def _place(temp_path: Path, dest: Path, name: str) -> Path:
    """Give the finished download its name without overwriting anything already there."""
    stem, suffix = name[:-4], ".pdf"
    try:
        for n in range(1, 1000):
            candidate = dest / (f"{stem}{suffix}" if n == 1 else f"{stem} ({n}){suffix}")
            try:
                os.link(temp_path, candidate)
            except FileExistsError:
                continue
            except OSError as exc:
                if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES):
                    raise
                if candidate.exists():  # no hard links here (e.g. FAT): rename instead
                    continue
                os.replace(temp_path, candidate)
                return candidate
            _unlink_quietly(temp_path)
            return candidate
        raise ServiceError("report", "Too many reports with the same name in the folder.")
    except OSError as exc:
        raise _report_disk_error(exc, dest) from None
    finally:
        _unlink_quietly(temp_path)


def _report_disk_error(exc: OSError, dest: Path) -> ServiceError:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return ServiceError("report", f"The disk is full, so the report could not be saved in "
                                      f"{dest}. Free some space and verify again with a report.")
    return ServiceError("report", f"The report could not be saved in {dest} "
                                  f"({exc.strerror or 'file error'}). Choose another folder.")


def _unlink_quietly(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except OSError:
        log.warning("Could not remove a partial report file %s", path.name)
