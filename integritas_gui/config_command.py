"""`integritas config list | get KEY | set KEY VALUE | unset KEY`: the Settings dialog's settings.

The same settings file and the same keyring as the window. The API key is read from stdin (or a
hidden prompt on a terminal), stored where the dialog stores it, and never printed.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from integritas_gui.core.errors import BadInput
from integritas_gui.core.secrets import API_KEY_ENV
from integritas_gui.core.settings import KEYS_BY_NAME, SANDBOX_SERVICE, SETTING_KEYS, Settings, parse_bool

API_KEY = "api-key"
KEY_FILE = "key-file"
SECRET_KEYS = {
    API_KEY: "the Integritas API key, kept in the system keyring: `set api-key -` reads it from stdin",
    KEY_FILE: "yes: keep the API key in a file only you can read (systems without a keyring)",
}


def keys_help() -> str:
    lines = [f"  {key.name:<18} {key.help}" + (f" [{key.env}]" if key.env else "")
             for key in SETTING_KEYS]
    lines += [f"  {name:<18} {text}" + (f" [{API_KEY_ENV}]" if name == API_KEY else "")
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
    if key == API_KEY:
        return _set_api_key(args, out, store)
    if key == KEY_FILE:
        use_file = args.action == "set" and parse_bool(_value(args))
        if use_file != store.file_fallback_enabled:
            kept = store.get_api_key() if API_KEY_ENV not in _env() else None
            if kept and not use_file and not store.keyring_available:
                raise BadInput("This system has no keyring to move the key to, so it stays in its "
                               "file. Remove it with `integritas config unset api-key`.")
            store.use_file_fallback(use_file)  # leaving the file deletes it: move the key over
            if kept:
                store.set_api_key(kept)
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


def _describe_key(store) -> tuple[Any, str]:
    if API_KEY_ENV in _env():
        return True, f"set (from {API_KEY_ENV}, which overrides a stored key)"
    if store.get_api_key():
        return True, f"stored in {store.backend_description}"
    return False, "not set (the CLI and the window use the local sandbox)"


def _print(out, name: str, settings: Settings, store) -> None:
    if name == API_KEY:
        stored, text = _describe_key(store)
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


def _set_api_key(args: argparse.Namespace, out, store) -> int:
    from integritas_gui.core.logsetup import register_secret

    if args.action == "unset":
        store.delete_api_key()
        _print(out, API_KEY, Settings(), store)
        return 0
    if args.value != "-":
        raise BadInput("Give the key on stdin, not on the command line (where it stays in the shell "
                       "history): integritas config set api-key -")
    if sys.stdin.isatty():
        key = getpass.getpass("Integritas API key (not shown): ")
    else:
        key = sys.stdin.readline()
    key = key.strip()
    if not key:
        raise BadInput("No key was given; nothing changed.")
    register_secret(key)
    if not store.keyring_available and not store.file_fallback_enabled:
        raise BadInput("This system has no keyring to keep the key safely, so it was not stored. Run "
                       "`integritas config set key-file yes` to keep it in a file only you can read, "
                       f"or set {API_KEY_ENV}.")
    try:
        store.set_api_key(key)
    except Exception as exc:  # a broken keyring service: say so in one line
        raise BadInput(f"The keyring refused the key ({type(exc).__name__}); nothing changed.") from None
    _print(out, API_KEY, Settings(), store)
    return 0
