"""The certificate's type: fonts (bundled DejaVu, a system fallback for what it lacks), colours,
paragraph styles, right-to-left runs in visual order, and safe Paragraph markup for any text."""

from __future__ import annotations

import html
import os
import re
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

from integritas_gui.core.display import format_utc

FONT_DIR = Path(__file__).resolve().parent.parent / "resources" / "fonts"
SYSTEM_FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"))
# Fonts used only for characters DejaVu lacks (CJK...), when the computer has one; TrueType only.
FALLBACK_FONTS = (
    ("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf", 0),
    ("/usr/share/fonts/truetype/droid/DroidSansFallback.ttf", 0),
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),
    ("/usr/share/fonts/truetype/arphic/uming.ttc", 0),
    ("C:/Windows/Fonts/msyh.ttc", 0),
    ("C:/Windows/Fonts/simsun.ttc", 0),
    ("C:/Windows/Fonts/malgun.ttf", 0),
    ("/System/Library/Fonts/Supplemental/Arial Unicode.ttf", 0),
    ("/Library/Fonts/Arial Unicode.ttf", 0),
)

GREEN = colors.HexColor("#1b7f3b")
RED = colors.HexColor("#b42318")
AMBER = colors.HexColor("#b54708")
GREY = colors.HexColor("#475467")
INK = colors.HexColor("#101828")
MUTED = colors.HexColor("#667085")
RULE = colors.HexColor("#d0d5dd")
LINK = colors.HexColor("#175cd3")


# ---------------------------------------------------------------------------------------------
# Fonts


@dataclass(frozen=True)
class _Fonts:
    regular: str
    bold: str
    mono: str
    coverage: frozenset | None  # code points the regular font draws (None: unknown, assume all)
    fallback: str | None = None
    fallback_coverage: frozenset = frozenset()


_fonts: _Fonts | None = None
_fonts_lock = threading.Lock()


def _font_file(name: str) -> Path | None:
    for folder in (FONT_DIR, *SYSTEM_FONT_DIRS):
        candidate = folder / name
        if candidate.is_file():
            return candidate
    return None


def _register(name: str, path: Path | str, subfont: int = 0) -> TTFont | None:
    try:
        font = TTFont(name, str(path), subfontIndex=subfont)
    except Exception:  # a damaged or CFF-outlined font: not usable by reportlab
        return None
    pdfmetrics.registerFont(font)
    return font


def fonts() -> _Fonts:
    """DejaVu Sans (bundled) for text, DejaVu Sans Mono for hashes; Helvetica/Courier if missing."""
    global _fonts
    with _fonts_lock:
        if _fonts is not None:
            return _fonts
        files = {role: _font_file(name) for role, name in (
            ("regular", "DejaVuSans.ttf"), ("bold", "DejaVuSans-Bold.ttf"), ("mono", "DejaVuSansMono.ttf"))}
        regular = files["regular"] and _register("IntegritasSans", files["regular"])
        bold = files["bold"] and _register("IntegritasSans-Bold", files["bold"])
        mono = files["mono"] and _register("IntegritasMono", files["mono"])
        if regular and bold:
            pdfmetrics.registerFontFamily("IntegritasSans", normal="IntegritasSans", bold="IntegritasSans-Bold",
                                          italic="IntegritasSans", boldItalic="IntegritasSans-Bold")
            chosen = _Fonts("IntegritasSans", "IntegritasSans-Bold", "IntegritasMono" if mono else "Courier",
                            frozenset(regular.face.charToGlyph))
        else:
            chosen = _Fonts("Helvetica", "Helvetica-Bold", "Courier", frozenset(range(32, 256)))
        _fonts = chosen
        return chosen


def _fallback_font() -> tuple[str | None, frozenset]:
    """A system font for characters the bundled one lacks, registered on first need."""
    global _fonts
    current = fonts()
    if current.fallback is not None or current.fallback_coverage:
        return current.fallback, current.fallback_coverage
    with _fonts_lock:
        for path, subfont in FALLBACK_FONTS:
            if os.path.isfile(path):
                font = _register("IntegritasFallback", path, subfont)
                if font is not None:
                    _fonts = _Fonts(current.regular, current.bold, current.mono, current.coverage,
                                    "IntegritasFallback", frozenset(font.face.charToGlyph))
                    return _fonts.fallback, _fonts.fallback_coverage
        _fonts = _Fonts(current.regular, current.bold, current.mono, current.coverage, None, frozenset({-1}))
        return None, _fonts.fallback_coverage


# ---------------------------------------------------------------------------------------------
# Text helpers

_RTL = {"R", "AL"}
_RTL_RUN_INNER = {"R", "AL", "WS", "ON", "CS", "ES", "ET", "EN", "AN", "NSM", "BN"}
_RTL_RUN_END = {"R", "AL", "EN", "AN"}  # numbers right after RTL text belong to its run
_CLUSTER = re.compile(r"\d+|.[\u0300-\u036f\u0591-\u05c7\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed]*", re.S)


def visual_order(text: str) -> str:
    """Lay right-to-left runs (Hebrew, Arabic) out for a left-to-right line: each run is reversed by
    character cluster, numbers inside it keep their order. No shaping: Arabic letters appear in their
    isolated forms. The exact name is always in the embedded receipt."""
    out: list[str] = []
    index, length = 0, len(text)
    while index < length:
        if unicodedata.bidirectional(text[index]) not in _RTL:
            out.append(text[index])
            index += 1
            continue
        end = last = index
        while end < length and unicodedata.bidirectional(text[end]) in _RTL_RUN_INNER:
            if unicodedata.bidirectional(text[end]) in _RTL_RUN_END:
                last = end
            end += 1
        run = text[index:last + 1]
        out.append("".join(reversed(_CLUSTER.findall(run))))
        index = last + 1
    return "".join(out)


def markup(text: str, *, mono: bool = False) -> tuple[str, bool]:
    """Paragraph markup for arbitrary text: escaped, RTL runs ordered, characters the main font lacks
    drawn with a system fallback font when there is one, else shown as U+FFFD.
    Returns (markup, every character could be drawn)."""
    current = fonts()
    coverage = current.coverage
    cleaned = "".join(ch if ch.isprintable() or ch == " " else "\ufffd" for ch in text)
    cleaned = visual_order(cleaned)
    if mono or coverage is None or all(ord(ch) in coverage for ch in cleaned):
        return html.escape(cleaned, quote=False), True
    fallback, fallback_coverage = _fallback_font()
    parts: list[str] = []
    complete = True
    run: list[str] = []

    def flush_run() -> None:
        if run:
            parts.append(f'<font name="{fallback}">{html.escape("".join(run), quote=False)}</font>')
            run.clear()

    for ch in cleaned:
        if ord(ch) in coverage:
            flush_run()
            parts.append(html.escape(ch, quote=False))
        elif fallback and ord(ch) in fallback_coverage:
            run.append(ch)
        else:
            flush_run()
            parts.append("\ufffd")
            complete = False
    flush_run()
    return "".join(parts), complete


def escaped(text: Any) -> str:
    return markup(str(text))[0]


def format_time(iso: str | None) -> str:
    """'Wed 21 Jan 2026, 09:55:48 UTC': unambiguous, always UTC."""
    return format_utc(iso)


def paragraph_styles() -> dict[str, ParagraphStyle]:
    f = fonts()
    base = ParagraphStyle("body", fontName=f.regular, fontSize=9.3, leading=12, textColor=INK,
                          alignment=TA_LEFT, splitLongWords=1)
    return {
        "body": base,
        "small": ParagraphStyle("small", parent=base, fontSize=8, leading=10, textColor=MUTED),
        "label": ParagraphStyle("label", parent=base, fontName=f.bold, fontSize=8.5, leading=12, textColor=GREY),
        "mono": ParagraphStyle("mono", parent=base, fontName=f.mono, fontSize=8.5, leading=12),
        "mono_small": ParagraphStyle("mono_small", parent=base, fontName=f.mono, fontSize=7.6, leading=10.5),
        "title": ParagraphStyle("title", parent=base, fontName=f.bold, fontSize=18, leading=21),
        "kicker": ParagraphStyle("kicker", parent=base, fontName=f.bold, fontSize=8.5, leading=11,
                                 textColor=MUTED),
        "filename": ParagraphStyle("filename", parent=base, fontName=f.bold, fontSize=13, leading=16.5),
        "h2": ParagraphStyle("h2", parent=base, fontName=f.bold, fontSize=11.5, leading=14, spaceBefore=7,
                             spaceAfter=3),
        "verdict": ParagraphStyle("verdict", parent=base, fontName=f.bold, fontSize=15, leading=18,
                                  textColor=colors.white),
        "verdict_text": ParagraphStyle("verdict_text", parent=base, fontSize=9.5, leading=12.5,
                                       textColor=colors.white),
        "bullet": ParagraphStyle("bullet", parent=base, leftIndent=11, bulletIndent=2, spaceAfter=1.5),
        "banner": ParagraphStyle("banner", parent=base, fontName=f.bold, fontSize=9.5, leading=12,
                                 textColor=RED),
    }
