"""The sandbox's one-page verification report PDF (reportlab)."""

from __future__ import annotations

import io
from collections.abc import Sequence

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas

from integritas_gui.sandbox.ledger import Record

MAX_LISTED_RECORDS = 18


def render_report(*, file_hash: str, result: str, records: Sequence[Record], generated_at: str,
                  file_name: str = "", file_size: int = 0, nft_coin_id: str = "",
                  nft_txn_id: str = "") -> bytes:
    buffer = io.BytesIO()
    page = canvas.Canvas(buffer, pagesize=A4, invariant=True)
    page.setTitle("Verification report (Integritas sandbox)")
    page.setAuthor("Integritas sandbox")
    width, height = A4
    left = 20 * mm
    y = height - 25 * mm

    page.setFont("Helvetica-Bold", 18)
    page.drawString(left, y, "Verification report")
    y -= 8 * mm
    page.setFont("Helvetica", 9)
    page.setFillColor(colors.HexColor("#a33"))
    page.drawString(left, y, "Made by the local Integritas sandbox for testing. "
                             "This is NOT a record on the real Minima blockchain.")
    page.setFillColor(colors.black)
    y -= 12 * mm

    def row(label: str, value: str, *, mono: bool = False) -> None:
        nonlocal y
        page.setFont("Helvetica-Bold", 10)
        page.drawString(left, y, label)
        page.setFont("Courier" if mono else "Helvetica", 9 if mono else 10)
        page.drawString(left + 38 * mm, y, value)
        y -= 6 * mm

    row("Result", result)
    row("SHA3-256", file_hash.lower(), mono=True)
    if file_name:
        row("File name", file_name[:90])
    if file_size:
        row("File size", f"{file_size:,} bytes")
    row("Generated", generated_at)
    row("On-chain records", str(len(records)))
    if nft_coin_id:
        row("NFT coin id", nft_coin_id[:40] + "…", mono=True)
    if nft_txn_id:
        row("NFT txn id", nft_txn_id[:40] + "…", mono=True)

    y -= 4 * mm
    page.setStrokeColor(colors.HexColor("#bbb"))
    page.line(left, y, width - left, y)
    y -= 7 * mm
    page.setFont("Helvetica-Bold", 10)
    for x, title in ((0, "Block"), (22, "Block date (UTC)"), (72, "TxPoW id"), (122, "Transaction id")):
        page.drawString(left + x * mm, y, title)
    y -= 6 * mm
    page.setFont("Courier", 8)
    for record in records[:MAX_LISTED_RECORDS]:
        page.drawString(left, y, str(record.block_number))
        page.drawString(left + 22 * mm, y, record.block_date)
        page.drawString(left + 72 * mm, y, record.txpow_id[:22] + "…")
        page.drawString(left + 122 * mm, y, record.transaction_id[:22] + "…")
        y -= 5 * mm
    if len(records) > MAX_LISTED_RECORDS:
        page.setFont("Helvetica-Oblique", 9)
        page.drawString(left, y, f"… and {len(records) - MAX_LISTED_RECORDS} more")
    if not records:
        page.setFont("Helvetica-Oblique", 10)
        page.drawString(left, y, "No on-chain record of this hash was found.")

    page.setFont("Helvetica", 8)
    page.setFillColor(colors.grey)
    page.drawString(left, 15 * mm, "Integritas sandbox - simulated Minima chain for trials and tests.")
    page.showPage()
    page.save()
    return buffer.getvalue()
