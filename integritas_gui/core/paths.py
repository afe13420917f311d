"""Where the app keeps its data, logs and settings.

platformdirs picks the per-OS folders; ``INTEGRITAS_DATA_DIR`` (or ``--data-dir``) puts everything
under one folder instead, so tests and manual QA never touch a user's real data.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from integritas_gui import APP_ID

DATA_DIR_ENV = "INTEGRITAS_DATA_DIR"


@dataclass(frozen=True)
class AppDirs:
    data: Path
    config: Path
    logs: Path
    reports: Path
    receipts: Path

    @property
    def history_db(self) -> Path:
        return self.data / "history.sqlite3"

    @property
    def settings_file(self) -> Path:
        return self.config / "settings.json"

    def create(self) -> "AppDirs":
        for folder in (self.data, self.config, self.logs, self.reports, self.receipts):
            folder.mkdir(parents=True, exist_ok=True)
        return self


def app_dirs(data_dir: str | os.PathLike | None = None) -> AppDirs:
    """The app's folders: ``data_dir`` if given, else ``$INTEGRITAS_DATA_DIR``, else platformdirs."""
    root = data_dir or os.environ.get(DATA_DIR_ENV)
    if root:
        base = Path(root).expanduser().resolve()
        return AppDirs(
            data=base,
            config=base / "config",
            logs=base / "logs",
            reports=base / "reports",
            receipts=base / "receipts",
        )
    data = Path(platformdirs.user_data_dir(APP_ID, appauthor=False))
    return AppDirs(
        data=data,
        config=Path(platformdirs.user_config_dir(APP_ID, appauthor=False)),
        logs=Path(platformdirs.user_log_dir(APP_ID, appauthor=False)),
        reports=Path(platformdirs.user_documents_dir()) / "Integritas Reports",
        receipts=data / "receipts",
    )
