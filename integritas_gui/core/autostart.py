"""Start at login (opt-in): an XDG autostart entry on Linux, the HKCU Run key on Windows, a
LaunchAgent on macOS. No Qt; the entry starts the app minimised to the tray (``--background``).

The builders are pure functions (tested on every system); ``enable`` / ``disable`` / ``is_enabled``
write the one entry of the running system and nothing else.
"""

from __future__ import annotations

import os
import plistlib
import subprocess
import sys
from pathlib import Path
from typing import Sequence

from integritas_gui import APP_ID, APP_NAME

RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"
RUN_VALUE = APP_NAME
LAUNCH_AGENT_LABEL = "technology.integritas.Desktop"
BACKGROUND_FLAG = "--background"


def gui_command() -> list[str]:
    """How to start this installation's window: the frozen program, else this interpreter."""
    if getattr(sys, "frozen", False):
        return [sys.executable]
    return [sys.executable, "-m", "integritas_gui"]


# ---- the entries, as text ------------------------------------------------------------------------
def _desktop_exec(argv: Sequence[str]) -> str:
    """An Exec= value (Desktop Entry spec: arguments with spaces or reserved characters quoted,
    backslash, quote, backtick and dollar escaped inside quotes, a literal % doubled)."""
    quoted = []
    for arg in argv:
        arg = arg.replace("%", "%%")
        if arg and not any(ch in arg for ch in ' \t\n"\'\\><~|&;$*?#()`'):
            quoted.append(arg)
        else:
            quoted.append('"' + "".join("\\" + ch if ch in '"`$\\' else ch for ch in arg) + '"')
    return " ".join(quoted)


def desktop_entry(argv: Sequence[str]) -> str:
    return "\n".join([
        "[Desktop Entry]",
        "Type=Application",
        "Version=1.0",
        f"Name={APP_NAME}",
        "Comment=Keep watching folders and following stamps after login",
        f"Exec={_desktop_exec([*argv, BACKGROUND_FLAG])}",
        f"Icon={APP_ID}",
        "Terminal=false",
        "NoDisplay=true",
        "X-GNOME-Autostart-enabled=true",
        "",
    ])


def launch_agent(argv: Sequence[str]) -> bytes:
    return plistlib.dumps({
        "Label": LAUNCH_AGENT_LABEL,
        "ProgramArguments": [*argv, BACKGROUND_FLAG],
        "RunAtLoad": True,
        "ProcessType": "Interactive",
        "LimitLoadToSessionType": "Aqua",
    })


def run_value(argv: Sequence[str]) -> str:
    """The Run key's command line (Windows quoting rules)."""
    return subprocess.list2cmdline([*argv, BACKGROUND_FLAG])


# ---- where they go -------------------------------------------------------------------------------
def autostart_file() -> Path | None:
    """The entry's file on Linux/BSD and macOS; None on Windows (the registry holds it)."""
    if sys.platform == "win32":
        return None
    if sys.platform == "darwin":
        return Path.home() / "Library" / "LaunchAgents" / f"{LAUNCH_AGENT_LABEL}.plist"
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "autostart" / f"{APP_ID}.desktop"


def enable(argv: Sequence[str] | None = None) -> None:
    argv = list(argv or gui_command())
    if sys.platform == "win32":
        import winreg

        with winreg.CreateKey(winreg.HKEY_CURRENT_USER, RUN_KEY) as key:
            winreg.SetValueEx(key, RUN_VALUE, 0, winreg.REG_SZ, run_value(argv))
        return
    target = autostart_file()
    target.parent.mkdir(parents=True, exist_ok=True)
    data = launch_agent(argv) if sys.platform == "darwin" else desktop_entry(argv).encode("utf-8")
    partial = target.with_name(target.name + ".part")
    partial.write_bytes(data)
    os.replace(partial, target)


def disable() -> None:
    if sys.platform == "win32":
        import winreg

        try:
            with winreg.OpenKey(winreg.HKEY_CURRENT_USER, RUN_KEY, 0, winreg.KEY_SET_VALUE) as key:
                winreg.DeleteValue(key, RUN_VALUE)
        except FileNotFoundError:
            pass
        return
    autostart_file().unlink(missing_ok=True)


def is_enabled() -> bool:
    if sys.platform == "win32":
        import winreg

        try:
            with winreg.OpenKey(winreg.HKEY_CURRENT_USER, RUN_KEY) as key:
                winreg.QueryValueEx(key, RUN_VALUE)
            return True
        except FileNotFoundError:
            return False
    target = autostart_file()
    if not target.is_file():
        return False
    if sys.platform == "darwin":
        return True
    # A user may switch an XDG entry off by hand (Hidden=true, or GNOME's key) without deleting it.
    text = target.read_text(encoding="utf-8", errors="replace")
    return "\nHidden=true" not in text and "\nX-GNOME-Autostart-enabled=false" not in text

