"""The API key: kept in the OS keyring, or, only when the user agrees, in an owner-only file.

Where no keyring backend exists we never fall back to plain text silently: ``set_api_key`` raises
until the user has chosen the file with ``use_file_fallback(True)``.
The environment variable INTEGRITAS_API_KEY overrides both (for the CLI and CI).
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from integritas_gui.core.errors import IntegritasError

log = logging.getLogger(__name__)

SERVICE_NAME = "integritas-desktop"
ACCOUNT_NAME = "api-key"
API_KEY_ENV = "INTEGRITAS_API_KEY"
KEY_FILE_NAME = "api-key"
FALLBACK_MARKER = "use-key-file"


class NoKeyring(IntegritasError):
    kind = "no_keyring"


def _keyring_backend():
    """The usable keyring backend, or None when this system has none."""
    try:
        import keyring
        from keyring.backends import fail

        backend = keyring.get_keyring()
    except Exception as exc:  # keyring raises many kinds when the platform service is broken
        log.info("Keyring unavailable: %s", type(exc).__name__)
        return None
    if isinstance(backend, fail.Keyring) or getattr(backend, "priority", 1) <= 0:
        return None
    return backend


class SecretStore:
    # One secret per store; NodePasswordStore keeps the node's RPC password the same way.
    account, env_name, file_name = ACCOUNT_NAME, API_KEY_ENV, KEY_FILE_NAME

    def __init__(self, config_dir: str | os.PathLike):
        self.config_dir = Path(config_dir)

    # ---- where the key lives -------------------------------------------------------------------
    @property
    def keyring_available(self) -> bool:
        return _keyring_backend() is not None

    @property
    def key_file(self) -> Path:
        return self.config_dir / self.file_name

    @property
    def file_fallback_enabled(self) -> bool:
        return (self.config_dir / FALLBACK_MARKER).exists()

    def use_file_fallback(self, allow: bool) -> None:
        """The user's explicit choice to keep the key in an owner-only file."""
        marker = self.config_dir / FALLBACK_MARKER
        if allow:
            self.config_dir.mkdir(parents=True, exist_ok=True)
            marker.write_text("The API key is kept in the file 'api-key' (owner-only).\n")
        else:
            marker.unlink(missing_ok=True)
            self.key_file.unlink(missing_ok=True)

    @property
    def backend_description(self) -> str:
        backend = _keyring_backend()
        if backend is not None and not self.file_fallback_enabled:
            name = getattr(backend, "name", type(backend).__name__)
            return f"the system keyring ({name})"
        if self.file_fallback_enabled:
            return f"a file only you can read ({self.key_file})"
        return "nowhere yet: this system has no keyring"

    # ---- the key -------------------------------------------------------------------------------
    def get_api_key(self) -> str | None:
        env = os.environ.get(self.env_name, "").strip()
        if env:
            return env
        if self.file_fallback_enabled:
            try:
                return self.key_file.read_text(encoding="utf-8").strip() or None
            except FileNotFoundError:
                return None
        backend = _keyring_backend()
        if backend is None:
            return None
        try:
            return backend.get_password(SERVICE_NAME, self.account) or None
        except Exception as exc:
            log.warning("Could not read the API key from the keyring: %s", type(exc).__name__)
            return None

    def set_api_key(self, key: str) -> None:
        key = key.strip()
        if not key:
            self.delete_api_key()
            return
        if self.file_fallback_enabled:
            self._write_key_file(key)
            return
        backend = _keyring_backend()
        if backend is None:
            raise NoKeyring(
                "This system has no keyring to keep the API key safely. "
                "Choose 'Keep the key in a file only I can read', or set INTEGRITAS_API_KEY."
            )
        backend.set_password(SERVICE_NAME, self.account, key)

    def delete_api_key(self) -> None:
        self.key_file.unlink(missing_ok=True)
        backend = _keyring_backend()
        if backend is not None:
            try:
                backend.delete_password(SERVICE_NAME, self.account)
            except Exception:  # nothing stored is fine
                pass

    def _write_key_file(self, key: str) -> None:
        self.config_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.key_file.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, stat.S_IRUSR | stat.S_IWUSR)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(key + "\n")
        os.chmod(tmp, stat.S_IRUSR | stat.S_IWUSR)
        os.replace(tmp, self.key_file)


class NodePasswordStore(SecretStore):
    """The RPC password of the user's own Minima node (INTEGRITAS_NODE_PASSWORD overrides)."""

    account, env_name, file_name = "minima-node-rpc-password", "INTEGRITAS_NODE_PASSWORD", "node-password"

    def get_password(self) -> str | None:
        return self.get_api_key()

    def set_password(self, password: str) -> None:
        self.set_api_key(password)
