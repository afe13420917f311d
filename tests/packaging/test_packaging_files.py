"""Fast checks of the packaging files: the workflow, the spec, the build scripts and the installers'
metadata agree with each other and with the app. The real build is proven in test_frozen.py."""

from __future__ import annotations

import ast
import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGING = ROOT / "packaging"
WORKFLOW = ROOT / ".github" / "workflows" / "build.yml"
SPEC = PACKAGING / "integritas.spec"


def load_workflow() -> dict:
    yaml = pytest.importorskip("yaml")
    data = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def run_commands(workflow: dict) -> list[str]:
    return [step["run"] for job in workflow["jobs"].values() for step in job["steps"] if "run" in step]


def spec_assignments() -> dict[str, object]:
    """Top-level literal assignments of the spec (lists of strings, strings), read without running it."""
    found: dict[str, object] = {}
    for node in ast.parse(SPEC.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                found[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                continue
    return found


def test_workflow_is_valid_yaml_with_a_three_os_matrix_and_tag_releases():
    workflow = load_workflow()
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as True
    assert "v*" in triggers["push"]["tags"]
    assert "pull_request" in triggers
    build = workflow["jobs"]["build"]
    systems = [entry["os"] for entry in build["strategy"]["matrix"]["include"]]
    assert {s.split("-")[0] for s in systems} == {"ubuntu", "windows", "macos"}
    assert build["runs-on"] == "${{ matrix.os }}"
    release = workflow["jobs"]["release"]
    assert release["needs"] == "build"
    assert "refs/tags/v" in release["if"]
    assert release["permissions"] == {"contents": "write"}
    upload = [s for s in build["steps"] if str(s.get("uses", "")).startswith("actions/upload-artifact")]
    assert len(upload) == 1
    for pattern in ("*.deb", "*.AppImage", "*-setup.exe", "*.dmg"):
        assert pattern in upload[0]["with"]["path"]


def test_workflow_runs_the_same_scripts_as_the_local_build():
    commands = "\n".join(run_commands(load_workflow()))
    assert "python dev.py test" in commands  # the README's test command
    for script in ("bash packaging/build_linux.sh", "pwsh packaging/build_windows.ps1",
                   "bash packaging/build_macos.sh"):
        assert script in commands
    # Every packaging file a step names exists, and each build script smoke-runs the frozen app.
    for name in set(re.findall(r"packaging/[\w./-]+", commands)):
        assert (ROOT / name).is_file(), name
    assert commands.count("packaging/smoke_frozen.py") >= 2  # the installed .deb and the installed setup
    for script in ("build_linux.sh", "build_windows.ps1", "build_macos.sh"):
        text = (PACKAGING / script).read_text(encoding="utf-8")
        assert "packaging/integritas.spec" in text.replace("\\", "/")
        assert "packaging/smoke_frozen.py" in text.replace("\\", "/")


def test_workflow_passes_signing_secrets_only_to_the_signing_scripts():
    workflow = load_workflow()
    for step in workflow["jobs"]["build"]["steps"]:
        secrets = [v for v in step.get("env", {}).values() if "secrets." in str(v)]
        if secrets:
            assert step["run"] in ("pwsh packaging/build_windows.ps1", "bash packaging/build_macos.sh")
        assert "secrets." not in str(step.get("run", ""))


def test_spec_is_python_and_names_both_programs_icons_and_the_mac_bundle():
    source = SPEC.read_text(encoding="utf-8")
    compile(source, str(SPEC), "exec")
    values = spec_assignments()
    assert values["GUI_NAME"] == "integritas-gui" and values["CLI_NAME"] == "integritas"
    assert values["BUNDLE_ID"] == "technology.integritas.Desktop"
    assert "console=False" in source and "console=True" in source
    # Linux: one program, `integritas` a link to it; Windows/macOS: two programs in one COLLECT.
    assert re.search(r"COLLECT\(\s*# noqa: F821\s*gui_exe,\s*\*\(\[\] if ONE_PROGRAM else \[cli_exe\]\),", source)
    assert re.search(r"^ONE_PROGRAM = IS_LINUX$", source, re.MULTILINE)
    assert "os.symlink(GUI_NAME, os.path.join(coll.name, CLI_NAME))" in source
    entry = (PACKAGING / "entry_gui.py").read_text(encoding="utf-8")
    assert 'CLI_NAMES = ("integritas", "integritas.exe")' in entry and "integritas_gui.cli" in entry
    assert "runtime_hooks=[]," in source  # no runtime hooks: keyring gets the real cryptography
    assert "BUNDLE(" in source
    for icon in ("icon.ico", "icon.icns"):
        assert f'RES / "{icon}"' in source
        assert (ROOT / "resources" / icon).stat().st_size > 1000
    for entry in ("entry_gui.py", "entry_cli.py"):
        compile((PACKAGING / entry).read_text(encoding="utf-8"), entry, "exec")


def test_spec_keeps_every_qt_module_the_app_imports_and_drops_the_heavy_ones():
    values = spec_assignments()
    unused = set(values["QT_UNUSED"])
    for heavy in ("QtWebEngineCore", "QtWebEngineWidgets", "Qt3DCore", "QtQuick", "QtQml", "QtPdf",
                  "QtMultimedia"):
        assert heavy in unused
    used = set()
    for path in (ROOT / "integritas_gui").rglob("*.py"):
        used |= set(re.findall(r"PySide6\.(Qt\w+)", path.read_text(encoding="utf-8", errors="replace")))
    assert {"QtCore", "QtGui", "QtWidgets"} <= used
    assert not used & unused, f"the spec leaves out Qt modules the app imports: {sorted(used & unused)}"
    dropped_libs = " ".join(values["DROP_FRAGMENTS"])
    for module in used:
        assert f"libQt6{module[2:]}." not in dropped_libs


def test_cli_never_imports_qt_so_its_frozen_archive_can_leave_qt_out():
    source = (ROOT / "integritas_gui" / "cli.py").read_text(encoding="utf-8")
    assert "PySide6" not in source
    assert re.search(r'^CLI_EXCLUDES = \["PySide6", "shiboken6"\]', SPEC.read_text(encoding="utf-8"), re.MULTILINE)
    assert "integritas_gui.gui" in SPEC.read_text(encoding="utf-8").split("def pkg_modules", 1)[1]


MANIFEST = PACKAGING / "linux" / "bundle-manifest.txt"


def manifest_depends() -> list[list[str]]:
    """The committed Depends (what the clean build derived), one list of alternatives per entry."""
    line = next(x for x in MANIFEST.read_text(encoding="utf-8").splitlines() if x.startswith("Depends: "))
    return [[alt.split("(")[0].strip() for alt in item.split("|")] for item in line[len("Depends: "):].split(",")]


def apt_packages(text: str) -> set[str]:
    return set(re.findall(r"(?<![\w-])lib[\w.+-]+", text))


def test_deb_depends_names_the_xcb_and_egl_libraries_qt_needs():
    depends = {alt for entry in manifest_depends() for alt in entry}
    for package in ("libxcb-cursor0", "libxkbcommon-x11-0", "libxcb-icccm4", "libxcb-keysyms1",
                    "libxcb-image0", "libxcb-render-util0", "libxcb-shape0", "libegl1", "libfontconfig1",
                    "libdbus-1-3", "libssl3"):
        assert package in depends, package
    # Never the accessibility or GTK stack: Qt's AT-SPI support speaks D-Bus itself (docs/packaging.md).
    assert not {"libatk-bridge2.0-0", "libatspi2.0-0", "libgtk-3-0", "libxinerama1"} & depends
    # The workflow's runner gets only libraries the table knows (packaging/linux/depends.txt).
    table = set((PACKAGING / "linux" / "depends.txt").read_text(encoding="utf-8").split())
    apt_line = next(c for c in run_commands(load_workflow()) if "apt-get install" in c and "libxcb" in c)
    for package in apt_packages(apt_line):
        assert package in table, package


def test_ci_installs_every_package_the_deb_depends_on_and_the_fuller_desktop():
    """CI's machine has what the .deb needs (the smoke test runs the bundle before it is packaged) and
    the desktop libraries that once leaked into the bundle: every CI build is the "fuller" case."""
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    installed = set(re.findall(r"[\w.+-]+", ci))
    for alternatives in manifest_depends():
        assert set(alternatives) & installed, f".ci/run installs none of {alternatives}"
    for extra in ("libatk-bridge2.0-0", "libatspi2.0-0", "libxinerama1", "libxrandr2", "libxcursor1",
                  "libgtk-3-0"):
        assert extra in installed, extra
    assert re.search(r"\bxdotool\b", ci) and re.search(r"\bimagemagick\b", ci)


def test_manifest_lists_no_library_a_build_machine_brings():
    lines = [x for x in MANIFEST.read_text(encoding="utf-8").splitlines() if x and not x.startswith("#")]
    files = [x.split(" -> ")[0] for x in lines[1:]]
    assert "integritas-gui" in files and "integritas -> integritas-gui" in lines
    assert any(f.startswith("_internal/cryptography/") for f in files)  # the real package, for secretstorage
    names = {Path(f).name for f in files}
    for leaked in ("libatk-bridge-2.0.so.0", "libatspi.so.0", "libXinerama.so.1", "libXrandr.so.2",
                   "libXcursor.so.1", "libgtk-3.so.0", "libssl.so.3", "libz.so.1", "libglib-2.0.so.0"):
        assert leaked not in names, leaked
    assert files == sorted(files)


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_shell_scripts_parse():
    for script in ("build_linux.sh", "build_macos.sh", "linux/AppRun"):
        done = subprocess.run(["bash", "-n", str(PACKAGING / script)], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr


def test_inno_setup_script_has_start_menu_uninstaller_and_optional_signing():
    iss = (PACKAGING / "windows" / "integritas.iss").read_text(encoding="utf-8")
    assert re.search(r'^Name: "\{group\}\\\{#AppName\}"; Filename: "\{app\}\\\{#AppExe\}"', iss, re.MULTILINE)
    assert "{uninstallexe}" in iss
    assert '#define AppExe "integritas-gui.exe"' in iss
    assert "SetupIconFile={#RepoRoot}\\resources\\icon.ico" in iss
    signing = iss[iss.index("#ifdef SignCommand"):]
    assert signing.index("SignTool=") < signing.index("#endif")
    ps1 = (PACKAGING / "build_windows.ps1").read_text(encoding="utf-8")
    assert "if ($env:WINDOWS_CERT_PFX_BASE64)" in ps1
    assert "OutputBaseFilename=IntegritasDesktop-{#AppVersion}-windows-x64-setup" in iss
    assert 'IntegritasDesktop-$Version-windows-x64-setup.exe' in ps1


def test_macos_signing_and_notarizing_run_only_with_credentials():
    script = (PACKAGING / "build_macos.sh").read_text(encoding="utf-8")
    sign_guard = script.index('if [ -n "${MACOS_CERT_P12_BASE64:-}" ] && [ -n "${MACOS_SIGN_IDENTITY:-}" ]')
    assert sign_guard < script.index("codesign --force")
    notarize_guard = script.index('[ -n "${APPLE_APP_PASSWORD:-}" ]')
    assert notarize_guard < script.index("xcrun notarytool submit")
    assert "hdiutil create" in script
    assert (PACKAGING / "macos" / "entitlements.plist").is_file()


def test_desktop_entry_launches_the_gui_with_the_installed_icon():
    desktop = (ROOT / "resources" / "integritas-desktop.desktop").read_text(encoding="utf-8")
    assert re.search(r"^Exec=integritas-gui\b", desktop, re.MULTILINE)
    assert re.search(r"^Icon=integritas-desktop$", desktop, re.MULTILINE)
    build = (PACKAGING / "build_linux.sh").read_text(encoding="utf-8")
    assert 'PKG_NAME="integritas-desktop"' in build
    assert '"$STAGE/usr/share/icons/hicolor/${size}x${size}/apps/$PKG_NAME.png"' in build
    for size in (16, 24, 32, 48, 64, 128, 256, 512):
        assert (ROOT / "resources" / "icons" / f"icon-{size}.png").is_file()
    validator = shutil.which("desktop-file-validate")
    if validator:
        done = subprocess.run([validator, str(ROOT / "resources" / "integritas-desktop.desktop")],
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="the stand-in programs are shell scripts")
def test_smoke_script_passes_against_the_app_run_from_source(tmp_path):
    """packaging/smoke_frozen.py drives the real app (here from source, through two stand-in programs):
    its checks pass when the app is right, so a frozen build failing them is the build's fault."""
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    for name, module in (("integritas-gui", "integritas_gui"), ("integritas", "integritas_gui.cli")):
        program = bundle / name
        program.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m {module} "$@"\n')
        program.chmod(0o755)
    done = subprocess.run([sys.executable, str(PACKAGING / "smoke_frozen.py"), str(bundle)],
                          capture_output=True, text=True, timeout=180, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"sha3_256 [0-9a-f]{64} \(matches hashlib", done.stdout)
    assert "--smoke-test (offscreen): exit 0" in done.stdout


@pytest.mark.skipif(sys.platform == "win32", reason="the stand-in programs are shell scripts")
def test_smoke_script_fails_when_the_cli_prints_a_wrong_hash(tmp_path):
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "integritas-gui").write_text("#!/bin/sh\necho 'Integritas Desktop 0.0.0'\n")
    (bundle / "integritas").write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = --version ]; then exec "{sys.executable}" -m integritas_gui.cli --version; fi\n'
        f"echo 'sha3_256: {'0' * 64}'\n")
    for program in bundle.iterdir():
        program.chmod(0o755)
    done = subprocess.run([sys.executable, str(PACKAGING / "smoke_frozen.py"), "--skip-gui", str(bundle)],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 1
    assert "frozen CLI sha3_256 0000" in done.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="uses a symbolic link")
def test_the_one_linux_program_runs_the_cli_when_started_as_integritas(tmp_path):
    """packaging/entry_gui.py is the bundle's one Linux program; the link `integritas` makes it the CLI."""
    link = tmp_path / "integritas"
    link.symlink_to(PACKAGING / "entry_gui.py")
    sample = tmp_path / "sample.bin"
    sample.write_bytes(b"integritas" * 1000)
    done = subprocess.run([sys.executable, str(link), "hash", str(sample)], capture_output=True, text=True,
                          timeout=60, cwd=ROOT, env=dict(os.environ, INTEGRITAS_DATA_DIR=str(tmp_path / "data")))
    assert done.returncode == 0, done.stderr
    assert f"sha3_256: {hashlib.sha3_256(sample.read_bytes()).hexdigest()}" in done.stdout
    probe = (f"import runpy, sys; sys.argv = [{str(link)!r}, '--version']\n"
             "try:\n    runpy.run_path(sys.argv[0], run_name='__main__')\nexcept SystemExit:\n    pass\n"
             "print('Qt loaded' if 'PySide6' in sys.modules else 'no Qt')")
    cli_version = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert cli_version.stdout.split() == ["integritas", __import__("integritas_gui").__version__, "no", "Qt"], \
        cli_version.stdout + cli_version.stderr
    gui_version = subprocess.run([sys.executable, str(PACKAGING / "entry_gui.py"), "--version"],
                                 capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert gui_version.returncode == 0 and "Integritas Desktop" in gui_version.stdout
