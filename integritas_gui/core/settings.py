"""User settings: a small versioned JSON file under the config dir.

Unknown keys from a newer version are kept on save, so a downgrade never destroys settings;
older files are migrated forward step by step.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from integritas_gui.core.display import format_size
from integritas_gui.core.errors import BadInput

log = logging.getLogger(__name__)

SETTINGS_VERSION = 1
REAL_SERVICE_URL = "https://integritas.technology/core"
SANDBOX_SERVICE = "sandbox"  # Settings.base_url value meaning "trial mode: the local sandbox"
DEFAULT_REQUEST_TIMEOUT = 30.0
# Verifications (which may build a report) and report downloads wait this many times as long.
SLOW_REQUEST_FACTOR = 4
MAX_REQUEST_TIMEOUT = 3600.0
MAX_HASH_WORKERS = max(2, (os.cpu_count() or 2) * 2)
KIB, MIB = 1024, 1024 * 1024
SEGMENT_CHOICES: tuple[tuple[int, str], ...] = tuple(
    (size, format_size(size)) for size in (64 * KIB, 256 * KIB, 1 * MIB, 4 * MIB, 16 * MIB))
DROP_ACTIONS = ("stamp", "verify", "check")
DEFAULT_NODE_URL = "http://127.0.0.1:9005"  # a Minima node's RPC port (-rpcenable)
DEFAULT_NODE_CONFIRMATIONS = 3
MAX_NODE_CONFIRMATIONS = 100
STAMP_WITH = ("service", "node")  # the Integritas service, or the user's own Minima node


@dataclass
class Settings:
    base_url: str = REAL_SERVICE_URL
    hash_workers: int = field(default_factory=lambda: max(1, min(4, os.cpu_count() or 2)))
    segment_size: str | int = "auto"
    write_sidecar_receipts: bool = False
    send_file_details: bool = False
    proxy: str = ""
    notifications: bool = True
    # Closing the window while folders are watched or stamps pending: stay in the tray (True), quit
    # (False), or None: not asked yet (the window asks the first time).
    close_to_tray: bool | None = None
    first_run_done: bool = False
    # Queue behaviour for files dropped on the window: "stamp", "verify" or "check".
    drop_action: str = "stamp"
    # Seconds to wait for the service's answer to one request (verifications: SLOW_REQUEST_FACTOR x).
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT
    # The user's own Minima node (its RPC password is in the keyring: NodePasswordStore).
    node_url: str = DEFAULT_NODE_URL
    node_confirmations: int = DEFAULT_NODE_CONFIRMATIONS
    stamp_with: str = "service"  # one of STAMP_WITH
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        extra = data.pop("extra")
        return {**extra, **data, "version": SETTINGS_VERSION}


def _migrate(data: dict[str, Any]) -> dict[str, Any]:
    """Bring an older settings dict up to SETTINGS_VERSION (no older versions exist yet)."""
    data.setdefault("version", SETTINGS_VERSION)
    return data


def load_settings(path: str | os.PathLike) -> Settings:
    """Read settings; a missing or unreadable file gives defaults (and is logged, never fatal)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError("settings file is not a JSON object")
    except FileNotFoundError:
        return Settings()
    except (OSError, ValueError) as exc:
        log.warning("Settings file %s could not be read (%s); using defaults", path, exc)
        return Settings()
    data = _migrate(data)
    known = {f.name for f in fields(Settings)} - {"extra"}
    defaults = Settings()
    values: dict[str, Any] = {}
    for name in known:
        if name in data:
            wanted = type(getattr(defaults, name))
            value = data[name]
            if name == "segment_size":
                ok = value == "auto" or (isinstance(value, int) and value > 0)
            elif name == "close_to_tray":
                ok = value is None or isinstance(value, bool)
            elif wanted is float:
                ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0
                value = float(value) if ok else value
            else:
                ok = isinstance(value, wanted) and not (wanted is int and isinstance(value, bool))
            if ok:
                values[name] = value
            else:
                log.warning("Ignoring setting %s with unexpected value %r", name, value)
    extra = {k: v for k, v in data.items() if k not in known and k != "version"}
    return Settings(**values, extra=extra)


def save_settings(settings: Settings, path: str | os.PathLike) -> None:
    """Write settings atomically (a crash mid-write leaves the old file intact)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".settings-", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(settings.to_dict(), out, indent=2, sort_keys=True)
            out.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# ---- the settings as typed on the command line or in the environment ---------------------------
class SettingError(BadInput):
    """A setting's value that cannot be used; the message says what would be accepted."""


def _web_address(value: str):
    """``value`` as an httpx URL when it is an http(s) address with a host, else None."""
    import httpx

    try:
        url = httpx.URL(value)
    except (httpx.InvalidURL, ValueError):
        return None
    return url if url.scheme in ("http", "https") and url.host else None


def check_service(text: str) -> str:
    """``sandbox`` or an http(s) service address (plain http only on this computer)."""
    from integritas_gui.core.loopback import is_loopback_host

    value = str(text).strip().rstrip("/")
    if value.lower() == SANDBOX_SERVICE:
        return SANDBOX_SERVICE
    url = _web_address(value)
    if url is None:
        raise SettingError(f"{text!r} is not a service: give `sandbox` or an address like "
                           f"{REAL_SERVICE_URL}.")
    if url.scheme == "http" and not is_loopback_host(url.host):
        raise SettingError("The service address must use https:// (plain http only for a service on "
                           "this computer, such as the sandbox).")
    return value


def check_proxy(text: str) -> str:
    """An http(s) proxy address, or "" (or ``none``) for a direct connection."""
    value = str(text).strip()
    if value.lower() in ("", "none"):
        return ""
    if _web_address(value) is None:
        raise SettingError(f"{text!r} is not a proxy address: give one like http://proxy.example:8080, "
                           "or `none` to connect directly.")
    return value


def show_proxy(value: str) -> str:
    """The proxy address with any password in it masked."""
    if not value:
        return "none"
    from urllib.parse import urlsplit

    parts = urlsplit(value)
    if not parts.password:
        return value
    return parts._replace(netloc=parts.netloc.replace(":" + parts.password + "@", ":***@", 1)).geturl()


def parse_segment_size(text: str) -> str | int:
    value = str(text).strip().replace(" ", "").lower()
    if value == "auto":
        return "auto"
    for size, label in SEGMENT_CHOICES:
        if value in (str(size), label.replace(" ", "").lower(), label.replace(" ", "").lower()[:-2]):
            return size
    choices = ", ".join(label.replace(" ", "") for _, label in SEGMENT_CHOICES)
    raise SettingError(f"{text!r} is not a segment size: give auto or one of {choices}.")


def show_segment_size(value: str | int) -> str:
    return next((label.replace(" ", "") for size, label in SEGMENT_CHOICES if size == value), str(value))


def parse_bool(text: str) -> bool:
    value = str(text).strip().lower()
    if value in ("1", "yes", "on", "true"):
        return True
    if value in ("0", "no", "off", "false"):
        return False
    raise SettingError(f"{text!r} is neither yes nor no: give yes or no.")


def _number(text: str, kind: type, low: float, high: float, what: str):
    try:
        value = kind(str(text).strip())
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        raise SettingError(f"{text!r} is not a usable {what}: give a number from {low:g} to {high:g}.")
    return value


def parse_hash_workers(text: str) -> int:
    return _number(text, int, 1, MAX_HASH_WORKERS, "number of hashing workers")


def parse_request_timeout(text: str) -> float:
    return _number(text, float, 1, MAX_REQUEST_TIMEOUT, "request timeout (seconds)")


def check_node_url(text: str) -> str:
    """The own node's RPC address (http:// when no scheme is given)."""
    value = str(text).strip().rstrip("/")
    if value and "://" not in value:
        value = "http://" + value
    if _web_address(value) is None:
        raise SettingError(f"{text!r} is not a node address: give its RPC address, like {DEFAULT_NODE_URL}.")
    return value


def parse_node_confirmations(text: str) -> int:
    return _number(text, int, 1, MAX_NODE_CONFIRMATIONS, "number of blocks")


def parse_stamp_with(text: str) -> str:
    value = str(text).strip().lower()
    if value not in STAMP_WITH:
        raise SettingError(f"{text!r} is not where stamps go: give service (Integritas) or node "
                           "(your own Minima node).")
    return value


def parse_drop_action(text: str) -> str:
    value = str(text).strip().lower()
    if value not in DROP_ACTIONS:
        raise SettingError(f"{text!r} is not an action: give one of {', '.join(DROP_ACTIONS)}.")
    return value


def _yes_no(value: bool) -> str:
    return "yes" if value else "no"


def parse_close_to_tray(text: str) -> bool | None:
    if str(text).strip().lower() == "ask":
        return None
    try:
        return parse_bool(text)
    except SettingError:
        raise SettingError(f"{text!r} is not an answer: give yes (stay in the tray), no (quit) or ask.") from None


def show_close_to_tray(value: bool | None) -> str:
    return "ask" if value is None else _yes_no(value)


@dataclass(frozen=True)
class SettingKey:
    """One setting as ``integritas config`` and the environment name it: parse text, show a value."""

    name: str
    field: str
    help: str
    parse: Callable[[str], Any]
    show: Callable[[Any], str] = str
    env: str | None = None


SETTING_KEYS: tuple[SettingKey, ...] = (
    SettingKey("service", "base_url", "`sandbox` (trial mode) or the service address",
               check_service, env="INTEGRITAS_SERVICE"),
    SettingKey("proxy", "proxy", "proxy for every request to the service and report downloads, "
               "or `none`", check_proxy, show_proxy, env="INTEGRITAS_PROXY"),
    SettingKey("segment-size", "segment_size", "auto, or " + ", ".join(
        label.replace(" ", "") for _, label in SEGMENT_CHOICES), parse_segment_size, show_segment_size,
               env="INTEGRITAS_SEGMENT_SIZE"),
    SettingKey("sidecar-receipts", "write_sidecar_receipts", "write a receipt next to each stamped file "
               "(yes/no)", parse_bool, _yes_no, env="INTEGRITAS_SIDECAR_RECEIPTS"),
    SettingKey("hash-workers", "hash_workers", f"files hashed in parallel (1-{MAX_HASH_WORKERS})",
               parse_hash_workers, env="INTEGRITAS_HASH_WORKERS"),
    SettingKey("request-timeout", "request_timeout", "seconds to wait for one answer (verifications "
               f"and reports: {SLOW_REQUEST_FACTOR}x)", parse_request_timeout, lambda v: f"{v:g}",
               env="INTEGRITAS_REQUEST_TIMEOUT"),
    SettingKey("send-file-details", "send_file_details", "send the file name and size with "
               "verifications (yes/no)", parse_bool, _yes_no),
    SettingKey("notifications", "notifications", "notify when stamps are confirmed (yes/no)",
               parse_bool, _yes_no),
    SettingKey("close-to-tray", "close_to_tray", "closing the window while folders are watched or "
               "stamps pending keeps the app in the tray: yes/no/ask", parse_close_to_tray, show_close_to_tray),
    SettingKey("drop-action", "drop_action", "what the window does with dropped files: "
               + "/".join(DROP_ACTIONS), parse_drop_action),
    SettingKey("stamp-with", "stamp_with", "where stamps are sent from: service (Integritas) or node "
               "(your own Minima node)", parse_stamp_with),
    SettingKey("node-url", "node_url", "your own Minima node's RPC address (its password: "
               "INTEGRITAS_NODE_PASSWORD or the Settings dialog)", check_node_url),
    SettingKey("node-confirmations", "node_confirmations", "blocks deep a stamp sent from your node "
               f"must be to count as confirmed (1-{MAX_NODE_CONFIRMATIONS})", parse_node_confirmations),
)
KEYS_BY_NAME = {key.name: key for key in SETTING_KEYS}
