"""Desktop integration files: validated by the freedesktop and AppStream tools, and each file
manager entry runs `integritas-gui --stamp/--verify` with the selected items."""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from integritas_gui.__main__ import parse_args
from integritas_gui.core import autostart

ROOT = Path(__file__).resolve().parents[2]
DESKTOP = ROOT / "resources" / "integritas-desktop.desktop"
METAINFO = ROOT / "resources" / "technology.integritas.Desktop.metainfo.xml"
FM = ROOT / "packaging" / "linux" / "file-manager"
SERVICE_MENU = FM / "integritas-servicemenu.desktop"
# desktop-file-validate knows the freedesktop types only; a KDE service menu is Type=Service.
SERVICE_TYPE_COMPLAINTS = re.compile(r'key "(MimeType|Actions)" is present in group "Desktop Entry", but the type '
                                     r'is "Service" while this key is only valid for type "Application"')


def tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        pytest.skip(f"{name} is not installed (apt-get install {'appstream' if name == 'appstreamcli' else 'desktop-file-utils'})")
    return found


def validate(path: Path) -> list[str]:
    done = subprocess.run([tool("desktop-file-validate"), str(path)], capture_output=True, text=True)
    return [l for l in (done.stdout + done.stderr).splitlines() if ": error: " in l]


def actions(text: str) -> dict[str, str]:
    """Desktop Action id -> Exec value."""
    found = {}
    for block in re.split(r"^\[", text, flags=re.MULTILINE):
        head = re.match(r"Desktop Action (\w+)\]", block)
        if head:
            found[head.group(1)] = re.search(r"^Exec=(.*)$", block, re.MULTILINE).group(1)
    return found


def test_app_entry_and_autostart_entry_pass_desktop_file_validate(tmp_path):
    assert validate(DESKTOP) == []
    entry = tmp_path / "integritas-desktop.desktop"
    entry.write_text(autostart.desktop_entry(["/opt/integritas-desktop/integritas-gui"]), encoding="utf-8")
    assert validate(entry) == []


def test_dolphin_service_menu_has_no_error_but_its_kde_type(tmp_path):
    errors = validate(SERVICE_MENU)
    assert all(SERVICE_TYPE_COMPLAINTS.search(e) for e in errors), errors
    # The check can fail: a real mistake in the same file is reported.
    broken = tmp_path / "broken.desktop"
    broken.write_text(SERVICE_MENU.read_text().replace("Name=Stamp with Integritas\n", ""))
    assert any(not SERVICE_TYPE_COMPLAINTS.search(e) for e in validate(broken))


def test_appstream_metadata_passes_appstreamcli_validate():
    done = subprocess.run([tool("appstreamcli"), "validate", "--no-net", str(METAINFO)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("entry", [DESKTOP, SERVICE_MENU])
def test_desktop_actions_reach_the_windows_stamp_and_verify_options(entry):
    found = actions(entry.read_text(encoding="utf-8"))
    assert set(found) == {"stamp", "verify"}
    for kind, exec_value in found.items():
        argv = shlex.split(exec_value.replace("%F", "'/a b/one.pdf' /c/two"))
        assert argv[0] == "integritas-gui"
        args = parse_args(argv[1:])
        assert getattr(args, kind) == ["/a b/one.pdf", "/c/two"] and args.files == []


def test_nautilus_extension_passes_local_selections_only():
    spec = importlib.util.spec_from_file_location("integritas_nautilus", FM / "integritas_nautilus.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.local_paths(["file:///home/a/My%20Report.pdf", "file:///home/a/dir"]) == \
        ["/home/a/My Report.pdf", "/home/a/dir"]
    assert module.local_paths(["file:///x", "sftp://host/y"]) is None
    assert module.command("verify", ["/x"]) == ["integritas-gui", "--verify", "/x"]
    assert [a for a, _ in module.ACTIONS] == ["stamp", "verify"]


@pytest.mark.skipif(sys.platform == "win32", reason="Nautilus scripts are shell scripts")
@pytest.mark.parametrize("script, flag", [("Stamp with Integritas", "--stamp"), ("Verify with Integritas", "--verify")])
def test_nautilus_scripts_pass_every_selected_item(tmp_path, script, flag):
    stand_in = tmp_path / "bin" / "integritas-gui"
    stand_in.parent.mkdir()
    stand_in.write_text('#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done\n')
    stand_in.chmod(0o755)
    env = {**os.environ, "PATH": f"{stand_in.parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run([str(FM / script), "/a b/one.pdf", "/c/two"], env=env, capture_output=True,
                          text=True, check=True)
    assert done.stdout.splitlines() == [flag, "/a b/one.pdf", "/c/two"]


def test_deb_installs_the_file_manager_menus():
    build = (ROOT / "packaging" / "build_linux.sh").read_text(encoding="utf-8")
    assert '"$STAGE/usr/share/kio/servicemenus/$PKG_NAME.desktop"' in build
    assert '"$STAGE/usr/share/nautilus-python/extensions/integritas_desktop.py"' in build
    assert '"$FM/Stamp with Integritas" "$FM/Verify with Integritas"' in build
    for name in ("integritas-servicemenu.desktop", "Stamp with Integritas", "Verify with Integritas"):
        assert os.access(FM / name, os.X_OK), name  # KIO runs only executable service menus


def test_windows_installer_adds_explorer_menus_on_files_and_folders():
    iss = (ROOT / "packaging" / "windows" / "integritas.iss").read_text(encoding="utf-8")
    for where in ("*", "Directory"):
        for verb, label, flag in (("IntegritasStamp", "Stamp with Integritas", "--stamp"),
                                  ("IntegritasVerify", "Verify with Integritas", "--verify")):
            key = f"Software\\Classes\\{where}\\shell\\{verb}"
            assert f'Subkey: "{key}"; ValueType: string; ValueName: ""; ValueData: "{label}"; Flags: uninsdeletekey' in iss
            assert (f'Subkey: "{key}\\command"; ValueType: string; ValueName: ""; '
                    f'ValueData: """{{app}}\\{{#AppExe}}"" {flag} ""%1"""') in iss
    assert 'ValueName: "Integritas Desktop"; Flags: uninsdeletevalue' in iss
    assert autostart.RUN_VALUE == "Integritas Desktop"
