"""Local PDF certificate: a file's timestamp evidence on paper, readable offline and forever.

The certificate shows the file (name, size, SHA3-256, BLAKE3), its segments, every on-chain record
(with Minima explorer links and a QR code), the service's report references, when and with what it
was verified, and in plain words what this proves and what it does not. The receipt JSON
(docs/receipt-format.md) is attached to the PDF as ``integritas-receipt.json`` in the document's
``/EmbeddedFiles`` name tree, so the PDF alone is enough to re-verify the file later;
``extract_receipt`` reads it back without any PDF library.

``verification`` (optional) describes the latest check, as a dict:

* ``result``: ``match`` | ``changed`` | ``missing`` | ``unreadable`` (the file against the receipt)
  or ``full match`` | ``partial match`` | ``no match`` | ``unknown`` (the service's answer);
* ``checked_at`` (ISO-8601 UTC), ``base_url``, ``app_version``, ``message``;
* ``changed_ranges``: ``[[offset, length], ...]``, ``size_now``, ``sha3_now`` for a changed file;
* ``records``: on-chain records the verification found (merged with the receipt's);
* ``report``: ``{nft_coin_id, nft_txn_id, file_name}`` of a report the service made.

Never an API key: service addresses pass through ``public_base_url`` (no user info, no query).
"""

from __future__ import annotations

import base64
import html
import json
import os
import re
import tempfile
import threading
import unicodedata
import zlib
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence
from urllib.parse import quote, urlsplit

import qrcode
from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.pdfdoc import (
    PDFArray,
    PDFDictionary,
    PDFName,
    PDFObject,
    PDFStream,
    PDFString,
    PDFZCompress,
)
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import (
    CondPageBreak,
    Flowable,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from integritas_gui import APP_NAME, __version__
from integritas_gui.core.display import format_size as human_size
from integritas_gui.core.display import format_utc
from integritas_gui.core.errors import BadInput, FileProblem
from integritas_gui.core.hexhash import normalise_hash_lenient
from integritas_gui.core.model import RECORD_FIELDS, ChainRecord, oldest_first
from integritas_gui.core.receipts import (
    NODE_STAMP_ENDPOINT,
    Receipt,
    ReceiptCheck,
    describe_range,
    parse_iso_utc,
    public_base_url,
    utc_now_iso,
)

RECEIPT_ATTACHMENT_NAME = "integritas-receipt.json"
CERTIFICATE_SUFFIX = ".certificate.pdf"
EXPLORER_BLOCK_URL = "https://explorer.minima.global/blocks/{txpow_id}"
EXPLORER_TRANSACTION_URL = "https://explorer.minima.global/transactions/{transaction_id}"
SANDBOX_WARNING = "SANDBOX \u2014 not a real blockchain"
MAX_LISTED_RANGES = 20
MAX_PDF_BYTES = 256 * 1024 * 1024

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


def _markup(text: str, *, mono: bool = False) -> tuple[str, bool]:
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


def _e(text: Any) -> str:
    return _markup(str(text))[0]


def format_time(iso: str | None) -> str:
    """'Wed 21 Jan 2026, 09:55:48 UTC': unambiguous, always UTC."""
    return format_utc(iso)


def explorer_links(record: ChainRecord) -> dict[str, str]:
    """Minima explorer links of an on-chain record: ``block`` (TxPoW id) and ``transaction``."""
    links = {}
    txpow = record.txpow_id
    transaction = record.transaction_id
    if txpow:
        links["block"] = EXPLORER_BLOCK_URL.format(txpow_id=quote(str(txpow), safe=""))
    if transaction:
        links["transaction"] = EXPLORER_TRANSACTION_URL.format(transaction_id=quote(str(transaction), safe=""))
    return links


def is_sandbox_url(base_url: str | None) -> bool:
    """A service on this computer (the local sandbox): its records are not on a real blockchain."""
    from integritas_gui.core.client import is_loopback_host

    if not base_url:
        return False
    try:
        return is_loopback_host(urlsplit(base_url.strip()).hostname)
    except ValueError:
        return False


# ---------------------------------------------------------------------------------------------
# Verification dicts


def verification_from_check(
    check: ReceiptCheck, *, checked_at: str | None = None, base_url: str | None = None,
    file_name: str | None = None,
) -> dict:
    """The ``verification`` of a file checked against its receipt (``verify_file_against_receipt``)."""
    return {
        "result": check.status,
        "checked_at": checked_at or utc_now_iso(),
        "base_url": public_base_url(base_url),
        "app_version": __version__,
        "message": check.message,
        "changed_ranges": [list(r) for r in check.changed_ranges],
        "size_now": check.size_now,
        "sha3_now": check.sha3_now,
        "file_name": file_name,
    }


def _verification_of_job(job: Any) -> dict | None:
    """A verify job's answer and, when it was compared with an earlier stamp, what changed."""
    if job.kind == "stamp" or job.state != "done":
        return None
    check = job.receipt_check or {}
    response = job.response or {}
    changed = check.get("status") == "changed"
    verification: dict[str, Any] = {
        "result": "changed" if changed else (job.outcome or "unknown"),
        "service_result": job.outcome,
        "checked_at": job.updated_at,
        "base_url": public_base_url(job.base_url),
        "app_version": __version__,
        "message": response.get("message"),
        "changed_ranges": [list(r) for r in check.get("changed") or []] if changed else [],
        "size_now": job.size,
        "sha3_now": job.sha3_256,
        "file_name": job.name,
        "records": list(job.records),
    }
    if response.get("nft_coin_id") or response.get("nft_txn_id") or response.get("report_file_name"):
        verification["report"] = {
            "nft_coin_id": response.get("nft_coin_id"),
            "nft_txn_id": response.get("nft_txn_id"),
            "file_name": response.get("report_file_name"),
        }
    return verification


def _as_record(record: Any) -> ChainRecord:
    """A verification's record: a ``ChainRecord``, or a mapping of its fields (JSON)."""
    if isinstance(record, ChainRecord):
        return record
    fields = {name: record.get(name) for name in RECORD_FIELDS}
    return ChainRecord(**{**fields, "matched_hash": normalise_hash_lenient(fields["matched_hash"])})


# ---------------------------------------------------------------------------------------------
# Rendering


def _styles() -> dict[str, ParagraphStyle]:
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


@dataclass(frozen=True)
class _Verdict:
    kind: str  # confirmed | changed | no match | partial | unreadable | pending | not stamped
    headline: str
    text: str
    colour: Any
    ranges: tuple[tuple[int, int], ...] = ()


def _verdict(receipt: Receipt, verification: Mapping[str, Any] | None,
             records: Sequence[ChainRecord]) -> _Verdict:
    first = records[0] if records else None
    when = f" in block {first.block_number:,}" if first and first.block_number is not None else ""
    if first and first.block_date:
        when += f" on {format_time(first.block_date)}"
    confirmed_text = f"The SHA3-256 hash of this file was recorded on the Minima blockchain{when}."
    result = (verification or {}).get("result")
    if result == "changed":
        ranges = tuple((int(o), int(n)) for o, n in (verification.get("changed_ranges") or []))
        size_now = verification.get("size_now")
        text = "The file checked"
        if verification.get("checked_at"):
            text += f" on {format_time(verification['checked_at'])}"
        text += " is not the file that was stamped: its SHA3-256 differs"
        if size_now is not None and size_now != receipt.size:
            text += f", and its size changed from {receipt.size:,} to {int(size_now):,} bytes"
        text += "."
        if ranges:
            text += f" Changed byte ranges ({len(ranges)}) are listed below."
        return _Verdict("changed", "Changed \u2014 the file no longer matches", text, RED, ranges)
    if result == "found" and not records:
        return _Verdict(
            "confirmed", "On the blockchain",
            "The service reported that this file's SHA3-256 is recorded on the Minima blockchain. "
            "(A quick check gives no block details; a verification lists them.)", GREEN)
    if result in ("no match", "not found"):
        return _Verdict(
            "no match", "No match \u2014 not found on the blockchain",
            "The service found no record of this file's SHA3-256 hash on the Minima blockchain: this "
            "exact file was never stamped, or it differs from the file that was.", RED)
    if result == "partial match":
        return _Verdict("partial", "Partial match", "Only part of what was checked was found on the blockchain. "
                        + (str(verification.get("message") or "")), AMBER)
    if result in ("missing", "unreadable"):
        return _Verdict("unreadable", "Not checked \u2014 the file could not be read",
                        str(verification.get("message") or "The file could not be read."), GREY)
    if records:
        if result in ("match", "full match"):
            checked = format_time(verification.get("checked_at"))
            confirmed_text += f" The file was checked again on {checked} and still matches."
        return _Verdict("confirmed", "Confirmed", confirmed_text, GREEN)
    if receipt.stamp_request is not None:
        return _Verdict("pending", "Submitted \u2014 not confirmed yet",
                        f"The hash was sent to be stamped on {format_time(receipt.stamp_request.time)}; "
                        "no on-chain record was seen when this certificate was made.", AMBER)
    return _Verdict("not stamped", "Not stamped", "This file's hashes were computed, but it has not been stamped.", GREY)


_PROVES = (
    "A file whose SHA3-256 hash is exactly the one above existed no later than the time of the "
    "block that records it: the hash was written into that Minima transaction.",
    "Any file that gives the same SHA3-256 today is, byte for byte, that same file: changing even "
    "one byte gives a completely different hash.",
)
_DOES_NOT_PROVE = (
    "Who made, owned or sent the file, or that its content is true, original or lawful.",
    "That the file did not exist earlier: only that it existed by then.",
    "Anything about a file whose SHA3-256 differs. Segment hashes are kept in the receipt, not on "
    "the blockchain: they show where a file changed.",
    "The file is not stored on the blockchain nor by the service: keep it with this certificate.",
)


def _meaning(verdict: _Verdict) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """'What this proves' and 'what it does not prove', in plain words, for this outcome."""
    if verdict.kind == "changed":
        return (
            "The stamped version (the SHA3-256 above) existed no later than the time of its block.",
            "The file checked is not that version: the listed byte ranges differ from it.",
        ), (
            "Which version is the right one, who changed the file, or when.",
            "That the unchanged ranges were anchored on their own: only the whole file's SHA3-256 is "
            "on the blockchain; segment hashes live in the receipt.",
            "Who made, owned or sent the file, or that its content is true.",
        )
    if verdict.kind == "no match":
        return (
            "When it was checked, the service knew no record of this exact file's SHA3-256 on the "
            "Minima blockchain.",
        ), (
            "That the content was never stamped: a copy that differs by even one byte (re-saved, "
            "converted, other metadata) has another hash.",
            "Anything about when or by whom the file was made.",
            "That it cannot be stamped later: a check covers the records known at that moment.",
        )
    return _PROVES, _DOES_NOT_PROVE


class _QrCode(Flowable):
    """A QR code drawn as filled rectangles, one per run of dark modules (quiet zone included)."""

    def __init__(self, value: str, size: float, border: int = 2):
        super().__init__()
        code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=0)
        code.add_data(value)
        code.make(fit=True)
        self.matrix = code.get_matrix()
        self.value = value
        self.size = size
        self.border = border
        self.width = self.height = size

    def draw(self) -> None:
        count = len(self.matrix)
        module = self.size / (count + 2 * self.border)
        canvas = self.canv
        canvas.setFillColor(colors.black)
        for row_index, row in enumerate(self.matrix):
            y = self.size - (row_index + self.border + 1) * module
            column = 0
            while column < count:
                if not row[column]:
                    column += 1
                    continue
                start = column
                while column < count and row[column]:
                    column += 1
                canvas.rect((start + self.border) * module, y, (column - start) * module, module * 1.02,
                            stroke=0, fill=1)
        canvas.linkURL(self.value, (0, 0, self.size, self.size), relative=1)


def _link(url: str, text: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(f'<a href="{html.escape(url)}" color="#175cd3">{html.escape(text, quote=False)}</a>', style)


def _rows_table(rows: Sequence[tuple[str, Any]], styles: dict, label_width: float, total: float) -> Table:
    data = [[Paragraph(html.escape(label), styles["label"]), value] for label, value in rows]
    table = Table(data, colWidths=[label_width, total - label_width], hAlign="LEFT")
    table.setStyle(TableStyle([
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 0),
        ("RIGHTPADDING", (0, 0), (-1, -1), 4),
        ("TOPPADDING", (0, 0), (-1, -1), 1.2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 1.2),
    ]))
    return table


def _section(title: str, styles: dict) -> list:
    return [CondPageBreak(30 * mm), Paragraph(html.escape(title), styles["h2"])]


def _merged_records(receipt: Receipt, verification: Mapping[str, Any] | None) -> tuple[ChainRecord, ...]:
    records = list(receipt.records)
    seen = {r.key() for r in records}
    result = (verification or {}).get("result")
    if result in ("match", "full match", "partial match"):
        for raw in (verification or {}).get("records") or []:
            record = _as_record(raw)
            if record.matched_hash and record.matched_hash != receipt.sha3_256:
                continue
            if record.key() not in seen:
                seen.add(record.key())
                records.append(record)
    return oldest_first(records)


def _service_url(receipt: Receipt, verification: Mapping[str, Any] | None) -> str | None:
    if verification and verification.get("base_url"):
        return public_base_url(verification["base_url"])
    if receipt.stamp_request and receipt.stamp_request.base_url:
        return public_base_url(receipt.stamp_request.base_url)
    return None


def _story(receipt: Receipt, verification: Mapping[str, Any] | None, generated_at: str,
           width: float) -> list:
    styles = _styles()
    story: list = []
    records = _merged_records(receipt, verification)
    service = _service_url(receipt, verification)
    stamp_service = public_base_url(receipt.stamp_request.base_url) if receipt.stamp_request else None
    sandbox = is_sandbox_url(service) or is_sandbox_url(stamp_service) or any(
        "sandbox" in str(e.get("node_version") or "") for e in receipt.node_evidence)

    story.append(Paragraph(f"{html.escape(APP_NAME.upper())} \u00b7 LOCAL CERTIFICATE", styles["kicker"]))
    verdict = _verdict(receipt, verification, records)
    title = "Verification certificate" if verdict.kind in ("changed", "no match") else "Timestamp certificate"
    story.append(Paragraph(title, styles["title"]))
    story.append(Spacer(1, 2 * mm))
    name_markup, name_complete = _markup(receipt.file_name)
    story.append(Paragraph(name_markup, styles["filename"]))
    if not name_complete:
        story.append(Paragraph("Some characters of this name cannot be drawn with the fonts on this computer "
                               "(shown as \ufffd); the exact name is in the attached receipt.", styles["small"]))
    story.append(Spacer(1, 3 * mm))

    if sandbox:
        banner = Table([[Paragraph(
            f"{SANDBOX_WARNING.upper()}. Made by the local Integritas sandbox for trying the app "
            "out: these records are not on the Minima blockchain and prove nothing.", styles["banner"])]],
            colWidths=[width])
        banner.setStyle(TableStyle([
            ("BOX", (0, 0), (-1, -1), 1.4, RED),
            ("BACKGROUND", (0, 0), (-1, -1), colors.HexColor("#fef3f2")),
            ("LEFTPADDING", (0, 0), (-1, -1), 8), ("RIGHTPADDING", (0, 0), (-1, -1), 8),
            ("TOPPADDING", (0, 0), (-1, -1), 6), ("BOTTOMPADDING", (0, 0), (-1, -1), 6),
        ]))
        story += [banner, Spacer(1, 3 * mm)]

    verdict_rows = [[Paragraph(html.escape(verdict.headline), styles["verdict"])],
                    [Paragraph(_e(verdict.text), styles["verdict_text"])]]
    box = Table(verdict_rows, colWidths=[width])
    box.setStyle(TableStyle([
        ("BACKGROUND", (0, 0), (-1, -1), verdict.colour),
        ("LEFTPADDING", (0, 0), (-1, -1), 10), ("RIGHTPADDING", (0, 0), (-1, -1), 10),
        ("TOPPADDING", (0, 0), (0, 0), 8), ("BOTTOMPADDING", (0, -1), (-1, -1), 9),
        ("TOPPADDING", (0, 1), (-1, -1), 2), ("BOTTOMPADDING", (0, 0), (-1, 0), 2),
    ]))
    story.append(box)

    label_width = 37 * mm
    if verdict.ranges:
        story += _section("What changed", styles)
        rows = [("File checked", Paragraph(_e(verification.get("file_name") or receipt.file_name), styles["body"]))]
        if verification.get("size_now") is not None:
            rows.append(("Size now", Paragraph(f"{int(verification['size_now']):,} bytes "
                                               f"({html.escape(human_size(int(verification['size_now'])))})",
                                               styles["body"])))
        if verification.get("sha3_now"):
            rows.append(("SHA3-256 now", Paragraph(html.escape(str(verification["sha3_now"])), styles["mono"])))
        shown = verdict.ranges[:MAX_LISTED_RANGES]
        listing = "<br/>".join(html.escape(describe_range(o, n)) for o, n in shown)
        if len(verdict.ranges) > MAX_LISTED_RANGES:
            listing += f"<br/>\u2026 and {len(verdict.ranges) - MAX_LISTED_RANGES} more ranges"
        rows.append(("Changed bytes", Paragraph(listing, styles["body"])))
        story.append(_rows_table(rows, styles, label_width, width))
        story.append(Paragraph(
            f"Found by re-hashing the file in segments of {human_size(receipt.segment_size)} and comparing "
            "each with the segment hashes in the receipt. Bytes outside these ranges are unchanged.",
            styles["small"]))

    story += _section("The stamped file" if verdict.kind == "changed" else "The file", styles)
    size_text = f"{receipt.size:,} bytes" + (f" ({human_size(receipt.size)})" if receipt.size >= 1024 else "")
    rows = [
        ("Name", Paragraph(name_markup, styles["body"])),
        ("Size", Paragraph(html.escape(size_text), styles["body"])),
    ]
    if receipt.mtime_ns is not None:
        modified = datetime.fromtimestamp(receipt.mtime_ns / 1e9, timezone.utc).isoformat()
        rows.append(("Modified", Paragraph(html.escape(format_time(modified)), styles["body"])))
    rows += [
        ("SHA3-256", Paragraph(receipt.sha3_256, styles["mono"])),
        ("BLAKE3", Paragraph(receipt.blake3, styles["mono"])),
    ]
    story.append(_rows_table(rows, styles, label_width, width))

    story += _section("Segments", styles)
    count = receipt.segment_count
    story.append(_rows_table([
        ("Segment size", Paragraph(f"{receipt.segment_size:,} bytes ({html.escape(human_size(receipt.segment_size))})",
                                   styles["body"])),
        ("Segments", Paragraph(f"{count:,} BLAKE3 hashes (listed in the attached receipt)", styles["body"])),
        ("Segment root", Paragraph(receipt.segments_root, styles["mono"])),
    ], styles, label_width, width))

    story += _section("On the Minima blockchain", styles)
    if records:
        story.append(Paragraph(
            f"{len(records)} on-chain record{'s' if len(records) != 1 else ''}, each holding this file's SHA3-256 "
            "in state port 99 of a Minima transaction. Open a link or scan a code to see it in the explorer."
            + (" (Sandbox records: the links do not resolve.)" if sandbox else ""),
            styles["body"]))
        story.append(Spacer(1, 2 * mm))
        for number, record in enumerate(records, 1):
            story.append(_record_block(number, record, styles, width))
    else:
        story.append(Paragraph("No on-chain record of this file's SHA3-256 is known to this certificate.",
                               styles["body"]))

    reports = [r for r in receipt.reports] + ([verification["report"]] if verification and verification.get("report") else [])
    if reports:
        story += _section("Service verification reports", styles)
        for report in reports:
            get = (lambda k: report.get(k)) if isinstance(report, Mapping) else (lambda k: getattr(report, k, None))
            rows = []
            if get("verified_at"):
                rows.append(("Verified", Paragraph(html.escape(format_time(get("verified_at"))), styles["body"])))
            if get("result"):
                rows.append(("Result", Paragraph(html.escape(str(get("result"))), styles["body"])))
            if get("file_name"):
                rows.append(("Report file", Paragraph(_e(get("file_name")), styles["body"])))
            if get("nft_coin_id"):
                rows.append(("NFT coin id", Paragraph(html.escape(str(get("nft_coin_id"))), styles["mono_small"])))
            if get("nft_txn_id"):
                rows.append(("NFT transaction", Paragraph(html.escape(str(get("nft_txn_id"))), styles["mono_small"])))
            if rows:
                story.append(_rows_table(rows, styles, label_width, width))
                story.append(Spacer(1, 2 * mm))

    from integritas_gui.core.certificate_node import node_evidence_story

    story += node_evidence_story(receipt, styles, width, label_width)
    story += _section("How this was verified", styles)
    rows = []
    if verification and verification.get("checked_at"):
        rows.append(("Last checked", Paragraph(html.escape(format_time(verification["checked_at"])), styles["body"])))
    if receipt.stamp_request is not None:
        rows.append(("Stamp sent", Paragraph(html.escape(format_time(receipt.stamp_request.time)), styles["body"])))
    if receipt.confirmed_at:
        rows.append(("Confirmation seen", Paragraph(html.escape(format_time(receipt.confirmed_at)), styles["body"])))
    checker = (verification or {}).get("app_version") or receipt.app_version
    rows.append(("With", Paragraph(f"{html.escape(APP_NAME)} {html.escape(str(checker))}", styles["body"])))
    for label, url in (("Service", service), ("Stamped through", stamp_service if stamp_service != service else None)):
        if url:
            text = html.escape(url)
            if is_sandbox_url(url):
                text += f' <font color="#b42318"><b>({html.escape(SANDBOX_WARNING)})</b></font>'
            rows.append((label, Paragraph(text, styles["body"])))
    if receipt.stamp_request is not None and receipt.stamp_request.endpoint == NODE_STAMP_ENDPOINT:
        rows.append(("Stamped through", Paragraph("your own Minima node (no service involved)", styles["body"])))
    elif not service:
        rows.append(("Service", Paragraph("none recorded", styles["body"])))
    story.append(_rows_table(rows, styles, label_width, width))

    proves, does_not = _meaning(verdict)
    column = (width - 6 * mm) / 2

    def bullets(title: str, texts: Sequence[str]) -> list:
        return [Paragraph(html.escape(title), styles["h2"])] + [
            Paragraph(html.escape(text), styles["bullet"], bulletText="\u2022") for text in texts]

    meaning = Table([[bullets("What this proves", proves), bullets("What it does not prove", does_not)]],
                    colWidths=[column + 6 * mm, column], hAlign="LEFT")
    meaning.setStyle(TableStyle([
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 0), ("RIGHTPADDING", (0, 0), (0, 0), 6 * mm),
        ("RIGHTPADDING", (1, 0), (1, 0), 0), ("TOPPADDING", (0, 0), (-1, -1), 0),
    ]))
    story += [CondPageBreak(45 * mm), Spacer(1, 3 * mm), meaning]

    mono = fonts().mono
    story += [Spacer(1, 2 * mm), KeepTogether([
              Paragraph("Checking it yourself, without this app", styles["label"]),
              Paragraph(
                  f'The receipt is attached to this PDF as <font name="{mono}">{RECEIPT_ATTACHMENT_NAME}</font> '
                  f'(attachments panel of a PDF reader, or <font name="{mono}">pdfdetach&nbsp;-saveall</font>). '
                  f'<font name="{mono}">openssl&nbsp;dgst&nbsp;-sha3-256</font> of the file must give the SHA3-256 above; '
                  "the explorer links show it on chain. Format: Integritas receipt, version 1.",
                  styles["small"])])]
    return story


def _record_block(number: int, record: ChainRecord, styles: dict, width: float) -> Table:
    links = explorer_links(record)
    qr_size = 22 * mm
    lines = []
    block = record.block_number
    heading = f"Record {number}" + (f" \u00b7 block {block:,}" if block is not None else "")
    lines.append(Paragraph(f"<b>{html.escape(heading)}</b>", styles["body"]))
    lines.append(Paragraph(html.escape(format_time(record.block_date)), styles["body"]))
    inner_label = 28 * mm
    inner = []
    for label, key, link_key in (("TxPoW id", "txpow_id", "block"), ("Transaction id", "transaction_id", "transaction")):
        value = getattr(record, key)
        if value:
            inner.append((label, _link(links[link_key], str(value), styles["mono_small"])))
    details_width = width - qr_size - 6 * mm
    content: list = lines
    if inner:
        content = lines + [Spacer(1, 1 * mm), _rows_table(inner, styles, inner_label, details_width)]
    target = links.get("transaction") or links.get("block")
    qr_cell: Any = _QrCode(target, qr_size) if target else ""
    table = Table([[content, qr_cell]], colWidths=[details_width, qr_size + 6 * mm], hAlign="LEFT")
    table.setStyle(TableStyle([
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LINEABOVE", (0, 0), (-1, 0), 0.5, RULE),
        ("LEFTPADDING", (0, 0), (-1, -1), 0), ("RIGHTPADDING", (0, 0), (-1, -1), 0),
        ("TOPPADDING", (0, 0), (-1, -1), 4), ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
        ("ALIGN", (1, 0), (1, 0), "RIGHT"),
    ]))
    return KeepTogether([table])


class _RawName(PDFObject):
    """A PDF name written exactly as given (reportlab would escape the ``#`` of ``#2F``)."""

    def __init__(self, raw: bytes):
        self.raw = raw

    def format(self, document):  # noqa: A003 - reportlab's interface
        return self.raw


def _pdf_date(iso: str) -> str:
    moment = parse_iso_utc(iso).astimezone(timezone.utc)
    return moment.strftime("D:%Y%m%d%H%M%S+00'00'")


def _attach(canvas, name: str, data: bytes, description: str, modified: str) -> None:
    """Attach ``data`` as an embedded file in the document's ``/EmbeddedFiles`` name tree."""
    document = canvas._doc
    stream = PDFStream(
        PDFDictionary({
            "Type": PDFName("EmbeddedFile"),
            "Subtype": _RawName(b"/application#2Fjson"),
            "Params": PDFDictionary({"Size": len(data), "ModDate": PDFString(_pdf_date(modified))}),
        }),
        content=data,
        filters=[PDFZCompress],
    )
    filespec = PDFDictionary({
        "Type": PDFName("Filespec"),
        "F": PDFString(name),
        "UF": PDFString(name),
        "Desc": PDFString(description),
        "AFRelationship": PDFName("Data"),
        "EF": PDFDictionary({"F": document.Reference(stream), "UF": document.Reference(stream)}),
    })
    reference = document.Reference(filespec)
    canvas.setCatalogEntry("Names", PDFDictionary({
        "EmbeddedFiles": PDFDictionary({"Names": PDFArray([PDFString(name), reference])}),
    }))


def _receipt_payload(receipt: Any, include_paths: bool) -> tuple[Receipt, bytes]:
    if isinstance(receipt, Receipt):
        data = receipt.to_dict()
    elif isinstance(receipt, Mapping):
        data = json.loads(json.dumps(receipt))
    else:
        raise BadInput("A certificate needs a receipt (a dict in the receipt format).")
    parsed = Receipt.from_dict(data)  # strict: a damaged receipt gives no certificate
    if not include_paths:
        if isinstance(data.get("file"), dict):
            data["file"].pop("path", None)
        for report in data.get("reports") or []:
            if isinstance(report, dict):
                report.pop("saved_path", None)
    return parsed, (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def certificate_file_name(receipt: Receipt) -> str:
    return receipt.file_name + CERTIFICATE_SUFFIX


def render_certificate(
    receipt: Mapping[str, Any] | Receipt,
    dest: str | os.PathLike,
    *,
    verification: Mapping[str, Any] | None = None,
    include_paths: bool = False,
    generated_at: str | None = None,
) -> Path:
    """Write the certificate PDF for ``receipt`` to ``dest`` (a folder gets ``<name>.certificate.pdf``).

    The receipt is checked strictly first and attached to the PDF; local paths (``file.path``,
    ``reports[].saved_path``) are left out of the attached copy unless ``include_paths``.
    Written atomically; raises BadInput for a damaged receipt, FileProblem when it cannot be saved.
    """
    parsed, payload = _receipt_payload(receipt, include_paths)
    generated_at = generated_at or utc_now_iso()
    dest = Path(dest)
    if dest.is_dir():
        dest = dest / certificate_file_name(parsed)
    folder = dest.parent if str(dest.parent) else Path(".")
    try:
        handle, temp_name = tempfile.mkstemp(prefix=".certificate-", suffix=".tmp", dir=folder)
        os.close(handle)
    except OSError as exc:
        raise FileProblem(f"The certificate cannot be saved in {folder}: {exc.strerror or exc}.", str(dest)) from None
    margin = 18 * mm
    width = A4[0] - 2 * margin
    try:
        document = SimpleDocTemplate(
            temp_name, pagesize=A4, leftMargin=margin, rightMargin=margin, topMargin=13 * mm,
            bottomMargin=17 * mm, title=f"Timestamp certificate: {parsed.file_name}",
            author=APP_NAME, subject=f"SHA3-256 {parsed.sha3_256}", creator=f"{APP_NAME} {__version__}",
            keywords=["integritas", "timestamp", "minima"],
        )
        attached = []

        def decorate(canvas, doc) -> None:
            if not attached:
                _attach(canvas, RECEIPT_ATTACHMENT_NAME, payload,
                        "Integritas receipt: the machine-readable evidence for this certificate", generated_at)
                attached.append(True)
            canvas.saveState()
            canvas.setFont(fonts().regular, 7.5)
            canvas.setFillColor(MUTED)
            canvas.setStrokeColor(RULE)
            canvas.line(margin, 13 * mm, A4[0] - margin, 13 * mm)
            canvas.drawString(margin, 9 * mm, f"Made by {APP_NAME} {__version__} on {format_time(generated_at)} "
                                              f"\u00b7 receipt attached as {RECEIPT_ATTACHMENT_NAME}")
            canvas.drawRightString(A4[0] - margin, 9 * mm, f"Page {doc.page}")
            canvas.restoreState()

        document.build(_story(parsed, verification, generated_at, width),
                       onFirstPage=decorate, onLaterPages=decorate)
        os.replace(temp_name, dest)
    except OSError as exc:
        _unlink_quietly(temp_name)
        raise FileProblem(f"The certificate {dest} cannot be saved: {exc.strerror or exc}.", str(dest)) from None
    except BaseException:
        _unlink_quietly(temp_name)
        raise
    return dest


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def certificate_for_job(history: Any, job_id: int, dest_path: str | os.PathLike, **options: Any) -> Path:
    """The certificate of a history entry.

    A stamp shows its receipt. A verification compared with an earlier stamp of the same file shows
    that stamp's receipt and what changed; any other verification shows the file as checked and the
    service's answer (e.g. no match).
    """
    from integritas_gui.core.job_receipts import receipt_for_job

    job = history.get_job(job_id)
    if job is None:
        raise BadInput(f"There is no entry {job_id} in the history.")
    verification = _verification_of_job(job)
    receipt = None
    source = str((job.receipt_check or {}).get("source") or "")
    if job.kind == "verify" and source:
        receipt = _reference_receipt(history, source)
    if receipt is None:
        receipt = receipt_for_job(history, job_id)
    return render_certificate(receipt, dest_path, verification=verification, **options)


def _reference_receipt(history: Any, source: str) -> Receipt | None:
    """The receipt a verification was compared with: ``history:<id>`` or a receipt file."""
    from integritas_gui.core.job_receipts import receipt_for_job
    from integritas_gui.core.receipts import read_receipt

    try:
        if source.startswith("history:"):
            return receipt_for_job(history, int(source.split(":", 1)[1]))
        return read_receipt(source)
    except (BadInput, FileProblem, ValueError):
        return None


# ---------------------------------------------------------------------------------------------
# Reading the receipt back


_OBJ_HEADER = re.compile(rb"(\d+)\s+(\d+)\s+obj\b")


def _skip_string(data: bytes, index: int) -> int:
    """Index just past the literal string that starts at ``data[index] == b'('``."""
    depth = 0
    while index < len(data):
        byte = data[index]
        if byte == 0x5C:  # backslash escapes the next byte
            index += 2
            continue
        if byte == 0x28:
            depth += 1
        elif byte == 0x29:
            depth -= 1
            if depth == 0:
                return index + 1
        index += 1
    raise ValueError("unterminated string")


def _dictionary_end(data: bytes, start: int) -> int:
    """Index just past the ``>>`` closing the dictionary that opens at ``start``."""
    depth = 0
    index = start
    while index < len(data):
        if data.startswith(b"<<", index):
            depth += 1
            index += 2
        elif data.startswith(b">>", index):
            depth -= 1
            index += 2
            if depth == 0:
                return index
        elif data[index] == 0x28:
            index = _skip_string(data, index)
        else:
            index += 1
    raise ValueError("unterminated dictionary")


def _stream_length(dictionary: bytes, data: bytes) -> int | None:
    match = re.search(rb"/Length\s+(\d+)(\s+(\d+)\s+R)?", dictionary)
    if not match:
        return None
    if not match.group(2):
        return int(match.group(1))
    target = re.search(rb"(?<!\d)%s\s+%s\s+obj\s*(\d+)\s*endobj" % (match.group(1), match.group(3)), data)
    return int(target.group(1)) if target else None


def _decode(dictionary: bytes, raw: bytes) -> bytes:
    filters_match = re.search(rb"/Filter\s*(\[[^\]]*\]|/[A-Za-z0-9]+)", dictionary)
    names = re.findall(rb"/([A-Za-z0-9]+)", filters_match.group(1)) if filters_match else []
    for name in names:
        if name in (b"FlateDecode", b"Fl"):
            raw = zlib.decompressobj().decompress(raw)
        elif name in (b"ASCII85Decode", b"A85"):
            text = re.sub(rb"\s", b"", raw)
            text = text[2:] if text.startswith(b"<~") else text
            text = text[:-2] if text.endswith(b"~>") else text
            raw = base64.a85decode(text)
        elif name in (b"ASCIIHexDecode", b"AHx"):
            text = re.sub(rb"[\s>]", b"", raw)
            raw = bytes.fromhex((text + b"0" * (len(text) % 2)).decode("ascii"))
        else:
            raise ValueError(f"unsupported filter {name!r}")
    return raw


def _embedded_files(data: bytes) -> Iterable[bytes]:
    """Contents of every ``/Type /EmbeddedFile`` stream in a PDF, in file order."""
    position = 0
    while True:
        header = _OBJ_HEADER.search(data, position)
        if header is None:
            return
        position = header.end()
        start = header.end()
        while start < len(data) and data[start] in b" \t\r\n\f\x00":
            start += 1
        if not data.startswith(b"<<", start):
            continue
        try:
            end = _dictionary_end(data, start)
        except ValueError:
            continue
        dictionary = data[start:end]
        after = re.match(rb"\s*stream(\r\n|\n|\r)", data[end:end + 16])
        if after is None:
            continue
        body = end + after.end()
        length = _stream_length(dictionary, data)
        if length is None or body + length > len(data):
            stop = data.find(b"endstream", body)
            if stop < 0:
                continue
            length = stop - body
        position = body + length
        if not re.search(rb"/Type\s*/EmbeddedFile\b", dictionary):
            continue
        try:
            yield _decode(dictionary, data[body:body + length])
        except (ValueError, zlib.error):
            continue


def extract_receipt(pdf_path: str | os.PathLike) -> dict:
    """The receipt attached to a certificate, as a dict (checked strictly like any receipt).

    Raises FileProblem when the PDF cannot be read, BadInput when it carries no valid receipt.
    """
    path = Path(pdf_path)
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_PDF_BYTES + 1)
    except OSError as exc:
        raise FileProblem(f"The certificate {path} cannot be read: {exc.strerror or exc}.", str(path)) from None
    if not data.startswith(b"%PDF-"):
        raise BadInput(f"{path.name} is not a PDF.")
    if len(data) > MAX_PDF_BYTES:
        raise BadInput(f"{path.name} is too large to be a certificate.")
    if re.search(rb"/Encrypt\s", data):
        raise BadInput(f"{path.name} is encrypted; save an unencrypted copy and try again.")
    problem = None
    for content in _embedded_files(data):
        try:
            candidate = json.loads(content.decode("utf-8-sig"))
        except (UnicodeDecodeError, ValueError):
            continue
        if not isinstance(candidate, dict) or candidate.get("format") != "integritas-receipt":
            continue
        try:
            Receipt.from_dict(candidate)
        except BadInput as exc:
            problem = exc
            continue
        return candidate
    if problem is not None:
        raise problem
    raise BadInput(f"{path.name} carries no Integritas receipt (it is not an Integritas certificate, "
                   "or the attachment was removed).")


__all__ = [
    "RECEIPT_ATTACHMENT_NAME", "EXPLORER_BLOCK_URL", "EXPLORER_TRANSACTION_URL", "SANDBOX_WARNING",
    "render_certificate", "certificate_for_job", "extract_receipt", "verification_from_check",
    "explorer_links", "is_sandbox_url", "format_time", "visual_order", "certificate_file_name",
]
