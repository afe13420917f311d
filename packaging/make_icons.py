#!/usr/bin/env python3
"""Rasterise the app icon from its SVG source into every format the installers need.

    python3 packaging/make_icons.py

Reads  resources/icon.svg        (the full mark, used from 48 px up)
       resources/icon-small.svg  (the simplified mark, used at 16-32 px where detail is noise)
Writes resources/icons/icon-<N>.png for N in SIZES   (the .deb puts these in hicolor/<N>x<N>/apps)
       resources/icon.ico                            (Windows: 16-256, every size drawn, not scaled)
       resources/icon.icns                           (macOS: 16-1024 incl. @2x)
       integritas_gui/resources/icon.svg, icon-<N>.png for N in PACKAGE_SIZES  (window icon)

Needs PySide6 (QtSvg ships in the Essentials wheel) and Pillow. Runs headless
(QT_QPA_PLATFORM=offscreen). The outputs are committed; rerun this after editing the SVGs.
"""

from __future__ import annotations

import io
import os
import shutil
import struct
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PIL import Image  # noqa: E402
from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt  # noqa: E402
from PySide6.QtGui import QGuiApplication, QImage, QPainter  # noqa: E402
from PySide6.QtSvg import QSvgRenderer  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RESOURCES = ROOT / "resources"
PACKAGE_RESOURCES = ROOT / "integritas_gui" / "resources"

SIZES = (16, 24, 32, 48, 64, 128, 256, 512, 1024)
SMALL_MAX = 32  # sizes up to this use icon-small.svg
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
PACKAGE_SIZES = (16, 32, 64, 256)


def render(svg: Path, size: int) -> Image.Image:
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"{svg} is not a valid SVG for QtSvg")
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(painter)
    painter.end()
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    buffer.close()
    return Image.open(io.BytesIO(bytes(data))).convert("RGBA")


def save_png(image: Image.Image, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, "PNG", optimize=True)  # Pillow writes no timestamp: reruns are byte-stable


# ICNS element types holding PNG data, and the pixel size of each (Apple's iconutil writes the same
# set). Pillow's own ICNS writer leaves out icp4/icp5, the 16 and 32 px 1x slots, so the hand-drawn
# small mark would never be used on macOS: write the container directly, it is tiny.
ICNS_TYPES = (
    (b"icp4", 16), (b"icp5", 32), (b"icp6", 64), (b"ic07", 128), (b"ic08", 256),
    (b"ic09", 512), (b"ic10", 1024), (b"ic11", 32), (b"ic12", 64), (b"ic13", 256), (b"ic14", 512),
)


def png_bytes(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()


def write_icns(images: dict[int, Image.Image], path: Path) -> None:
    body = b""
    for kind, size in ICNS_TYPES:
        data = png_bytes(images[size])
        body += kind + struct.pack(">I", len(data) + 8) + data
    path.write_bytes(b"icns" + struct.pack(">I", len(body) + 8) + body)


def main() -> int:
    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])  # noqa: F841 (keeps Qt alive)
    full, small = RESOURCES / "icon.svg", RESOURCES / "icon-small.svg"
    images: dict[int, Image.Image] = {}
    for size in SIZES:
        images[size] = render(small if size <= SMALL_MAX else full, size)
        save_png(images[size], RESOURCES / "icons" / f"icon-{size}.png")

    largest_ico = images[ICO_SIZES[-1]]
    largest_ico.save(
        RESOURCES / "icon.ico",
        format="ICO",
        sizes=[(s, s) for s in ICO_SIZES],
        append_images=[images[s] for s in ICO_SIZES[:-1]],
    )
    write_icns(images, RESOURCES / "icon.icns")

    PACKAGE_RESOURCES.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(full, PACKAGE_RESOURCES / "icon.svg")
    for size in PACKAGE_SIZES:
        save_png(images[size], PACKAGE_RESOURCES / f"icon-{size}.png")

    for path in sorted([*(RESOURCES / "icons").glob("*.png"), RESOURCES / "icon.ico",
                        RESOURCES / "icon.icns", *PACKAGE_RESOURCES.iterdir()]):
        print(f"{path.relative_to(ROOT)}  {path.stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
