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

import html
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping, Sequence
from urllib.parse import quote, urlsplit

import qrcode
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
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
from integritas_gui.core.certificate_attachment import (
    RECEIPT_ATTACHMENT_NAME,
    attach_file,
    extract_receipt,
    receipt_payload,
)
from integritas_gui.core.certificate_text import (
    MUTED,
    RED,
    RULE,
    escaped,
    fonts,
    format_time,
    markup,
    paragraph_styles,
)
from integritas_gui.core.certificate_verdict import (
    meaning_of,
    merged_records,
    verdict_of,
    verification_from_check,
    verification_of_job,
)
from integritas_gui.core.display import format_size as human_size
from integritas_gui.core.errors import BadInput, FileProblem
from integritas_gui.core.model import ChainRecord
from integritas_gui.core.receipt_verify import describe_range
from integritas_gui.core.receipts import (
    NODE_STAMP_ENDPOINT,
    Receipt,
    public_base_url,
    utc_now_iso,
)

CERTIFICATE_SUFFIX = ".certificate.pdf"
EXPLORER_BLOCK_URL = "https://explorer.minima.global/blocks/{txpow_id}"
EXPLORER_TRANSACTION_URL = "https://explorer.minima.global/transactions/{transaction_id}"
SANDBOX_WARNING = "SANDBOX \u2014 not a real blockchain"
MAX_LISTED_RANGES = 20


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
    from integritas_gui.core.loopback import is_loopback_host

    if not base_url:
        return False
    try:
        return is_loopback_host(urlsplit(base_url.strip()).hostname)
    except ValueError:
        return False



# ---------------------------------------------------------------------------------------------
# Rendering


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


def _service_url(receipt: Receipt, verification: Mapping[str, Any] | None) -> str | None:
    if verification and verification.get("base_url"):
        return public_base_url(verification["base_url"])
    if receipt.stamp_request and receipt.stamp_request.base_url:
        return public_base_url(receipt.stamp_request.base_url)
    return None


def _story(receipt: Receipt, verification: Mapping[str, Any] | None, generated_at: str,
           width: float) -> list:
    styles = paragraph_styles()
    story: list = []
    records = merged_records(receipt, verification)
    service = _service_url(receipt, verification)
    stamp_service = public_base_url(receipt.stamp_request.base_url) if receipt.stamp_request else None
    sandbox = is_sandbox_url(service) or is_sandbox_url(stamp_service) or any(
        "sandbox" in str(e.get("node_version") or "") for e in receipt.node_evidence)

    story.append(Paragraph(f"{html.escape(APP_NAME.upper())} \u00b7 LOCAL CERTIFICATE", styles["kicker"]))
    verdict = verdict_of(receipt, verification, records)
    title = "Verification certificate" if verdict.kind in ("changed", "no match") else "Timestamp certificate"
    story.append(Paragraph(title, styles["title"]))
    story.append(Spacer(1, 2 * mm))
    name_markup, name_complete = markup(receipt.file_name)
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
                    [Paragraph(escaped(verdict.text), styles["verdict_text"])]]
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
        rows = [("File checked", Paragraph(escaped(verification.get("file_name") or receipt.file_name), styles["body"]))]
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
                rows.append(("Report file", Paragraph(escaped(get("file_name")), styles["body"])))
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

    proves, does_not = meaning_of(verdict)
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
    parsed, payload = receipt_payload(receipt, include_paths)
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
                attach_file(canvas, RECEIPT_ATTACHMENT_NAME, payload,
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
    verification = verification_of_job(job)
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


__all__ = [  # the documented API (docs/certificate.md) and the names the other rooms use
    "render_certificate", "certificate_for_job", "extract_receipt", "verification_from_check",
    "EXPLORER_BLOCK_URL", "EXPLORER_TRANSACTION_URL", "SANDBOX_WARNING", "explorer_links", "is_sandbox_url",
    "certificate_file_name",
]
