"""User settings: a small versioned JSON file under the config dir.

Unknown keys from a newer version are kept on save, so a downgrade never destroys settings;
older files are migrated forward step by step.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

SETTINGS_VERSION = 1
REAL_SERVICE_URL = "https://integritas.technology/core"


@dataclass
class Settings:
    base_url: str = REAL_SERVICE_URL
    hash_workers: int = field(default_factory=lambda: max(1, min(4, os.cpu_count() or 2)))
    segment_size: str | int = "auto"
    write_sidecar_receipts: bool = False
    send_file_details: bool = False
    proxy: str = ""
    notifications: bool = True
    first_run_done: bool = False
    # Queue behaviour for files dropped on the window: "stamp", "verify" or "check".
    drop_action: str = "stamp"
    # The user's own Minima node (its RPC password is in the keyring: NodePasswordStore).
    node_url: str = "http://127.0.0.1:9005"
    node_confirmations: int = 3
    stamp_with: str = "service"  # "service" or "node"
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
