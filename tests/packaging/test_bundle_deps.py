"""packaging/linux/bundle_deps.py: the .deb's Depends comes from what the bundled files link to, the
build fails on a link no Depends entry covers, and the manifest lists the bundle. Run against real ELF
files (the installed wheels' and the interpreter's), laid out as small bundles."""

from __future__ import annotations

import importlib
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "packaging" / "linux" / "bundle_deps.py"

pytestmark = [
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ELF files: the Linux build"),
    pytest.mark.skipif(shutil.which("readelf") is None, reason="needs readelf (binutils)"),
]


def load():
    spec = importlib.util.spec_from_file_location("bundle_deps", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def extension_file(module_name: str) -> Path:
    return Path(importlib.import_module(module_name).__file__)


@pytest.fixture
def small_bundle(tmp_path: Path) -> Path:
    """Python's _ssl (links the system's OpenSSL) and shiboken's module with its own library beside it."""
    shiboken = Path(importlib.import_module("shiboken6").__file__).parent
    bundle = tmp_path / "integritas"
    (bundle / "_internal" / "shiboken6").mkdir(parents=True)
    shutil.copy2(extension_file("_ssl"), bundle / "_internal" / "_ssl.so")
    for lib in shiboken.glob("*.so*"):
        shutil.copy2(lib, bundle / "_internal" / "shiboken6" / lib.name)
    (bundle / "integritas-gui").write_text("#!/bin/sh\n")
    (bundle / "integritas").symlink_to("integritas-gui")
    return bundle


def test_depends_comes_from_the_links_of_the_bundled_files(small_bundle):
    deps = load()
    depends, _notes = deps.derive(small_bundle, deps.load_table())
    entries = [e.strip() for e in depends.split(",")]
    assert entries[0].startswith("libc6 (>= 2.")  # from the files' GLIBC_x.y symbol versions
    assert "libssl3t64 | libssl3" in entries  # _ssl links libssl.so.3 and libcrypto.so.3: one entry
    assert entries.count("libssl3t64 | libssl3") == 1
    assert not any("shiboken" in e or "python" in e for e in entries)  # inside the bundle: not a Depends
    # Nothing in it comes from what this machine has installed: dpkg only checks the table.
    assert deps.derive(small_bundle, deps.load_table(), verify_with_dpkg=False)[0] == depends


def test_build_fails_naming_a_system_library_no_depends_entry_covers(tmp_path, capsys):
    """Qt's GTK3 theme plugin links GTK: had it stayed in the bundle, the build must stop and say so."""
    plugin = Path(importlib.import_module("PySide6").__file__).parent / "Qt" / "plugins" / "platformthemes" / "libqgtk3.so"
    if not plugin.is_file():
        pytest.skip("this PySide6 wheel has no GTK3 theme plugin")
    bundle = tmp_path / "integritas"
    bundle.mkdir()
    shutil.copy2(plugin, bundle / "libqgtk3.so")
    code = load().main([str(bundle), "--manifest", str(tmp_path / "manifest.txt")])
    err = capsys.readouterr().err
    assert code == 1
    assert "no Depends entry covers" in err
    assert "libgtk-3.so.0 (needed by libqgtk3.so)" in err
    assert "packaging/linux/depends.txt" in err
    assert not (tmp_path / "manifest.txt").exists()


@pytest.mark.skipif(shutil.which("dpkg") is None, reason="needs dpkg")
def test_a_table_naming_the_wrong_package_fails_where_dpkg_knows_better(small_bundle, tmp_path):
    deps = load()
    ssl_owner_known = subprocess.run(["dpkg", "-S", "libssl.so.3"], capture_output=True).returncode == 0
    if not ssl_owner_known:
        pytest.skip("no Debian package ships libssl.so.3 here")
    table = dict(deps.load_table())
    table["libssl.so.3"] = "libssl-wrong1"
    with pytest.raises(deps.DependsError, match=r"libssl\.so\.3: depends.txt says 'libssl-wrong1', dpkg says libssl3"):
        deps.derive(small_bundle, table)


def test_manifest_lists_every_file_and_link_and_compares_without_comments(small_bundle, tmp_path):
    deps = load()
    out = tmp_path / "manifest.txt"
    deps.write_manifest(small_bundle, "libc6 (>= 2.34), libssl3", out)
    body = deps.manifest_body(out.read_text(encoding="utf-8"))
    assert body[0] == "Depends: libc6 (>= 2.34), libssl3"
    assert "integritas -> integritas-gui" in body and "integritas-gui" in body
    assert "_internal/_ssl.so" in body
    assert out.read_text(encoding="utf-8").startswith("#")
    assert "--update-manifest" in out.read_text(encoding="utf-8")  # how to renew it on purpose


def test_the_committed_table_parses_and_every_line_names_a_package():
    table = load().load_table()
    assert table["libxcb-cursor.so.0"] == "libxcb-cursor0"
    assert all(entry and not entry.startswith("|") for entry in table.values())
