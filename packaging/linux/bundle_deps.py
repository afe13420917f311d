"""The Linux bundle's system dependencies and its manifest, derived from the bundled files.

    python3 packaging/linux/bundle_deps.py BUNDLE_DIR --manifest OUT [--depends-out FILE]

The bundle holds only what the wheels and the interpreter bring (the spec drops every library found
under /lib or /usr/lib). Every other library a bundled ELF file links to (its DT_NEEDED entries, read
with readelf) must come from the system. Each such soname is looked up in packaging/linux/depends.txt
(soname -> Debian package); the .deb's Depends is the set of packages found there, with libc6's
minimum version taken from the newest GLIBC_x.y symbol version the bundle asks for. Both depend only
on the bundle, never on what the build machine has installed.

Fails (exit 1) when a bundled file links to a soname that no line of depends.txt covers, or when
dpkg on this machine says a soname belongs to a package other than the one depends.txt names.

Writes the manifest: the Depends line and every file and link of the bundle (sorted, relative), the
list tests/packaging/test_frozen.py compares with packaging/linux/bundle-manifest.txt.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
TABLE = HERE / "depends.txt"
# Sonames of the C library's own package: their GLIBC_x.y versions set libc6's minimum version.
LIBC_SONAMES = {"libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2", "librt.so.1",
                "ld-linux-x86-64.so.2", "ld-linux-aarch64.so.1", "libresolv.so.2", "libutil.so.1"}
ELF_MAGIC = b"\x7fELF"


class DependsError(Exception):
    pass


def elf_files(bundle: Path) -> list[Path]:
    found = []
    for path in sorted(bundle.rglob("*")):
        if path.is_symlink() or not path.is_file():
            continue
        with path.open("rb") as handle:
            if handle.read(4) == ELF_MAGIC:
                found.append(path)
    return found


def readelf(*args: str) -> str:
    return subprocess.run(["readelf", "--wide", *args], capture_output=True, text=True, check=True).stdout


def needed_sonames(path: Path) -> list[str]:
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", readelf("--dynamic", str(path)))


def glibc_versions(path: Path) -> set[tuple[int, ...]]:
    """The GLIBC_x.y versions `path` needs from the C library (readelf's version-needs section)."""
    versions: set[tuple[int, ...]] = set()
    current = ""
    for line in readelf("--version-info", str(path)).splitlines():
        file_match = re.search(r"File: (\S+)", line)
        if file_match:
            current = file_match.group(1)
            continue
        name = re.search(r"Name: GLIBC_(\d+(?:\.\d+)+)\b", line)
        if name and current in LIBC_SONAMES:
            versions.add(tuple(int(p) for p in name.group(1).split(".")))
    return versions


def load_table(path: Path = TABLE) -> dict[str, str]:
    """soname -> the Debian package entry for Depends (alternatives with `|`), in the file's order."""
    table: dict[str, str] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        soname, _, package = line.partition(" ")
        if not package.strip():
            raise DependsError(f"{path.name} line {number}: expected 'SONAME PACKAGE', got {raw!r}")
        table[soname] = package.strip()
    return table


def alternatives(entry: str) -> list[str]:
    return [alt.split("(")[0].strip() for alt in entry.split("|")]


def host_library_paths() -> dict[str, str]:
    """soname -> path on this machine, from the dynamic linker's cache (empty without ldconfig)."""
    try:
        out = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return {}
    paths: dict[str, str] = {}
    for soname, arch, path in re.findall(r"^\s*(\S+) \(([^)]*)\) => (\S+)$", out, re.MULTILINE):
        if "x86-64" in arch or "AArch64" in arch:  # the native library wins over a 32-bit one
            paths[soname] = path
        else:
            paths.setdefault(soname, path)
    return paths


def dpkg_owner(path: str) -> str | None:
    """The package that ships `path` here, whichever of /lib, /usr/lib (merged /usr) dpkg knows it by."""
    real = os.path.realpath(path)
    candidates = [path, real]
    for p in (path, real):
        candidates += ["/usr" + p if not p.startswith("/usr/") else p[len("/usr"):]]
    for candidate in dict.fromkeys(candidates):
        done = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True)
        if done.returncode == 0 and done.stdout:
            return done.stdout.split(":", 1)[0].split(",")[0].strip()
    return None


def same_package(owner: str, entry: str) -> bool:
    """dpkg's owner matches one of the entry's alternatives (64-bit-time renames count as the same)."""
    names = alternatives(entry)
    return any(owner in (name, name + "t64", name.removesuffix("t64")) for name in names)


def derive(bundle: Path, table: dict[str, str], verify_with_dpkg: bool = True) -> tuple[str, list[str]]:
    """(the Depends line, notes). Raises DependsError naming every uncovered or mis-owned soname."""
    files = elf_files(bundle)
    inside = {p.name for p in bundle.rglob("*")}
    users: dict[str, list[str]] = {}
    newest_glibc: tuple[int, ...] = (2, 17)
    for path in files:
        for soname in needed_sonames(path):
            if soname not in inside:
                users.setdefault(soname, []).append(str(path.relative_to(bundle)))
        newest_glibc = max([newest_glibc, *glibc_versions(path)])

    uncovered = sorted(s for s in users if s not in table)
    if uncovered:
        lines = [f"  {s} (needed by {', '.join(users[s][:3])}{' ...' if len(users[s]) > 3 else ''})"
                 for s in uncovered]
        raise DependsError(
            "bundled files link to system libraries that no Depends entry covers:\n" + "\n".join(lines)
            + f"\nAdd a line 'SONAME PACKAGE' for each to {TABLE.relative_to(HERE.parent.parent)} "
            "(`dpkg -S SONAME` names the package), or keep the file that needs it out of the bundle.")

    notes: list[str] = []
    if verify_with_dpkg and shutil.which("dpkg"):
        paths = host_library_paths()
        wrong, absent = [], []
        for soname in sorted(users):
            if soname not in paths:
                absent.append(soname)
                continue
            owner = dpkg_owner(paths[soname])
            if owner and not same_package(owner, table[soname]):
                wrong.append(f"  {soname}: depends.txt says {table[soname]!r}, dpkg says {owner}")
        if wrong:
            raise DependsError("packaging/linux/depends.txt names the wrong package:\n" + "\n".join(wrong))
        if absent:
            notes.append("not installed on this machine (package taken from depends.txt unchecked): "
                         + " ".join(absent))

    entries: list[str] = []
    for soname, entry in table.items():  # the table's order, each package once
        if soname in users and entry not in entries:
            entries.append(entry)
    glibc = ".".join(str(n) for n in newest_glibc)
    entries = [f"libc6 (>= {glibc})" if e == "libc6" else e for e in entries]
    return ", ".join(entries), notes


def manifest_lines(bundle: Path) -> list[str]:
    lines = []
    for path in sorted(bundle.rglob("*"), key=lambda p: p.relative_to(bundle).as_posix()):
        rel = path.relative_to(bundle).as_posix()
        if path.is_symlink():
            lines.append(f"{rel} -> {os.readlink(path)}")
        elif path.is_file():
            lines.append(rel)
    return lines


def versions_note() -> str:
    parts = [f"Python {sys.version.split()[0]}"]
    for dist in ("PySide6-Essentials", "PyInstaller", "cryptography"):
        try:
            parts.append(f"{dist} {metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            continue
    return ", ".join(parts)


def write_manifest(bundle: Path, depends: str, out: Path) -> None:
    header = [
        "# The Linux bundle (dist/integritas) as a clean build makes it: the .deb's Depends, then every",
        "# file and link. tests/packaging/test_frozen.py compares each build with this file.",
        "# Update it on purpose, after a change of the spec or of the pinned packages:",
        "#   bash packaging/build_linux.sh --update-manifest",
        f"# Made with {versions_note()}.",
    ]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(header + [f"Depends: {depends}"] + manifest_lines(bundle)) + "\n",
                   encoding="utf-8")


def manifest_body(text: str) -> list[str]:
    """A manifest without its comment lines: what two builds must agree on."""
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--manifest", type=Path, required=True, help="where to write the manifest")
    parser.add_argument("--depends-out", type=Path, help="also write the Depends line to this file")
    parser.add_argument("--table", type=Path, default=TABLE)
    args = parser.parse_args(argv)
    try:
        depends, notes = derive(args.bundle, load_table(args.table))
    except DependsError as exc:
        print(f"bundle_deps.py: {exc}", file=sys.stderr)
        return 1
    for note in notes:
        print(f"note: {note}")
    write_manifest(args.bundle, depends, args.manifest)
    if args.depends_out:
        args.depends_out.write_text(depends + "\n", encoding="utf-8")
    print(f"Depends: {depends}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
