"""Expand dropped paths and folders into the files to hash, with a plain message for the odd ones.

Files come out as they are; folders are walked depth first, entries sorted by name, so the same tree
always gives the same order. Symbolic links are followed (to files and to folders); a link that leads
back into a folder being walked is reported once as a loop instead of being followed. The same real
file (same device and inode: hard links, links, a file dropped twice) comes out only once.

The walk is iterative (no recursion limit) and lazy (a generator built on ``os.scandir``), so a
folder of 100,000 files starts yielding at once. It never opens a file, so FIFOs cannot block it.
"""

from __future__ import annotations

import errno
import os
import stat
import threading
from dataclasses import dataclass
from typing import Iterable, Iterator

from integritas_gui.core.hashing import display_name, special_file_message


@dataclass(frozen=True)
class WalkItem:
    path: str  # absolute
    error: str | None = None  # plain message when the entry cannot be hashed
    size: int | None = None


def _stat_problem(path: str, error: OSError, *, is_link: bool) -> str:
    name = display_name(path)
    if error.errno == errno.ELOOP:
        return f"“{name}” is a symbolic link that loops back on itself, so it was skipped."
    if isinstance(error, (FileNotFoundError, NotADirectoryError)):
        if is_link:
            return f"“{name}” is a link to something that no longer exists, so it was skipped."
        return f"“{name}” was not found: it may have been moved, renamed or deleted."
    if isinstance(error, PermissionError):
        return f"“{name}” cannot be read: permission denied. Check that your account may read it."
    return f"“{name}” cannot be read ({error.strerror or type(error).__name__})."


def _is_link(path: str) -> bool:
    try:
        return stat.S_ISLNK(os.lstat(path).st_mode)
    except OSError:
        return False


class _Walker:
    def __init__(self, cancel: threading.Event | None):
        self.cancel = cancel
        self.seen_files: set[tuple[int, int]] = set()
        self.seen_folders: set[tuple[int, int]] = set()

    def cancelled(self) -> bool:
        return self.cancel is not None and self.cancel.is_set()

    def file(self, path: str, info: os.stat_result) -> WalkItem | None:
        """The item for a regular file, or None when this real file was already given."""
        key = (info.st_dev, info.st_ino)
        if key in self.seen_files:
            return None
        self.seen_files.add(key)
        if not os.access(path, os.R_OK):
            return WalkItem(path, f"“{display_name(path)}” cannot be read: permission denied. "
                                  f"Check that your account may read it.")
        return WalkItem(path, size=info.st_size)

    def top(self, path: str) -> Iterator[WalkItem]:
        try:
            info = os.stat(path)
        except OSError as error:
            yield WalkItem(path, _stat_problem(path, error, is_link=_is_link(path)))
            return
        if stat.S_ISREG(info.st_mode):
            item = self.file(path, info)
            if item is not None:
                yield item
        elif stat.S_ISDIR(info.st_mode):
            found_anything = False
            for item in self.folder(path, info):
                found_anything = True
                if item is not _DUPLICATE:
                    yield item
            if not found_anything and not self.cancelled():
                yield WalkItem(path, f"“{display_name(path)}” is an empty folder: it contains no files.")
        else:
            yield WalkItem(path, special_file_message(path, info.st_mode))

    def folder(self, root: str, root_info: os.stat_result) -> Iterator[WalkItem]:
        """Everything under ``root``, depth first, sorted; ``_DUPLICATE`` marks a file seen before."""
        root_key = (root_info.st_dev, root_info.st_ino)
        if root_key in self.seen_folders:
            yield _DUPLICATE  # a folder dropped twice, or inside another dropped folder
            return
        self.seen_folders.add(root_key)
        listing = self.listing(root)
        if isinstance(listing, WalkItem):
            yield listing
            return
        # one frame per open folder: (its key, the entries still to visit)
        stack: list[tuple[tuple[int, int], Iterator[os.DirEntry]]] = [(root_key, iter(listing))]
        ancestors = {root_key}
        while stack:
            if self.cancelled():
                return
            key, entries = stack[-1]
            entry = next(entries, None)
            if entry is None:
                stack.pop()
                ancestors.discard(key)
                continue
            path = entry.path
            try:
                info = entry.stat()  # follows links
            except OSError as error:
                yield WalkItem(path, _stat_problem(path, error, is_link=entry.is_symlink()))
                continue
            if stat.S_ISREG(info.st_mode):
                item = self.file(path, info)
                yield item if item is not None else _DUPLICATE
            elif stat.S_ISDIR(info.st_mode):
                child_key = (info.st_dev, info.st_ino)
                if child_key in ancestors:
                    yield WalkItem(path, f"“{display_name(path)}” is a link back into a folder that "
                                         f"contains it (a loop), so it was skipped.")
                    continue
                if child_key in self.seen_folders:
                    yield _DUPLICATE  # reached again through a link: its files are already listed
                    continue
                self.seen_folders.add(child_key)
                listing = self.listing(path)
                if isinstance(listing, WalkItem):
                    yield listing
                    continue
                stack.append((child_key, iter(listing)))
                ancestors.add(child_key)
            else:
                yield WalkItem(path, special_file_message(path, info.st_mode))

    @staticmethod
    def listing(path: str) -> list[os.DirEntry] | WalkItem:
        try:
            with os.scandir(path) as entries:
                return sorted(entries, key=lambda entry: entry.name)
        except OSError as error:
            if isinstance(error, PermissionError):
                return WalkItem(path, f"The folder “{display_name(path)}” cannot be opened: permission "
                                      f"denied. Check that your account may read it.")
            return WalkItem(path, _stat_problem(path, error, is_link=False))


_DUPLICATE = WalkItem(path="", error="already listed")  # internal marker, never yielded


def expand_paths(
    paths: Iterable[str | bytes | os.PathLike], cancel: threading.Event | None = None
) -> Iterator[WalkItem]:
    """Yield a WalkItem per file to hash, or per entry that cannot be hashed (with ``error``).

    Paths are made absolute (not resolved: a link keeps its own name). Folders are walked
    recursively in sorted order; empty subfolders produce nothing, but a dropped folder with no files
    at all gives one item with the error "… is an empty folder". Symlink loops, dangling links,
    FIFOs, devices, sockets, unreadable files and folders give an item with a plain ``error``.
    Stops quietly once ``cancel`` is set.
    """
    walker = _Walker(cancel)
    for given in paths:
        if walker.cancelled():
            return
        yield from walker.top(os.path.abspath(os.fsdecode(os.fspath(given))))
