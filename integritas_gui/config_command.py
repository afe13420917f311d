"""`integritas config list | get KEY | set KEY VALUE | unset KEY`: the Settings dialog's settings.

The same settings file and the same keyring as the window. The API key and the node's RPC password
are read from stdin (or a hidden prompt on a terminal), stored where the dialog stores them, and
never printed.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from integritas_gui.core.errors import BadInput
from integritas_gui.core.secrets import NodePasswordStore, SecretStore
from integritas_gui.core.settings import KEYS_BY_NAME, SANDBOX_SERVICE, SETTING_KEYS, Settings, parse_bool

API_KEY = "api-key"
NODE_PASSWORD = "node-password"
KEY_FILE = "key-file"
SECRET_KEYS = {
    API_KEY: "the Integritas API key, kept in the system keyring: `set api-key -` reads it from stdin",
    NODE_PASSWORD: "your Minima node's RPC password (-rpcpassword), kept where the API key is: "
                   "`set node-password -` reads it from stdin",
    KEY_FILE: "yes: keep the API key (and node password) in a file only you can read (systems "
              "without a keyring)",
}
# The secrets: what each is called in messages, and the store that keeps it.
SECRETS = {API_KEY: ("Integritas API key", SecretStore), NODE_PASSWORD: ("node password", NodePasswordStore)}


def keys_help() -> str:
    lines = [f"  {key.name:<18} {key.help}" + (f" [{key.env}]" if key.env else "")
             for key in SETTING_KEYS]
    lines += [f"  {name:<18} {text}" + (f" [{SECRETS[name][1].env_name}]" if name in SECRETS else "")
              for name, text in SECRET_KEYS.items()]
    return ("keys (environment variable overriding it):\n" + "\n".join(lines)
            + "\n\nSetting `service` also skips the window's first-run screen. With no API key, or "
            "with service `sandbox`, commands use the local sandbox (trial mode); "
            "INTEGRITAS_SANDBOX_BLOCK_TIME sets its seconds per block (default 50).")


def add_config_parser(sub, common: argparse.ArgumentParser) -> None:
    shown = {"epilog": keys_help(), "formatter_class": argparse.RawDescriptionHelpFormatter}
    p = sub.add_parser("config", help="show or change the settings",
                       description="Show or change the settings the window's Settings dialog shows.",
                       **shown)
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("list", parents=[common], help="every setting and its value", **shown)
    getter = actions.add_parser("get", parents=[common], help="one setting's value", **shown)
    getter.add_argument("key", metavar="KEY")
    setter = actions.add_parser("set", parents=[common], help="change a setting", **shown)
    setter.add_argument("key", metavar="KEY")
    setter.add_argument("value", metavar="VALUE", nargs="?",
                        help="the new value (api-key: `-` reads it from stdin)")
    unsetter = actions.add_parser("unset", parents=[common], help="back to the default", **shown)
    unsetter.add_argument("key", metavar="KEY")
    p.set_defaults(func=cmd_config)


def cmd_config(args: argparse.Namespace, out) -> int:
    from integritas_gui.core.paths import app_dirs
    from integritas_gui.core.secrets import SecretStore
    from integritas_gui.core.settings import load_settings, save_settings

    dirs = app_dirs(args.data_dir)
    settings = load_settings(dirs.settings_file)
    store = SecretStore(dirs.config)
    key = getattr(args, "key", None)
    if key is not None and key not in KEYS_BY_NAME and key not in SECRET_KEYS:
        known = ", ".join([k.name for k in SETTING_KEYS] + list(SECRET_KEYS))
        raise BadInput(f"There is no setting {key!r}. The settings are: {known}.")

    if args.action == "list":
        for name in [k.name for k in SETTING_KEYS] + list(SECRET_KEYS):
            _print(out, name, settings, store)
        return 0
    if args.action == "get":
        _print(out, key, settings, store)
        return 0
    if key in SECRETS:
        return _set_secret(args, out, key, _secret_store(key, dirs.config))
    if key == KEY_FILE:
        use_file = args.action == "set" and parse_bool(_value(args))
        if use_file != store.file_fallback_enabled:
            # Both secrets move: leaving the file deletes it, so they are read first.
            stores = [_secret_store(name, dirs.config) for name in SECRETS]
            kept = [(s, s.get_api_key() if s.env_name not in _env() else None) for s in stores]
            if any(secret for _, secret in kept) and not use_file and not store.keyring_available:
                raise BadInput("This system has no keyring to move the key to, so it stays in its "
                               "file. Remove it with `integritas config unset api-key`.")
            for secret_store, _ in kept:
                secret_store.use_file_fallback(use_file)
            for secret_store, secret in kept:
                if secret:
                    secret_store.set_api_key(secret)
        _print(out, key, settings, store)
        return 0

    setting = KEYS_BY_NAME[key]
    if args.action == "set":
        value = setting.parse(_value(args))
    else:
        value = _default(setting.field)
    setattr(settings, setting.field, value)
    if setting.name == "service":
        settings.first_run_done = True  # a chosen service: no first-run screen in the window
    dirs.config.mkdir(parents=True, exist_ok=True)
    save_settings(settings, dirs.settings_file)
    _print(out, key, settings, store)
    return 0


def _env() -> dict:
    import os

    return {k: v for k, v in os.environ.items() if v.strip()}


def _value(args: argparse.Namespace) -> str:

    if args.value is None:
        raise BadInput(f"Give a value: integritas config set {args.key} VALUE")
    return args.value


def _default(name: str) -> Any:
    return getattr(Settings(), name)


def _secret_store(name: str, config_dir) -> SecretStore:
    return SECRETS[name][1](config_dir)


def _describe_secret(name: str, store: SecretStore) -> tuple[bool, str]:
    if store.env_name in _env():
        return True, f"set (from {store.env_name}, which overrides a stored {SECRETS[name][0]})"
    if store.get_api_key():
        return True, f"stored in {store.backend_description}"
    if name == API_KEY:
        return False, "not set (the CLI and the window use the local sandbox)"
    return False, "not set (your node asks for none)"


def _print(out, name: str, settings: Settings, store) -> None:
    if name in SECRETS:
        stored, text = _describe_secret(name, _secret_store(name, store.config_dir))
        out.result({"key": name, "value": None, "stored": stored, "description": text},
                   f"{name} = {text}")
        return
    if name == KEY_FILE:
        value = store.file_fallback_enabled
        out.result({"key": name, "value": value}, f"{name} = {'yes' if value else 'no'}")
        return
    setting = KEYS_BY_NAME[name]
    value = getattr(settings, setting.field)
    text = setting.show(value)
    note = ""
    if setting.env and setting.env in _env():
        note = f"  ({setting.env} overrides it for now)"
    if name == "service" and value == SANDBOX_SERVICE:
        note += "  (trial mode)"
    out.result({"key": name, "value": value}, f"{name} = {text}{note}")


def _set_secret(args: argparse.Namespace, out, name: str, store: SecretStore) -> int:
    from integritas_gui.core.logsetup import register_secret

    words = SECRETS[name][0]
    if args.action == "unset":
        store.delete_api_key()
        _print(out, name, Settings(), store)
        return 0
    if args.value != "-":
        raise BadInput(f"Give the {words} on stdin, not on the command line (where it stays in the "
                       f"shell history): integritas config set {name} -")
    if sys.stdin.isatty():
        secret = getpass.getpass(f"{words[0].upper()}{words[1:]} (not shown): ")
    else:
        secret = sys.stdin.readline()
    secret = secret.strip()
    if not secret:
        raise BadInput(f"No {words} was given; nothing changed.")
    register_secret(secret)
    if not store.keyring_available and not store.file_fallback_enabled:
        raise BadInput(f"This system has no keyring to keep the {words} safely, so it was not stored. "
                       "Run `integritas config set key-file yes` to keep it in a file only you can "
                       f"read, or set {store.env_name}.")
    try:
        store.set_api_key(secret)
    except Exception as exc:  # a broken keyring service: say so in one line
        raise BadInput(f"The keyring refused the {words} ({type(exc).__name__}); nothing changed.") from None
    _print(out, name, Settings(), store)
    return 0
