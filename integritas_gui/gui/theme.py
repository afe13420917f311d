"""Semantic colours (match, partial, no match, error, trial) that read well in light and dark mode.

Everything else uses palette roles. Results always come with a symbol and words as well, so colour
is never the only signal.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtGui import QColor, QFont, QFontDatabase, QPalette
from PySide6.QtWidgets import QApplication, QWidget


@dataclass(frozen=True)
class Tone:
    background: QColor
    foreground: QColor
    accent: QColor  # bars, borders, swatches


# (light background, light text, dark background, dark text, accent light, accent dark)
_TONES = {
    "good": ("#e3f4e6", "#14532d", "#16361f", "#bbf7c9", "#2e9c4f", "#4cc46f"),
    "partial": ("#fff3d6", "#6b4300", "#3b2e0c", "#ffe2a3", "#d08a00", "#f2b33d"),
    "bad": ("#fde6e6", "#7f1d1d", "#401919", "#fecaca", "#c62828", "#ef6a6a"),
    "neutral": ("#e8eef7", "#1e3a5f", "#1c2a3d", "#cfe0f5", "#4a78b5", "#79a6e0"),
    "trial": ("#fff1c2", "#5c3b00", "#4a3700", "#ffe8a8", "#e0a800", "#f0c040"),
}

OUTCOME_TONES = {
    "full match": "good",
    "found": "good",
    "confirmed": "good",
    "partial match": "partial",
    "no match": "bad",
    "not found": "bad",
    "failed": "bad",
}


def is_dark(palette: QPalette | None = None) -> bool:
    if palette is None:
        palette = QApplication.palette()
    return palette.color(QPalette.ColorRole.Window).lightness() < 128


def tone(name: str, palette: QPalette | None = None) -> Tone:
    light_bg, light_fg, dark_bg, dark_fg, light_accent, dark_accent = _TONES.get(name, _TONES["neutral"])
    if is_dark(palette):
        return Tone(QColor(dark_bg), QColor(dark_fg), QColor(dark_accent))
    return Tone(QColor(light_bg), QColor(light_fg), QColor(light_accent))


def tone_style(name: str, widget: QWidget, *, radius: int = 6) -> str:
    """A style sheet fragment giving ``widget`` the tone's colours and a left accent border."""
    t = tone(name, widget.palette())
    return (
        f"background-color: {t.background.name()}; color: {t.foreground.name()};"
        f" border-left: 4px solid {t.accent.name()}; border-radius: {radius}px;"
    )


def monospace_font() -> QFont:
    return QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)


def dark_palette() -> QPalette:
    """A dark Fusion palette, for screenshots and for users whose desktop has no dark theme."""
    palette = QPalette()
    role = QPalette.ColorRole
    base, window, text = QColor("#1e1f22"), QColor("#2b2d31"), QColor("#e6e6e6")
    palette.setColor(role.Window, window)
    palette.setColor(role.WindowText, text)
    palette.setColor(role.Base, base)
    palette.setColor(role.AlternateBase, QColor("#26282c"))
    palette.setColor(role.Text, text)
    palette.setColor(role.Button, QColor("#34363b"))
    palette.setColor(role.ButtonText, text)
    palette.setColor(role.ToolTipBase, QColor("#34363b"))
    palette.setColor(role.ToolTipText, text)
    palette.setColor(role.PlaceholderText, QColor("#9a9a9a"))
    palette.setColor(role.Highlight, QColor("#3d6fb6"))
    palette.setColor(role.HighlightedText, QColor("#ffffff"))
    palette.setColor(role.Link, QColor("#7fb3ff"))
    palette.setColor(role.Mid, QColor("#4a4c52"))
    palette.setColor(role.Midlight, QColor("#3a3c41"))
    palette.setColor(role.Dark, QColor("#151618"))
    palette.setColor(QPalette.ColorGroup.Disabled, role.Text, QColor("#7a7a7a"))
    palette.setColor(QPalette.ColorGroup.Disabled, role.ButtonText, QColor("#7a7a7a"))
    palette.setColor(QPalette.ColorGroup.Disabled, role.WindowText, QColor("#7a7a7a"))
    return palette
