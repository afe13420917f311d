"""The one place where settings become working parts: history, client, engine, trial sandbox.

Both front ends start here: the ``integritas`` command and the window's engine process
(``integritas-gui --engine``, engine_process.py); the window itself opens only a ``WindowSession``
(``open_window_session``: its settings, a history to read, the trial sandbox process). Settings come
from the settings file; the environment (``overrides_from_env``) and command-line options
(``Overrides``) override them for one run without changing the file. Nothing here imports Qt.

Trial mode (``trial_mode``): with the service set to ``sandbox``, or with no API key and no service
given for this run, a local sandbox is started (``start_trial_sandbox``) with its ledger in the data
folder, and a simulated Minima node on the same ledger (``start_simulated_node``). The window starts
them in a process of their own (sandbox_process.py) and hands them to its engine process as a
``RunningSandbox``.

The user's own Minima node: with ``stamp_with`` set to ``node`` (or a simulated node running), the
engine's client is a StampRouter (``node_router``): stamps go out from the node when chosen, and
verifications ask the node too.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from integritas_gui.core.errors import BadInput
from integritas_gui.core.paths import AppDirs
from integritas_gui.core.settings import (
    KEYS_BY_NAME,
    SANDBOX_SERVICE,
    SETTING_KEYS,
    SLOW_REQUEST_FACTOR,
    Settings,
    SettingError,
)

log = logging.getLogger(__name__)

SANDBOX_BLOCK_TIME_ENV = "INTEGRITAS_SANDBOX_BLOCK_TIME"
DEFAULT_BLOCK_TIME = 50.0  # seconds between the trial sandbox's blocks, as on Minima
SANDBOX_LEDGER_NAME = "sandbox-ledger.sqlite3"
NODE_SEND_TIME_ENV = "INTEGRITAS_SANDBOX_NODE_SEND_TIME"
NODE_WALLET_PASSWORD_ENV = "INTEGRITAS_NODE_WALLET_PASSWORD"
# Older names, still read when the new one is not set.
DEPRECATED_ENV = {"INTEGRITAS_SERVICE": "INTEGRITAS_BASE_URL",
                  SANDBOX_BLOCK_TIME_ENV: "INTEGRITAS_BLOCK_TIME"}


class TrialSandbox(Protocol):
    """What the session needs of a running trial sandbox."""

    base_url: str
    api_key: str

    def close(self) -> None: ...


@dataclass(frozen=True)
class RunningNode:
    """A simulated node another process runs (the window's sandbox process): used, never stopped."""

    url: str

    def stop(self) -> None:
        pass


@dataclass(frozen=True)
class RunningSandbox:
    """A trial sandbox (and its simulated node) another process runs: used, never closed here."""

    base_url: str
    api_key: str
    block_time: float
    node_url: str | None = None

    def close(self) -> None:
        pass


@dataclass(frozen=True)
class Overrides:
    """What this run asks for on top of the settings file.

    ``settings``: Settings field -> already-checked value (from the environment or options).
    ``client_options`` go to IntegritasClient as they are (tests: short backoff)."""

    settings: Mapping[str, Any] = field(default_factory=dict)
    api_key: str | None = None
    force_sandbox: bool = False
    sandbox_block_time: float | None = None
    max_retries: int | None = None
    client_options: Mapping[str, Any] = field(default_factory=dict)

    def merged(self, other: Overrides) -> Overrides:
        """``other``'s values where it has them, else ours."""
        return Overrides(
            settings={**self.settings, **other.settings},
            api_key=other.api_key or self.api_key,
            force_sandbox=self.force_sandbox or other.force_sandbox,
            sandbox_block_time=(other.sandbox_block_time if other.sandbox_block_time is not None
                                else self.sandbox_block_time),
            max_retries=other.max_retries if other.max_retries is not None else self.max_retries,
            client_options={**self.client_options, **other.client_options},
        )

    def to_wire(self) -> dict[str, Any]:
        """These overrides as JSON for the engine process, without the API key (the engine process
        reads it from the keyring or the environment itself)."""
        return {"settings": dict(self.settings), "force_sandbox": self.force_sandbox,
                "sandbox_block_time": self.sandbox_block_time, "max_retries": self.max_retries,
                "client_options": dict(self.client_options)}

    @classmethod
    def from_wire(cls, data: Mapping[str, Any] | None) -> Overrides:
        return cls(**{k: v for k, v in (data or {}).items() if k in _WIRE_FIELDS})


_WIRE_FIELDS = ("settings", "force_sandbox", "sandbox_block_time", "max_retries", "client_options")


def _env(environ: Mapping[str, str], name: str) -> tuple[str, str] | None:
    """(variable actually used, value) for ``name`` or its deprecated alias, when set."""
    for variable in (name, DEPRECATED_ENV.get(name)):
        if variable and environ.get(variable, "").strip():
            return variable, environ[variable]
    return None


def overrides_from_env(environ: Mapping[str, str] | None = None) -> Overrides:
    """The settings the environment overrides (see README); SettingError names a bad variable."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for key in SETTING_KEYS:
        found = key.env and _env(environ, key.env)
        if found:
            values[key.field] = _parse_env(found, key.parse)
    block_time = None
    found = _env(environ, SANDBOX_BLOCK_TIME_ENV)
    if found:
        block_time = _parse_env(found, parse_block_time)
    return Overrides(settings=values, sandbox_block_time=block_time)


def _parse_env(found: tuple[str, str], parse):
    variable, text = found
    try:
        return parse(text)
    except SettingError as exc:
        raise SettingError(f"{variable}: {exc.message}") from None


def parse_block_time(text: str) -> float:
    try:
        value = float(str(text).strip())
    except ValueError:
        value = -1.0
    if not 0.05 <= value <= 3600:
        raise SettingError(f"{text!r} is not a block time: give seconds from 0.05 to 3600.")
    return value


def setting_override(name: str, text: str) -> dict[str, Any]:
    """{field: value} for the setting ``name`` (as ``integritas config`` names it) typed as ``text``."""
    key = KEYS_BY_NAME[name]
    return {key.field: key.parse(text)}


def effective_settings(settings: Settings, overrides: Overrides) -> Settings:
    """A copy of ``settings`` with this run's overrides (the file is never changed by them)."""
    return replace(settings, **dict(overrides.settings)) if overrides.settings else replace(settings)


@dataclass
class Session:
    """Everything one front end works with. ``settings`` is the user's (saved) settings object;
    ``effective`` is what this run uses (settings + overrides)."""

    dirs: AppDirs
    settings: Settings
    effective: Settings
    secrets: Any
    history: Any
    client: Any
    engine: Any
    overrides: Overrides = field(default_factory=Overrides)
    sandbox: TrialSandbox | None = None
    block_time: float | None = None
    settings_path: Any = None
    node: Any = None  # the simulated Minima node of trial mode (sandbox/node.py)

    @property
    def trial(self) -> bool:
        return self.sandbox is not None

    @property
    def base_url(self) -> str:
        return self.client.base_url

    def shutdown(self, *, keep_history: bool = False) -> None:
        """Stop the engine (waiting for its threads), then the client, simulated node, sandbox and
        history (unless ``keep_history``: a caller still reading results)."""
        for step in (lambda: self.engine.shutdown(wait=True), self.client.close,
                     lambda: self.node and self.node.stop(),
                     lambda: self.sandbox and self.sandbox.close(),
                     lambda: keep_history or self.history.close()):
            try:
                step()
            except Exception:  # one failing part must not keep the others running
                log.exception("Error while shutting down")


def start_trial_sandbox(dirs: AppDirs, block_time: float = DEFAULT_BLOCK_TIME) -> TrialSandbox:
    """The local sandbox on a free loopback port, its ledger in the data folder (kept across runs)."""
    from integritas_gui.sandbox.server import SandboxServer

    server = SandboxServer(port=0, db=str(dirs.data / SANDBOX_LEDGER_NAME), block_time=block_time)
    return server.start()


def node_send_time() -> float:
    """Seconds a send of the simulated node takes (a real node's ~1.2 s unless the environment says)."""
    try:
        return float(os.environ.get(NODE_SEND_TIME_ENV, "1.2"))
    except ValueError:
        return 1.2


def start_simulated_node(sandbox: Any) -> Any:
    """A simulated node on the trial sandbox's ledger (in the sandbox's process)."""
    from integritas_gui.sandbox.node import SimulatedNode

    node = SimulatedNode(sandbox.ledger, send_time=node_send_time()).start()
    log.info("Trial mode: simulated Minima node at %s", node.url)
    return node


def node_url(effective: Settings, simulated: Any) -> str:
    """The node this session uses: the user's, else (trial mode) the simulated one."""
    from integritas_gui.core.settings import DEFAULT_NODE_URL

    chosen = (effective.node_url or "").strip()
    if simulated is not None and chosen in ("", DEFAULT_NODE_URL):
        return simulated.url
    return chosen or DEFAULT_NODE_URL


def open_node(effective: Settings, dirs: AppDirs, simulated: Any = None) -> Any:
    from integritas_gui.core.minima_node import MinimaNode
    from integritas_gui.core.secrets import NodePasswordStore

    url = node_url(effective, simulated)
    password = None if simulated is not None and url == simulated.url \
        else NodePasswordStore(dirs.config).get_password()
    return MinimaNode(url, password)


def node_router(service: Any, history: Any, effective: Settings, dirs: AppDirs, simulated: Any = None) -> Any:
    """Stamps through the node when the user chose so; verifications ask the node too (always in
    trial mode, where the simulated node shares the sandbox's chain)."""
    from integritas_gui.core.node_stamp import NodeStampClient, StampRouter

    submitter = NodeStampClient(open_node(effective, dirs, simulated), history,
                                confirmations=int(effective.node_confirmations),
                                wallet_password=os.environ.get(NODE_WALLET_PASSWORD_ENV) or None)
    return StampRouter(service, submitter, stamp_with_node=effective.stamp_with == "node")


def client_options(effective: Settings, overrides: Overrides, *, trial: bool) -> dict[str, Any]:
    """IntegritasClient keyword arguments for these settings."""
    timeout = float(effective.request_timeout)
    options: dict[str, Any] = {"timeout": timeout, "verify_timeout": timeout * SLOW_REQUEST_FACTOR}
    # The trial sandbox runs on this computer: a proxy (meant for the way out) is not used for it.
    if effective.proxy and not trial:
        options["proxy"] = effective.proxy
    if overrides.max_retries is not None:
        options["max_retries"] = overrides.max_retries
    options.update(overrides.client_options)
    return options


def build_engine(history, client, effective: Settings, dirs: AppDirs, *,
                 block_time: float | None = None):
    """The engine for these settings; ``block_time`` scales how stamps are followed (sandbox)."""
    from integritas_gui.core.engine import ConfirmPolicy, Engine

    confirm = ConfirmPolicy.for_block_time(block_time) if block_time else ConfirmPolicy()
    segment_size = None if effective.segment_size == "auto" else int(effective.segment_size)
    return Engine(
        history, client, hash_workers=max(1, int(effective.hash_workers)), confirm=confirm,
        reports_dir=dirs.reports, write_sidecar_receipts=effective.write_sidecar_receipts,
        segment_size=segment_size,
    )


StampClient = Callable[[Any, Settings], Any]  # (history, effective settings) -> the engine's client


def trial_mode(effective: Settings, overrides: Overrides, secrets) -> tuple[bool, str | None]:
    """(trial mode?, the API key of the service otherwise) for this run's settings.

    Raises BadInput (a plain message) when a service was given for this run but no API key."""
    api_key = None if overrides.force_sandbox else (overrides.api_key or secrets.get_api_key())
    given = "base_url" in overrides.settings
    trial = overrides.force_sandbox or effective.base_url == SANDBOX_SERVICE or (not api_key and not given)
    if not trial and not api_key:
        raise BadInput(f"No API key for {effective.base_url}: store one with `integritas config set "
                       "api-key -` (or Settings in the window), or set INTEGRITAS_API_KEY. Keys come "
                       "from your profile on integritas.technology.")
    return trial, api_key


def open_session(dirs: AppDirs, settings: Settings, secrets, *, overrides: Overrides | None = None,
                 settings_path=None, stamp_client: StampClient | None = None,
                 sandbox: RunningSandbox | None = None) -> Session:
    """Open the history, choose the service (given, or the trial sandbox), start the engine.

    ``stamp_client`` makes the engine's client on the session's history instead of the service's
    (`stamp --node`: the node's NodeStampClient); no service and no sandbox are needed then.
    ``sandbox``: the trial sandbox (and simulated node) another process runs (the window's).

    Raises BadInput (a plain message) when a service was given for this run but no API key."""
    from integritas_gui.core.client import IntegritasClient
    from integritas_gui.core.history import History
    from integritas_gui.core.logsetup import register_secret

    overrides = overrides or Overrides()
    effective = effective_settings(settings, overrides)
    service = effective.base_url
    block_time = overrides.sandbox_block_time
    node = None
    if sandbox is not None:
        trial, service, api_key, block_time = True, sandbox.base_url, sandbox.api_key, sandbox.block_time
        node = RunningNode(sandbox.node_url) if sandbox.node_url else None
    elif stamp_client is not None:
        trial, api_key = False, None
    else:
        trial, api_key = trial_mode(effective, overrides, secrets)
    if trial and sandbox is None:
        block_time = block_time or DEFAULT_BLOCK_TIME
        sandbox = start_trial_sandbox(dirs, block_time)
        service, api_key = sandbox.base_url, sandbox.api_key
        log.info("Trial mode: local sandbox at %s (block time %.1f s)", service, block_time)
    register_secret(api_key)
    history = client = None
    try:
        history = History(dirs.history_db)
        if stamp_client is not None:
            client = stamp_client(history, effective)
        else:
            client = IntegritasClient(service, api_key, **client_options(effective, overrides, trial=trial))
            if trial and not isinstance(sandbox, RunningSandbox):
                node = start_simulated_node(sandbox)
            if effective.stamp_with == "node" or node is not None:
                client = node_router(client, history, effective, dirs, node)
        if not trial and not client.is_loopback:
            block_time = None  # the real chain's pace, whatever the sandbox variable says
        engine = build_engine(history, client, effective, dirs, block_time=block_time)
    except BaseException:
        for close in (client and client.close, node and node.stop, sandbox and sandbox.close,
                      history and history.close):
            if close:
                close()
        raise
    return Session(dirs=dirs, settings=settings, effective=effective, secrets=secrets,
                   history=history, client=client, engine=engine, overrides=overrides,
                   sandbox=sandbox, block_time=block_time, settings_path=settings_path, node=node)


@dataclass
class WindowSession:
    """What one window works with: its settings, the history to read (the engine process writes
    it), the trial sandbox process, and what its engine process starts with. The engine, its client
    and the node router are built in the engine process (``open_session``); the window reaches them
    through the EngineBridge it puts in ``engine``."""

    dirs: AppDirs
    settings: Settings
    effective: Settings
    secrets: Any
    history: Any
    overrides: Overrides = field(default_factory=Overrides)
    sandbox: Any = None  # SandboxProcess (sandbox_process.py) in trial mode
    settings_path: Any = None
    engine: Any = None  # the window's EngineBridge

    @property
    def trial(self) -> bool:
        return self.sandbox is not None

    @property
    def base_url(self) -> str:
        return self.sandbox.base_url if self.sandbox is not None else self.effective.base_url

    def engine_config(self) -> dict[str, Any]:
        """The engine process's ``start`` command: the settings as the window has them now, this
        run's overrides and the trial sandbox. No API key of a real service: the engine process
        reads it from the keyring (or the environment)."""
        config: dict[str, Any] = {"settings": self.settings.to_dict(), "overrides": self.overrides.to_wire()}
        if self.sandbox is not None:
            config["sandbox"] = {"base_url": self.sandbox.base_url, "api_key": self.sandbox.api_key,
                                 "block_time": self.sandbox.block_time, "node_url": self.sandbox.node_url}
        return config

    def shutdown(self) -> None:
        """Stop the engine process (it finishes its own work first), the sandbox, the history."""
        for step in (lambda: self.engine and self.engine.stop(),
                     lambda: self.sandbox and self.sandbox.close(), self.history.close):
            try:
                step()
            except Exception:  # one failing part must not keep the others running
                log.exception("Error while shutting down")


def open_window_session(dirs: AppDirs, settings: Settings, secrets, *, overrides: Overrides | None = None,
                        settings_path=None) -> WindowSession:
    """Choose the service as the engine process will (``trial_mode``): in trial mode, start the
    sandbox and its simulated node in a process of their own; open the history for reading.

    Raises BadInput (a plain message) when a service was given for this run but no API key."""
    from integritas_gui.core.history import History
    from integritas_gui.sandbox_process import SandboxProcess

    overrides = overrides or Overrides()
    effective = effective_settings(settings, overrides)
    trial, _ = trial_mode(effective, overrides, secrets)
    sandbox = None
    if trial:
        sandbox = SandboxProcess(str(dirs.data / SANDBOX_LEDGER_NAME),
                                 overrides.sandbox_block_time or DEFAULT_BLOCK_TIME,
                                 node_send_time=node_send_time())
    try:
        history = History(dirs.history_db)
    except BaseException:
        if sandbox is not None:
            sandbox.close()
        raise
    return WindowSession(dirs=dirs, settings=settings, effective=effective, secrets=secrets,
                         history=history, overrides=overrides, sandbox=sandbox, settings_path=settings_path)
