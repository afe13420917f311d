"""Client for the Integritas v2 API (see ../shared/integritas-api.md): stamp, check, verify, reports.

Thread-safe and synchronous: the CLI and the GUI call it from worker threads. Every failure is a
``ServiceError`` whose message says what to do next; the API key never appears in a message, an
exception, a repr or a log line.
"""

from __future__ import annotations

import errno
import ipaddress
import json
import logging
import os
import random
import re
import tempfile
import threading
import time
import unicodedata
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from integritas_gui import __version__
from integritas_gui.core import hexhash
from integritas_gui.core.display import iso_utc
from integritas_gui.core.errors import BadInput, IntegritasError
from integritas_gui.core.retry import (
    MAX_HONOURED_WAIT,
    RETRYABLE_STATUSES,
    RateLimitGate,
    backoff_delay,
    parse_retry_after,
)
from integritas_gui.core.model import ChainRecord  # re-exported: the one on-chain record type

log = logging.getLogger(__name__)

STAMP_PATH = "/v2/timestamp/post"
CHECK_PATH = "/v2/file/check"
VERIFY_PATH = "/v2/verify/file"

DEFAULT_REPORT_MAX_BYTES = 50 * 1024 * 1024
# A JSON answer is a few hundred bytes (a verification with many records a few KiB): anything near
# this is not the service, and an endless body must not fill the memory.
MAX_ANSWER_BYTES = 4 * 1024 * 1024
CONNECT_TIMEOUT = 10.0
USER_AGENT = f"IntegritasDesktop/{__version__}"
MAX_REPORT_REDIRECTS = 3
# A report link is good for about an hour and asking again mints another NFT, so a download that
# meets a busy server (429, 502-504) or a broken connection is tried this many times before giving up.
REPORT_ATTEMPTS = 3
MAX_REPORT_WAIT = 30.0  # seconds between attempts at most, whatever Retry-After asks

VERIFY_RESULTS = ("full match", "partial match", "no match")


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


# ---------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class FileSegment:
    matched_hash: str | None
    offset: int
    packet_size: int


@dataclass(frozen=True)
class ReportLink:
    file_name: str
    download_url: str
    file_size: int | None
    expires_in: str | None


@dataclass(frozen=True)
class VerifyResult:
    file_hash: str
    result: str  # "full match" | "partial match" | "no match" | "unknown"
    records: tuple[ChainRecord, ...]
    segments: tuple[FileSegment, ...]
    unique_hashes: int | None
    nft_coin_id: str | None
    nft_txn_id: str | None
    report: ReportLink | None
    message: str
    raw: dict = field(repr=False, compare=False)


@dataclass(frozen=True)
class StampResult:
    hash: str
    newly_anchored: bool
    verification: VerifyResult | None
    request_id: str | None
    message: str
    raw: dict = field(repr=False, compare=False)


@dataclass(frozen=True)
class CheckResult:
    hash: str
    status: str  # "found" | "not_found" | "unknown"
    message: str
    raw: dict = field(repr=False, compare=False)


# ---------------------------------------------------------------------------------------------
# Small pure helpers


normalise_hash = hexhash.normalise_hash_lenient  # what the service echoes
validate_hash = hexhash.parse_sha3_strict  # what is about to be sent


def record_from_service(entry: Mapping[str, Any]) -> ChainRecord:
    """One ``blockchainData[]`` entry of a service answer."""
    return ChainRecord(
        block_number=_as_int(entry.get("blockNumber")),
        block_date=iso_utc(entry.get("blockDate")),
        txpow_id=_as_str(entry.get("txpowId")),
        transaction_id=_as_str(entry.get("transactionId")),
        matched_hash=normalise_hash(entry.get("matchedHash")),
    )


def is_loopback_host(host: str | None) -> bool:
    if not host:
        return False
    host = host.strip("[]").lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _plain_server_text(value: Any, *, limit: int = 200) -> str | None:
    """A server message fit to show a person: short plain text, never HTML or a dump."""
    if not isinstance(value, str):
        return None
    text = " ".join(_CONTROL.sub(" ", value).split())
    if not text or "<" in text and ">" in text:
        return None
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**63:
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d{1,19}\s*", value):
        return int(value)
    return None


_FLAG_WORDS = {"true": True, "false": False, "1": True, "0": False}


def as_flag(value: Any) -> bool | None:
    """A yes/no flag as services send it: true/false, "true"/"false", 1/0 or "1"/"0" (any case,
    spaces around); None for anything else."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        return _FLAG_WORDS.get(value.strip().lower())
    return None


def _as_str(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _as_dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else []


# ---------------------------------------------------------------------------------------------
# Response parsing (pure functions: the fuzz tests drive these directly)


def error_for_status(status: int, server_message: str | None = None,
                     retry_after: float | None = None) -> ServiceError:
    """The typed error for an HTTP (or envelope) status, with a message that says what to do."""
    said = f" The service said: {server_message}" if server_message else ""
    if status in (401, 403):
        return ServiceError(
            "auth",
            "The Integritas service refused the API key. Check the key in Settings "
            "(keys come from your profile on integritas.technology).",
            status=status,
        )
    if status == 402:
        return ServiceError(
            "plan_limit",
            "Your Integritas plan's usage limit has been reached. Upgrade the plan on "
            "integritas.technology, or wait until the limit resets, then try again." + said,
            status=status,
        )
    if status == 429:
        wait = f" in about {retry_after:.0f} s" if retry_after else " in a minute"
        return ServiceError(
            "rate_limited",
            f"The Integritas service is limiting how fast requests may be sent. Try again{wait}.",
            status=status, retry_after=retry_after,
        )
    if status >= 500:
        return ServiceError(
            "unavailable",
            f"The Integritas service is unavailable right now (HTTP {status}). "
            "Try again later.",
            status=status, retry_after=retry_after,
        )
    if status == 404:
        return ServiceError(
            "bad_request",
            "The Integritas service does not know this request (HTTP 404). Check the service "
            "address in Settings." + said,
            status=status,
        )
    if 300 <= status < 400:
        return ServiceError(
            "malformed",
            f"The Integritas service answered with a redirect (HTTP {status}). Check the service "
            "address in Settings.",
            status=status,
        )
    return ServiceError(
        "bad_request",
        f"The Integritas service rejected the request (HTTP {status})." + (
            said or " Check the hash and try again."),
        status=status,
    )


def _malformed(status: int | None = None) -> ServiceError:
    return ServiceError(
        "malformed",
        "The Integritas service sent an answer the app cannot read. Try again later; if it "
        "keeps happening, the service may have changed and the app needs an update.",
        status=status,
    )


def decode_response(status: int, body: bytes, headers: Mapping[str, str] | None = None) -> dict:
    """HTTP status + body -> the success envelope as a dict, or raise the right ServiceError."""
    headers = headers or {}
    envelope: Any = None
    if body:
        try:
            envelope = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            envelope = None
    server_message = None
    if isinstance(envelope, dict):
        server_message = _plain_server_text(envelope.get("message"))
    retry_after = parse_retry_after(headers.get("retry-after"))
    if status >= 300 or status < 200:
        raise error_for_status(status, server_message, retry_after)
    if not isinstance(envelope, dict):
        raise _malformed(status)
    if (isinstance(envelope.get("status"), str) and envelope["status"].strip().lower() == "error"
            or as_flag(envelope.get("status")) is False):
        code = _as_int(envelope.get("statusCode"))
        if code is not None and 400 <= code < 600:
            raise error_for_status(code, server_message, retry_after)
        raise ServiceError(
            "bad_request",
            "The Integritas service reported an error."
            + (f" The service said: {server_message}" if server_message else " Try again later."),
            status=status,
        )
    return envelope


def _message(envelope: dict) -> str:
    return _plain_server_text(envelope.get("message"), limit=300) or ""


def parse_verify_payload(payload: Any, requested_hash: str, *, message: str = "",
                         raw: dict | None = None) -> VerifyResult:
    """The ``data`` of a verify answer (SEARCH_API wrapper with ``data`` and ``file``) -> VerifyResult."""
    outer = _as_dict(payload)
    inner = outer.get("data")
    if not isinstance(inner, dict):
        inner = outer  # tolerate a flattened payload
    file_hash = normalise_hash(inner.get("fileHash"))
    result = _as_str(inner.get("result"))
    result = result.lower() if result else "unknown"
    if result not in VERIFY_RESULTS:
        result = "unknown"
    if file_hash is not None and file_hash != requested_hash:
        result = "unknown"  # an answer about another hash proves nothing about ours
    records = []
    for entry in _as_list(inner.get("blockchainData")):
        entry = _as_dict(entry)
        if not entry:
            continue
        records.append(record_from_service(entry))
    segments = []
    for entry in _as_list(inner.get("fileSegments")):
        entry = _as_dict(entry)
        if not entry:
            continue
        segments.append(FileSegment(
            matched_hash=normalise_hash(entry.get("matchedHash")),
            offset=max(0, _as_int(entry.get("offset")) or 0),
            packet_size=max(0, _as_int(entry.get("packetSize")) or 0),
        ))
    return VerifyResult(
        file_hash=file_hash or requested_hash,
        result=result,
        records=tuple(records),
        segments=tuple(segments),
        unique_hashes=_as_int(inner.get("uniqueHashes")),
        nft_coin_id=_as_str(inner.get("nftCoinId")),
        nft_txn_id=_as_str(inner.get("nftTxnId")),
        report=parse_report_link(outer, inner),
        message=message,
        raw=raw if raw is not None else outer,
    )


def _first(mapping: dict, *names: str) -> Any:
    for name in names:
        if mapping.get(name) is not None:
            return mapping[name]
    return None


def parse_report_link(*places: dict) -> ReportLink | None:
    """The report link of a verify answer: ``file.downloadUrl`` (v2) or ``file.download_url``
    (v1), next to the verification data or inside it; None when the answer has none."""
    for place in places:
        file_info = _as_dict(place.get("file"))
        url = _as_str(_first(file_info, "downloadUrl", "download_url", "downloadURL"))
        if url:
            return ReportLink(
                file_name=_as_str(_first(file_info, "fileName", "file_name", "filename"))
                or "verification-report.pdf",
                download_url=url,
                file_size=_as_int(_first(file_info, "fileSize", "file_size")),
                expires_in=_as_str(_first(file_info, "expiresIn", "expires_in")),
            )
    return None


def _looks_like_verification(data: dict) -> bool:
    inner = data.get("data")
    probe = inner if isinstance(inner, dict) else data
    return any(key in probe for key in ("result", "blockchainData", "fileHash"))


def parse_stamp(envelope: dict, requested_hash: str) -> StampResult:
    """Branch on the shape of ``data``: a MINIMA_NODE command (new) or verification data (on chain)."""
    if not isinstance(envelope, dict):
        raise _malformed()
    data = envelope.get("data")
    message = _message(envelope)
    request_id = _as_str(envelope.get("requestId"))
    if isinstance(data, dict) and _looks_like_verification(data) and data.get("service") != "MINIMA_NODE":
        verification = parse_verify_payload(data, requested_hash, message=message, raw=envelope)
        return StampResult(requested_hash, False, verification, request_id, message, envelope)
    if isinstance(data, dict) and as_flag(data.get("status")) is False and "command" in data:
        # The service says its Minima node command failed: nothing was anchored, so following this
        # stamp would leave it pending for ever.
        said = _plain_server_text(data.get("error"))
        raise ServiceError(
            "unavailable",
            "The Integritas service could not pass the stamp to the Minima network, so nothing was "
            "anchored" + (f" (the node said: {said.rstrip('.')})" if said else "")
            + ". Stamp the file again later.",
        )
    if isinstance(data, dict) or as_flag(envelope.get("status")) is True or (
            isinstance(envelope.get("status"), str) and envelope["status"].lower() == "success"):
        # A MINIMA_NODE command, or a success whose data we do not recognise: the service took the
        # hash; confirmation comes from check/verify either way.
        return StampResult(requested_hash, True, None, request_id, message, envelope)
    raise _malformed()


def parse_check(envelope: dict, requested_hash: str) -> CheckResult:
    if not isinstance(envelope, dict):
        raise _malformed()
    data = envelope.get("data")
    if not isinstance(data, dict):
        raise _malformed()
    answer = data.get("data")
    status = "unknown"
    if isinstance(answer, str):
        words = " ".join(answer.lower().split()).rstrip(".")
        status = {"hash found": "found", "hash not found": "not_found"}.get(words, "unknown")
    echoed = normalise_hash(data.get("hash"))
    if echoed is not None and echoed != requested_hash:
        status = "unknown"
    text = answer if isinstance(answer, str) else _message(envelope)
    return CheckResult(requested_hash, status, _plain_server_text(text) or "", envelope)


def parse_verify(envelope: dict, requested_hash: str) -> VerifyResult:
    if not isinstance(envelope, dict):
        raise _malformed()
    data = envelope.get("data")
    if not isinstance(data, dict):
        raise _malformed()
    return parse_verify_payload(data, requested_hash, message=_message(envelope), raw=envelope)


# ---------------------------------------------------------------------------------------------
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


# ---------------------------------------------------------------------------------------------
# The client


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


class _TransientReportError(ServiceError):
    """A report download failure worth another attempt (busy server, broken connection)."""


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
        dest = Path(dest_dir)
        url = self._report_url(getattr(link, "download_url", None))
        try:
            dest.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise self._report_disk_error(exc, dest) from None
        attempts = max(1, min(REPORT_ATTEMPTS, self.max_retries + 1))
        attempt = 0
        while True:
            try:
                temp_path = self._fetch_report(url, dest, max_bytes)
                break
            except _TransientReportError as exc:
                attempt += 1
                if attempt >= attempts:
                    raise
                log.info("Report download attempt %d failed: %s", attempt, exc.status or "connection")
                wait = exc.retry_after if exc.retry_after is not None else self._jitter(attempt - 1)
                self._sleep(min(MAX_REPORT_WAIT, wait))
        return self._place(temp_path, dest, sanitise_report_name(getattr(link, "file_name", "")))

    def _fetch_report(self, url: httpx.URL, dest: Path, max_bytes: int) -> Path:
        """One attempt, following same-host redirects; the finished download's temporary file."""
        original_host = url.host
        for _hop in range(MAX_REPORT_REDIRECTS + 1):
            try:
                with self._slots, self._http.stream(
                        "GET", url, headers={"accept": "application/pdf"},
                        timeout=self._verify_timeout) as response:
                    if response.is_redirect:
                        url = self._redirect_target(url, response.headers.get("location"),
                                                    original_host)
                        continue
                    self._check_report_response(response, max_bytes)
                    return self._stream_to_temp(response, dest, max_bytes)
            except httpx.TimeoutException:
                raise _TransientReportError("report", "The report download timed out. Verify again "
                                                      "with a report to get a new link.") from None
            except httpx.HTTPError:
                raise _TransientReportError("report", "The report download was interrupted. Verify "
                                                      "again with a report to get a new link.") from None
        raise ServiceError("report", "The report link redirected too many times. Verify again with "
                                     "a report to get a new link.")

    def _report_url(self, raw: Any) -> httpx.URL:
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

    def _redirect_target(self, current: httpx.URL, location: str | None,
                         original_host: str) -> httpx.URL:
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
        return self._report_url(str(target))

    @staticmethod
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

    def _stream_to_temp(self, response: httpx.Response, dest: Path, max_bytes: int) -> Path:
        try:
            fd, name = tempfile.mkstemp(prefix=".integritas-report-", suffix=".part", dir=dest)
        except OSError as exc:
            raise self._report_disk_error(exc, dest) from None
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
            raise self._report_disk_error(exc, dest) from None
        finally:
            if not ok:
                _unlink_quietly(temp_path)

    def _place(self, temp_path: Path, dest: Path, name: str) -> Path:
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
            raise self._report_disk_error(exc, dest) from None
        finally:
            _unlink_quietly(temp_path)

    @staticmethod
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
