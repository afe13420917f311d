#!/usr/bin/env python3
"""Prove a frozen Integritas Desktop build works: the same checks on Linux, Windows and macOS.

    python3 packaging/smoke_frozen.py dist/integritas                    # the one-folder bundle
    python3 packaging/smoke_frozen.py "dist/Integritas Desktop.app/Contents/MacOS"
    python3 packaging/smoke_frozen.py /opt/integritas-desktop            # an installed copy

Checks, each one fatal (exit 1 with the reason):
  1. `integritas-gui --version` and `integritas --version` name the version in integritas_gui/__init__.py
  2. `integritas-gui --smoke-test` with QT_QPA_PLATFORM=offscreen opens the main window, its engine
     process (the same executable with --engine) becomes ready and reaches the trial sandbox process
     (--sandbox-service) over loopback HTTP, and it exits 0
  3. `integritas hash FILE` prints the sha3_256 that hashlib (and `openssl dgst -sha3-256`, when
     openssl knows SHA3) computes, and the blake3 that `b3sum` computes when b3sum is installed

Every run uses a throwaway HOME and data folder: a smoke test never touches a real user's data.
Standard library only, so any Python 3.8+ can run it against any build.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXE_SUFFIX = ".exe" if os.name == "nt" else ""


def project_version() -> str:
    tree = ast.parse((ROOT / "integritas_gui" / "__init__.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__version__" for t in node.targets):
            return ast.literal_eval(node.value)
    raise SystemExit("integritas_gui/__init__.py has no __version__")


class SmokeFailure(Exception):
    pass


class Frozen:
    def __init__(self, bundle: Path, scratch: Path) -> None:
        self.gui = bundle / f"integritas-gui{EXE_SUFFIX}"
        self.cli = bundle / f"integritas{EXE_SUFFIX}"
        for exe in (self.gui, self.cli):
            if not exe.is_file():
                raise SmokeFailure(f"{exe} does not exist")
        home = scratch / "home"
        home.mkdir()
        self.env = dict(os.environ)
        self.env.update({
            "HOME": str(home), "USERPROFILE": str(home),
            "APPDATA": str(home / "AppData" / "Roaming"), "LOCALAPPDATA": str(home / "AppData" / "Local"),
            "XDG_CONFIG_HOME": str(home / ".config"), "XDG_DATA_HOME": str(home / ".local" / "share"),
            "XDG_CACHE_HOME": str(home / ".cache"), "XDG_STATE_HOME": str(home / ".local" / "state"),
            "INTEGRITAS_DATA_DIR": str(scratch / "data"),
            "QT_QPA_PLATFORM": "offscreen",
        })

    def run(self, exe: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        try:
            done = subprocess.run([str(exe), *args], env=self.env, capture_output=True, text=True,
                                  timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            raise SmokeFailure(f"{exe.name} {' '.join(args)} did not finish in {timeout:.0f}s") from exc
        if done.returncode != 0:
            raise SmokeFailure(f"{exe.name} {' '.join(args)} exited {done.returncode}\n"
                               f"stdout: {done.stdout.strip()}\nstderr: {done.stderr.strip()}")
        return done


def field(output: str, name: str) -> str | None:
    match = re.search(rf"^\s*{name}:\s*([0-9a-f]{{64}})\s*$", output, re.MULTILINE)
    return match.group(1) if match else None


def check_versions(frozen: Frozen, version: str, gui: bool) -> None:
    for exe in (frozen.cli, frozen.gui) if gui else (frozen.cli,):
        out = frozen.run(exe, "--version", timeout=60)
        text = (out.stdout + out.stderr).strip()
        if not text and exe is frozen.gui and os.name == "nt":
            # A windowed Windows program may have no usable stdout; the exit code still counts.
            print(f"  {exe.name} --version: exit 0 (windowed, no console output)")
            continue
        if version not in text:
            raise SmokeFailure(f"{exe.name} --version says {text!r}, expected {version}")
        print(f"  {exe.name} --version: {text}")


def check_gui_starts(frozen: Frozen) -> None:
    out = frozen.run(frozen.gui, "--smoke-test", timeout=180)
    print(f"  integritas-gui --smoke-test (offscreen): exit 0 {out.stdout.strip()}")


def check_cli_hash(frozen: Frozen, scratch: Path) -> None:
    sample = scratch / "sample file.bin"
    sample.write_bytes(os.urandom(3_000_000) + b"Integritas")
    out = frozen.run(frozen.cli, "hash", str(sample)).stdout
    got = field(out, "sha3_256")
    want = hashlib.sha3_256(sample.read_bytes()).hexdigest()
    if got != want:
        raise SmokeFailure(f"frozen CLI sha3_256 {got} != hashlib {want}\n{out}")
    referees = ["hashlib"]
    openssl = shutil.which("openssl")
    if openssl:
        ref = subprocess.run([openssl, "dgst", "-sha3-256", str(sample)], capture_output=True, text=True)
        if ref.returncode == 0:  # old/LibreSSL builds lack SHA3: hashlib stays the referee
            if ref.stdout.split()[-1] != got:
                raise SmokeFailure(f"frozen CLI sha3_256 {got} != openssl {ref.stdout.strip()}")
            referees.append("openssl dgst -sha3-256")
    print(f"  integritas hash: sha3_256 {got} (matches {', '.join(referees)})")
    b3sum = shutil.which("b3sum")
    if b3sum:
        ref = subprocess.run([b3sum, "--no-names", str(sample)], capture_output=True, text=True, check=True)
        got_b3 = field(out, "blake3")
        if got_b3 != ref.stdout.strip():
            raise SmokeFailure(f"frozen CLI blake3 {got_b3} != b3sum {ref.stdout.strip()}")
        print(f"  integritas hash: blake3 {got_b3} (matches b3sum)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", type=Path, help="folder holding integritas-gui and integritas")
    parser.add_argument("--skip-gui", action="store_true",
                        help="check only the CLI (for a machine without the GUI's system libraries)")
    args = parser.parse_args(argv)
    version = project_version()
    print(f"Smoke-testing the frozen build in {args.bundle} (version {version})")
    with tempfile.TemporaryDirectory(prefix="integritas-smoke-") as tmp:
        scratch = Path(tmp)
        try:
            frozen = Frozen(args.bundle.resolve(), scratch)
            check_versions(frozen, version, gui=not args.skip_gui)
            check_cli_hash(frozen, scratch)
            if not args.skip_gui:
                check_gui_starts(frozen)
        except SmokeFailure as exc:
            print(f"SMOKE TEST FAILED: {exc}", file=sys.stderr)
            return 1
    print("smoke test passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
