"""Start at login: the Linux autostart file for real, the macOS and Windows entries as content."""

from __future__ import annotations

import plistlib
import shlex
import shutil
import subprocess
import sys

import pytest

from integritas_gui.core import autostart

linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="XDG autostart is the Linux entry")


@linux
def test_enable_writes_a_valid_xdg_entry_and_disable_removes_it(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    argv = ["/opt/Integritas Desktop/integritas-gui"]
    assert not autostart.is_enabled()
    autostart.enable(argv)
    entry = tmp_path / "config" / "autostart" / "integritas-desktop.desktop"
    text = entry.read_text(encoding="utf-8")
    assert autostart.is_enabled()
    assert 'Exec="/opt/Integritas Desktop/integritas-gui" --background\n' in text
    validator = shutil.which("desktop-file-validate")
    if validator:
        done = subprocess.run([validator, str(entry)], capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
    autostart.enable(argv)  # again: still one entry, still enabled
    assert list(entry.parent.iterdir()) == [entry]
    autostart.disable()
    assert not entry.exists() and not autostart.is_enabled()
    autostart.disable()  # nothing to remove: no error


@linux
def test_an_entry_switched_off_by_hand_counts_as_disabled(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    autostart.enable(["integritas-gui"])
    entry = autostart.autostart_file()
    entry.write_text(entry.read_text().replace("X-GNOME-Autostart-enabled=true", "X-GNOME-Autostart-enabled=false"))
    assert not autostart.is_enabled()


def test_exec_quoting_follows_the_desktop_entry_spec():
    line = autostart.desktop_entry(['/home/a b/app', '50%', 'say "$HOME"'])
    exec_value = next(l for l in line.splitlines() if l.startswith("Exec="))[5:]
    assert exec_value == '"/home/a b/app" 50%% "say \\"\\$HOME\\"" --background'
    # Without "$" (which the spec escapes and a POSIX shell would not), a shell split gives them back.
    plain = autostart.desktop_entry(["/home/a b/app", 'say "hi"']).split("Exec=", 1)[1].split("\n")[0]
    assert shlex.split(plain) == ["/home/a b/app", 'say "hi"', "--background"]


def test_launch_agent_runs_the_app_at_login_in_the_gui_session():
    agent = plistlib.loads(autostart.launch_agent(["/Applications/Integritas Desktop.app/Contents/MacOS/integritas-gui"]))
    assert agent["Label"] == "technology.integritas.Desktop"
    assert agent["ProgramArguments"] == ["/Applications/Integritas Desktop.app/Contents/MacOS/integritas-gui",
                                         "--background"]
    assert agent["RunAtLoad"] is True and agent["LimitLoadToSessionType"] == "Aqua"


def test_run_key_value_quotes_a_path_with_spaces():
    value = autostart.run_value([r"C:\Users\A B\AppData\Local\Programs\Integritas Desktop\integritas-gui.exe"])
    assert value == r'"C:\Users\A B\AppData\Local\Programs\Integritas Desktop\integritas-gui.exe" --background'
    assert autostart.RUN_KEY == r"Software\Microsoft\Windows\CurrentVersion\Run"
