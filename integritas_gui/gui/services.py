"""The core objects one window works with, started and stopped together.

With no API key (or with ``--sandbox``), the local sandbox is started in-process and the app runs in
trial mode. Nothing here imports Qt.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

SANDBOX_BLOCK_TIME_ENV = "INTEGRITAS_SANDBOX_BLOCK_TIME"
SANDBOX_SETTING = "sandbox"  # Settings.base_url value meaning "use the local sandbox"
DEFAULT_BLOCK_TIME = 50.0


@dataclass
class Services:
    dirs: Any
    settings: Any
    secrets: Any
    history: Any
    client: Any
    engine: Any
    sandbox: Any = None
    settings_path: Any = None

    @property
    def trial(self) -> bool:
        return self.sandbox is not None

    @property
    def base_url(self) -> str:
        return self.client.base_url

    def shutdown(self) -> None:
        """Stop the engine (waiting for its threads), then the client, sandbox and history."""
        for step in (lambda: self.engine.shutdown(wait=True), self.client.close,
                     lambda: self.sandbox and self.sandbox.close(), self.history.close):
            try:
                step()
            except Exception:  # one failing part must not keep the others running
                log.exception("Error while shutting down")


def sandbox_block_time() -> float:
    try:
        return float(os.environ.get(SANDBOX_BLOCK_TIME_ENV, DEFAULT_BLOCK_TIME))
    except ValueError:
        return DEFAULT_BLOCK_TIME


def build_engine(history, client, settings, dirs, block_time: float | None = None):
    from integritas_gui.core.engine import ConfirmPolicy, Engine

    confirm = ConfirmPolicy.for_block_time(block_time) if block_time else ConfirmPolicy()
    segment_size = None if settings.segment_size == "auto" else int(settings.segment_size)
    return Engine(
        history, client, hash_workers=max(1, int(settings.hash_workers)), confirm=confirm,
        reports_dir=dirs.reports, write_sidecar_receipts=settings.write_sidecar_receipts,
        segment_size=segment_size,
    )


def start_services(dirs, settings, secrets, *, base_url: str | None = None,
                   force_sandbox: bool = False, settings_path=None,
                   client_options: dict | None = None, api_key: str | None = None,
                   block_time: float | None = None) -> Services:
    """Open the history, choose the service (real or sandbox), and start the engine.

    ``client_options`` go to ``IntegritasClient`` (tests pass short timeouts and backoff).
    ``api_key`` and ``block_time`` with ``base_url``: a sandbox already running elsewhere."""
    from integritas_gui.core.client import IntegritasClient
    from integritas_gui.core.history import History
    from integritas_gui.core.logsetup import register_secret

    if api_key is None:
        api_key = None if force_sandbox else secrets.get_api_key()
    url = base_url or settings.base_url
    trial = force_sandbox or url == SANDBOX_SETTING or (not api_key and not base_url)
    sandbox = None
    if trial:
        from integritas_gui.sandbox.server import SandboxServer

        block_time = sandbox_block_time()
        sandbox = SandboxServer(port=0, db=str(dirs.data / "sandbox-ledger.sqlite3"),
                                block_time=block_time).start()
        url, api_key = sandbox.base_url, sandbox.api_key
        log.info("Trial mode: local sandbox at %s (block time %.1f s)", url, block_time)
    register_secret(api_key)
    history = History(dirs.history_db)
    try:
        client = IntegritasClient(url, api_key, **(client_options or {}))
    except Exception:
        history.close()
        if sandbox is not None:
            sandbox.close()
        raise
    engine = build_engine(history, client, settings, dirs, block_time)
    return Services(dirs=dirs, settings=settings, secrets=secrets, history=history, client=client,
                    engine=engine, sandbox=sandbox, settings_path=settings_path)
