"""core.walk on real trees: order, links, loops, odd entries, duplicates, big folders."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from integritas_gui.core.hashing import hash_file
from integritas_gui.core.walk import WalkItem, expand_paths

REPO = Path(__file__).resolve().parents[2]


def touch(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def walk(*paths, cancel=None) -> list[WalkItem]:
    return list(expand_paths(paths, cancel=cancel))


def good(items) -> list[str]:
    return [item.path for item in items if item.error is None]


def errors(items) -> dict[str, str]:
    return {os.path.basename(item.path): item.error for item in items if item.error}


def test_files_come_out_as_they_are_and_folders_sorted_depth_first(tmp_path):
    single = touch(tmp_path / "single.txt", b"12345")
    tree = tmp_path / "tree"
    for relative in ["b.txt", "a/2.txt", "a/1.txt", "a/sub/z.txt", "c/only.txt", "A upper.txt"]:
        touch(tree / relative)
    items = walk(single, tree)
    assert items[0] == WalkItem(str(single), size=5)
    assert good(items)[1:] == [
        str(tree / "A upper.txt"),
        str(tree / "a/1.txt"),
        str(tree / "a/2.txt"),
        str(tree / "a/sub/z.txt"),
        str(tree / "b.txt"),
        str(tree / "c/only.txt"),
    ]
    assert walk(single, tree) == items  # deterministic


def test_paths_are_made_absolute(tmp_path, monkeypatch):
    touch(tmp_path / "rel" / "f.txt")
    monkeypatch.chdir(tmp_path)
    assert good(walk("rel")) == [str(tmp_path / "rel" / "f.txt")]
    assert good(walk(b"rel/f.txt")) == [str(tmp_path / "rel" / "f.txt")]


def test_nested_empty_folders_give_nothing_but_a_dropped_empty_folder_says_so(tmp_path):
    tree = tmp_path / "tree"
    touch(tree / "has/file.txt")
    (tree / "empty/emptier/emptiest").mkdir(parents=True)
    assert walk(tree) == [WalkItem(str(tree / "has/file.txt"), size=1)]
    (tmp_path / "nothing here").mkdir()
    (tmp_path / "only folders/inside").mkdir(parents=True)
    for name in ("nothing here", "only folders"):
        [item] = walk(tmp_path / name)
        assert item.path == str(tmp_path / name)
        assert item.error == f"“{name}” is an empty folder: it contains no files."


def test_awkward_names_work_end_to_end(tmp_path):
    names = ["with spaces.txt", "emoji 📄🔒.txt", "עברית right-to-left.txt", os.fsdecode(b"bad \xff\xfe.bin")]
    folder = tmp_path / "names"
    for name in names:
        touch(folder / name, name.encode("utf-8", "surrogateescape"))
    items = walk(folder)
    assert sorted(os.path.basename(p) for p in good(items)) == sorted(names)
    for path in good(items):
        assert hash_file(path).size == len(os.path.basename(path).encode("utf-8", "surrogateescape"))


def test_symlinks_to_files_and_folders_are_followed_and_duplicates_listed_once(tmp_path):
    real = touch(tmp_path / "real" / "data.bin")
    other = tmp_path / "other"
    other.mkdir()
    (other / "link to data").symlink_to(real)
    os.link(real, other / "hard link")
    (other / "zz folder link").symlink_to(tmp_path / "real")
    items = walk(tmp_path / "real", other, real)
    assert good(items) == [str(real)]  # one real file, whatever the ways to reach it
    assert not errors(items)


def test_symlink_to_a_file_alone_gives_the_link_path(tmp_path):
    real = touch(tmp_path / "real.bin", b"abc")
    (tmp_path / "link").symlink_to(real)
    assert walk(tmp_path / "link") == [WalkItem(str(tmp_path / "link"), size=3)]


def test_loops_and_dangling_links_become_errors(tmp_path):
    tree = tmp_path / "tree"
    touch(tree / "file.txt")
    (tree / "sub").mkdir()
    (tree / "sub" / "back up").symlink_to(tree)
    (tree / "self loop").symlink_to(tree / "self loop")
    (tree / "dangling").symlink_to(tmp_path / "does not exist")
    items = walk(tree)
    assert good(items) == [str(tree / "file.txt")]
    problems = errors(items)
    assert "a loop" in problems["back up"]
    assert "loops back on itself" in problems["self loop"]
    assert "no longer exists" in problems["dangling"]
    [item] = walk(tree / "self loop")
    assert "loops back on itself" in item.error


@pytest.mark.timeout(20)
def test_fifos_sockets_and_devices_become_errors_without_hanging(tmp_path):
    tree = tmp_path / "t"
    touch(tree / "ok.txt")
    os.mkfifo(tree / "pipe")
    (tree / "null").symlink_to("/dev/null")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        server.bind(str(tree / "sock"))
        items = walk(tree, "/dev/zero", tree / "pipe")
    finally:
        server.close()
    assert good(items) == [str(tree / "ok.txt")]
    problems = errors(items)
    assert "named pipe" in problems["pipe"]
    assert "socket" in problems["sock"]
    assert "device" in problems["null"] and "device" in problems["zero"]


def test_missing_path(tmp_path):
    [item] = walk(tmp_path / "gone.txt")
    assert item.error == "“gone.txt” was not found: it may have been moved, renamed or deleted."


def run_without_root_privileges(code: str) -> str:
    command = [sys.executable, "-c", code]
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if not setpriv:
            pytest.skip("running as root without setpriv: permission checks cannot be simulated")
        command = [setpriv, "--bounding-set", "-dac_override,-dac_read_search", *command]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, PYTHONPATH=str(REPO)))
    if done.returncode != 0:
        pytest.skip(f"cannot drop privileges here: {done.stderr.strip()[-300:]}")
    return done.stdout


def test_unreadable_files_and_folders_become_errors(tmp_path):
    tree = tmp_path / "tree"
    touch(tree / "ok.txt")
    touch(tree / "locked.txt").chmod(0)
    touch(tree / "closed/inside.txt")
    (tree / "closed").chmod(0)
    try:
        out = run_without_root_privileges(
            "import json\nfrom integritas_gui.core.walk import expand_paths\n"
            f"print(json.dumps([[i.path, i.error] for i in expand_paths([{str(tree)!r}])]))\n"
        )
    finally:
        (tree / "closed").chmod(0o755)
    items = [WalkItem(path, error) for path, error in json.loads(out)]
    assert good(items) == [str(tree / "ok.txt")]
    problems = errors(items)
    assert "permission denied" in problems["locked.txt"]
    assert problems["closed"].startswith("The folder “closed” cannot be opened: permission denied")


def test_cancel_stops_the_walk(tmp_path):
    for n in range(50):
        touch(tmp_path / "many" / f"{n:02d}.txt")
    cancel = threading.Event()
    seen = []
    for item in expand_paths([tmp_path / "many", tmp_path / "many"], cancel=cancel):
        seen.append(item)
        if len(seen) == 5:
            cancel.set()
    assert len(seen) == 5


def test_deep_nesting_needs_no_recursion(tmp_path):
    folder = tmp_path / "deep"
    path = folder
    for _ in range(300):  # well past what a recursive walk of this depth would want to risk
        path = path / "d"
    os.makedirs(path)
    touch(path / "bottom.txt")
    assert [os.path.basename(p) for p in good(walk(folder))] == ["bottom.txt"]


@pytest.mark.xdist_group("heavy")  # CPU-heavy or timed: one at a time (tests/conftest.py)
@pytest.mark.timeout(120)
def test_folder_of_100000_files_is_walked_lazily(tmp_path):
    folder = tmp_path / "big"
    folder.mkdir()
    for n in range(100_000):
        os.close(os.open(folder / f"f{n:06d}", os.O_CREAT | os.O_WRONLY, 0o644))
    started = time.monotonic()
    items = expand_paths([folder])
    first = next(items)
    assert first.path == str(folder / "f000000")
    count = 1 + sum(1 for item in items if item.error is None)
    assert count == 100_000
    assert time.monotonic() - started < 60
