"""What one window works with: its settings, a read-only view of the history, the trial sandbox
process, and the settings its engine process starts with. The engine itself (walking, hashing,
HTTP, history writes) runs in a child process, reached through ``EngineBridge`` (gui/adapter.py),
which the window creates and puts in ``engine``. Nothing here imports Qt."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from integritas_gui.gui.services import SANDBOX_SETTING, sandbox_block_time

log = logging.getLogger(__name__)


@dataclass
class WindowServices:
    dirs: Any
    settings: Any
    secrets: Any
    history: Any  # read by the window (history tab, details); written only by the engine process
    service_url: str | None = None  # a real service's base URL; None in trial mode
    sandbox: Any = None  # SandboxProcess in trial mode
    settings_path: Any = None
    client_options: dict | None = None
    engine: Any = None  # the window's EngineBridge

    @property
    def trial(self) -> bool:
        return self.sandbox is not None

    @property
    def base_url(self) -> str:
        return self.sandbox.base_url if self.sandbox is not None else self.service_url

    def engine_config(self) -> dict:
        """The engine process's ``start`` command: the settings as the window has them now and the
        service. The API key of a real service is never sent: the engine reads it from the keyring."""
        config: dict = {"settings": self.settings.to_dict(), "base_url": self.base_url,
                        "client_options": self.client_options}
        if self.sandbox is not None:
            config.update(api_key=self.sandbox.api_key, block_time=self.sandbox.block_time)
        return config

    def shutdown(self) -> None:
        """Stop the engine process (it finishes its own work first), the sandbox, the history."""
        for step in (lambda: self.engine and self.engine.stop(),
                     lambda: self.sandbox and self.sandbox.close(), self.history.close):
            try:
                step()
            except Exception:  # one failing part must not keep the others running
                log.exception("Error while shutting down")


def start_window_services(dirs, settings, secrets, *, base_url: str | None = None,
                          force_sandbox: bool = False, settings_path=None,
                          client_options: dict | None = None) -> WindowServices:
    """Choose the service as the engine will (real, or the sandbox started here in a process of its
    own) and open the history for reading."""
    from integritas_gui.core.history import History
    from integritas_gui.sandbox_process import SandboxProcess

    api_key = None if force_sandbox else secrets.get_api_key()
    url = base_url or settings.base_url
    trial = force_sandbox or url == SANDBOX_SETTING or (not api_key and not base_url)
    sandbox = None
    if trial:
        sandbox = SandboxProcess(str(dirs.data / "sandbox-ledger.sqlite3"), sandbox_block_time())
    try:
        history = History(dirs.history_db)
    except Exception:
        if sandbox is not None:
            sandbox.close()
        raise
    return WindowServices(dirs=dirs, settings=settings, secrets=secrets, history=history,
                          service_url=None if trial else url, sandbox=sandbox,
                          settings_path=settings_path, client_options=client_options)
