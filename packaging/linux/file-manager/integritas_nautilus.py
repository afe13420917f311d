"""Nautilus (GNOME Files) menu items: "Stamp with Integritas" and "Verify with Integritas" on the
selected files and folders. A nautilus-python extension (Debian/Ubuntu: python3-nautilus), installed
to /usr/share/nautilus-python/extensions/ by the .deb; Nautilus 43+ (API 4.0) and older (3.0)."""

from __future__ import annotations

import subprocess
from urllib.parse import unquote, urlparse

ACTIONS = (("stamp", "Stamp with Integritas"), ("verify", "Verify with Integritas"))
PROGRAM = "integritas-gui"


def local_paths(uris):
    """The local paths of file:// URIs; None when any selected item is not a local file."""
    paths = []
    for uri in uris:
        parsed = urlparse(uri)
        if parsed.scheme != "file":
            return None
        paths.append(unquote(parsed.path))
    return paths


def command(action, paths):
    return [PROGRAM, f"--{action}", *paths]


try:
    import gi

    for version in ("4.0", "3.0"):
        try:
            gi.require_version("Nautilus", version)
            break
        except ValueError:
            continue
    from gi.repository import GObject, Nautilus
except (ImportError, ValueError):  # not inside Nautilus: the helpers above stay importable
    Nautilus = None

if Nautilus is not None:
    class IntegritasMenu(GObject.GObject, Nautilus.MenuProvider):
        def get_file_items(self, *args):  # API 4.0: (files); API 3.0: (window, files)
            paths = local_paths(item.get_uri() for item in args[-1])
            if not paths:
                return []
            items = []
            for action, label in ACTIONS:
                item = Nautilus.MenuItem(name=f"Integritas::{action}", label=label)
                item.connect("activate", lambda _item, a=action: subprocess.Popen(command(a, paths)))
                items.append(item)
            return items
