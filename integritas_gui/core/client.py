"""Client for the Integritas v2 API (see ../shared/integritas-api.md): stamp, check, verify, reports.

Thread-safe and synchronous: the CLI and the GUI call it from worker threads. Every failure is a
``ServiceError`` whose message says what to do next; the API key never appears in a message, an
exception, a repr or a log line. Reading the answers is in answers.py, saving a report in
report_download.py; this module is the request path.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx

from integritas_gui import __version__
from integritas_gui.core import hexhash, report_download
from integritas_gui.core.answers import (  # the result types are re-exported: callers import them from here
    CheckResult,
    FileSegment,
    ReportLink,
    StampResult,
    VerifyResult,
    decode_response,
    parse_check,
    parse_stamp,
    parse_verify,
)
from integritas_gui.core.errors import BadInput, ServiceError
from integritas_gui.core.loopback import is_loopback_host
from integritas_gui.core.model import ChainRecord  # re-exported: the one on-chain record type
from integritas_gui.core.report_download import DEFAULT_REPORT_MAX_BYTES, REPORT_ATTEMPTS
from integritas_gui.core.retry import MAX_HONOURED_WAIT, RETRYABLE_STATUSES, RateLimitGate, backoff_delay

__all__ = ["ChainRecord", "CheckResult", "FileSegment", "IntegritasClient", "ReportLink", "ServiceError",
           "StampResult", "VerifyResult", "is_loopback_host", "report_may_exist"]

log = logging.getLogger(__name__)

STAMP_PATH = "/v2/timestamp/post"
CHECK_PATH = "/v2/file/check"
VERIFY_PATH = "/v2/verify/file"

# A JSON answer is a few hundred bytes (a verification with many records a few KiB): anything near
# this is not the service, and an endless body must not fill the memory.
MAX_ANSWER_BYTES = 4 * 1024 * 1024
CONNECT_TIMEOUT = 10.0
USER_AGENT = f"IntegritasDesktop/{__version__}"

validate_hash = hexhash.parse_sha3_strict  # what is about to be sent


# Answers that say the service did not carry the request out, so even a report request may be sent again.
REFUSED_STATUSES = frozenset({429, 503})


def report_may_exist(what_happened: str) -> ServiceError:
    """A report request that may have reached the service: it is never sent again on its own."""
    return ServiceError(
        "report",
        f"The service may have made the report; {what_happened}, so the request was not sent again. "
        "Ask again with Verify + report (integritas verify --report) to get a new one; check your "
        "report list on integritas.technology first.",
    )


class AnswerTooLarge(Exception):
    """The answer's body is (or says it is) larger than the caller accepts."""


def check_declared_length(headers, max_bytes: int) -> None:
    declared = headers.get("content-length")
    if declared is not None and declared.strip().isdigit() and int(declared) > max_bytes:
        raise AnswerTooLarge()


def _read_capped(response: httpx.Response, max_bytes: int) -> bytes:
    check_declared_length(response.headers, max_bytes)
    body = bytearray()
    for piece in response.iter_bytes():
        body += piece
        if len(body) > max_bytes:
            raise AnswerTooLarge()
    return bytes(body)


class IntegritasClient:
    """One connection pool, retries where safe, a limit on concurrent requests."""

    def __init__(self, base_url: str, api_key: str | None = None, *, timeout: float = 30,
                 verify_timeout: float = 120, max_retries: int = 5, concurrency: int = 8,
                 transport: httpx.BaseTransport | None = None,
                 backoff_base: float = 0.5, backoff_max: float = 30.0,
                 sleep: Callable[[float], None] = time.sleep,
                 rng: random.Random | None = None,
                 extra_headers: Mapping[str, str] | None = None, proxy: str | None = None):
        """``proxy``: a proxy URL for every request, the report downloads included (instead of
        HTTP(S)_PROXY from the environment, which only the real service honours)."""
        try:
            url = httpx.URL(str(base_url).strip())
        except (httpx.InvalidURL, TypeError, ValueError):
            raise BadInput("The service address is not a valid URL. Check it in Settings.") from None
        if url.scheme not in ("http", "https") or not url.host:
            raise BadInput("The service address must look like https://integritas.technology/core. "
                           "Check it in Settings.")
        self._loopback = is_loopback_host(url.host)
        if url.scheme != "https" and not self._loopback:
            raise ServiceError(
                "insecure",
                "The service address must use https:// (plain http is allowed only for a service "
                "on this computer, such as the sandbox). Check the address in Settings.",
            )
        self.base_url = str(url).rstrip("/")
        self._api_key = api_key or None
        self.timeout = float(timeout)
        self.verify_timeout = float(verify_timeout)
        self.max_retries = max(0, int(max_retries))
        self.concurrency = max(1, int(concurrency))
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._rng_lock = threading.Lock()
        self._extra_headers = dict(extra_headers or {})
        self._default_timeout = httpx.Timeout(self.timeout, connect=CONNECT_TIMEOUT)
        self._verify_timeout = httpx.Timeout(self.verify_timeout, connect=CONNECT_TIMEOUT)
        self._slots = threading.BoundedSemaphore(max(1, int(concurrency)))
        self._gate = RateLimitGate()
        limits = httpx.Limits(max_connections=max(1, int(concurrency)) + 2,
                              max_keepalive_connections=max(1, int(concurrency)))
        try:
            self._http = httpx.Client(
                transport=transport,
                limits=limits,
                timeout=self._default_timeout,
                proxy=proxy or None,
                # Without a proxy setting, the sandbox on this machine is never sent through a proxy;
                # the real service honours HTTP(S)_PROXY / NO_PROXY from the environment.
                trust_env=not self._loopback,
                # Certificates: what the environment trusts (SSL_CERT_FILE / SSL_CERT_DIR), also on loopback.
                verify=httpx.create_ssl_context(trust_env=True),
                follow_redirects=False,
            )
        except (httpx.InvalidURL, TypeError, ValueError):
            raise BadInput("The proxy address must look like http://proxy.example:8080. "
                           "Check it in Settings.") from None

    def __repr__(self) -> str:
        key = "set" if self._api_key else "none"
        return f"IntegritasClient(base_url={self.base_url!r}, api_key=<{key}>)"

    __str__ = __repr__

    @property
    def is_loopback(self) -> bool:
        return self._loopback

    @property
    def has_api_key(self) -> bool:
        return self._api_key is not None

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> IntegritasClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- endpoints ------------------------------------------------------------------------------

    def stamp(self, sha3_hex: str) -> StampResult:
        digest = validate_hash(sha3_hex)
        envelope = self._post(STAMP_PATH, {"hash": digest})
        return parse_stamp(envelope, digest)

    def check(self, sha3_hex: str) -> CheckResult:
        digest = validate_hash(sha3_hex)
        return parse_check(self._post(CHECK_PATH, {"hash": digest}), digest)

    def verify(self, sha3_hex: str, *, filename: str | None = None, filesize: int | None = None,
               report: bool = False) -> VerifyResult:
        digest = validate_hash(sha3_hex)
        body: dict[str, Any] = {"hash": digest}
        if filename is not None:
            body["filename"] = str(filename)
        if filesize is not None:
            body["filesize"] = int(filesize)
        envelope = self._post(VERIFY_PATH, body, slow=True, once=report,
                              headers={"x-report-required": "true" if report else "false"})
        return parse_verify(envelope, digest)

    # -- transport ------------------------------------------------------------------------------

    def _headers(self, extra: Mapping[str, str] | None, request_id: str) -> dict[str, str]:
        headers = {"content-type": "application/json", "accept": "application/json",
                   "user-agent": USER_AGENT, "x-request-id": request_id}
        headers.update(self._extra_headers)
        if extra:
            headers.update(extra)
        if self._api_key:
            headers["x-api-key"] = self._api_key
        return headers

    def _redact(self, text: str) -> str:
        if self._api_key and self._api_key in text:
            text = text.replace(self._api_key, "<api key>")
        return text

    def _jitter(self, attempt: int) -> float:
        with self._rng_lock:
            return backoff_delay(attempt, base=self.backoff_base, cap=self.backoff_max, rng=self._rng)

    def _post(self, path: str, body: dict, *, slow: bool = False, once: bool = False,
              headers: Mapping[str, str] | None = None) -> dict:
        """POST with retries; every attempt carries the same ``x-request-id``.

        ``once``: the request costs something the service cannot take back (a verify that mints a
        report NFT). It is sent again only when it cannot have been carried out: no connection was
        made, or the service refused it (429, 503). Otherwise the error says what may have happened.
        """
        url = self.base_url + path
        request_timeout = self._verify_timeout if slow else self._default_timeout
        payload = json.dumps(body).encode()
        request_id = str(uuid.uuid4())
        last_error: ServiceError | None = None
        for attempt in range(self.max_retries + 1):
            wait = self._gate.wait_time()
            if wait > 0:
                self._sleep(wait)
            request_headers = self._headers(headers, request_id)
            try:
                with self._slots, self._http.stream("POST", url, content=payload, headers=request_headers,
                                                    timeout=request_timeout) as response:
                    content = _read_capped(response, MAX_ANSWER_BYTES)
            except AnswerTooLarge:
                raise ServiceError(
                    "malformed",
                    f"The service at {httpx.URL(self.base_url).host} sent an answer larger than "
                    f"{MAX_ANSWER_BYTES >> 20} MiB, which is not an Integritas answer. Check the "
                    "service address in Settings.",
                ) from None
            except httpx.TimeoutException as exc:
                last_error = ServiceError(
                    "timeout",
                    "The Integritas service did not answer in time. It will be retried; if it "
                    "keeps happening, try again later.",
                )
                retry_after = None
                if once and not isinstance(exc, (httpx.ConnectTimeout, httpx.PoolTimeout)):
                    raise report_may_exist("it did not answer in time") from None
            except httpx.TransportError as exc:
                last_error = self._network_error(exc)
                retry_after = None
                if once and not isinstance(exc, httpx.ConnectError):
                    raise report_may_exist("the connection broke before it answered") from None
            else:
                self._gate.observe(response.headers)
                status = response.status_code
                if status not in RETRYABLE_STATUSES:
                    try:
                        return decode_response(status, content, response.headers)
                    except ServiceError as exc:
                        if once and exc.kind == "malformed" and 200 <= status < 300:
                            raise report_may_exist("its answer could not be read") from None
                        exc.message = self._redact(exc.message)
                        exc.args = (exc.message,)
                        raise
                try:
                    decode_response(status, content, response.headers)
                except ServiceError as exc:
                    last_error = exc
                retry_after = last_error.retry_after if last_error else None
                if once and status not in REFUSED_STATUSES:
                    raise report_may_exist(f"it answered with an error (HTTP {status})") from None
            log.info("Integritas %s attempt %d failed: %s", path, attempt + 1,
                     last_error.kind if last_error else "?")
            if attempt >= self.max_retries:
                break
            if retry_after is not None and retry_after > MAX_HONOURED_WAIT:
                break  # too long to wait here; the caller gets retry_after and schedules it
            delay = retry_after if retry_after is not None else self._jitter(attempt)
            if last_error is not None and last_error.kind == "rate_limited" and retry_after is None:
                delay = max(delay, 1.0)
            self._sleep(delay)
        assert last_error is not None
        if last_error.kind in ("unavailable", "timeout", "network"):
            last_error.message = last_error.message.replace(
                "It will be retried; if it keeps happening, try again later.", "Try again later.")
            last_error.args = (last_error.message,)
        raise last_error

    def _network_error(self, exc: Exception) -> ServiceError:
        if isinstance(exc, httpx.ConnectError):
            where = "the sandbox on this computer" if self._loopback else "the Integritas service"
            return ServiceError(
                "network",
                f"Could not connect to {where} ({httpx.URL(self.base_url).host}). "
                + ("Check that the sandbox is running" if self._loopback
                   else "Check your internet connection")
                + ". It will be retried; if it keeps happening, try again later.",
            )
        return ServiceError(
            "network",
            "The connection to the Integritas service was interrupted. It will be retried; if it "
            "keeps happening, try again later.",
        )

    # -- reports --------------------------------------------------------------------------------

    def download_report(self, link: ReportLink, dest_dir: Path, *,
                        max_bytes: int = DEFAULT_REPORT_MAX_BYTES) -> Path:
        """Save the verification report PDF into ``dest_dir``; returns the new file's path. A busy
        server or a broken connection is tried again (``REPORT_ATTEMPTS`` in all, fewer when the
        client's ``max_retries`` is lower)."""
        return report_download.download_report(
            self._http, link, dest_dir, slots=self._slots, timeout=self._verify_timeout,
            attempts=min(REPORT_ATTEMPTS, self.max_retries + 1), sleep=self._sleep,
            backoff=self._jitter, max_bytes=max_bytes)
