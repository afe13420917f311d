"""The certificate's "On your own Minima node" section: what the node said, and how anyone checks it
on any Minima node with RPC on, in a few commands."""

from __future__ import annotations

import html
from typing import Any

from reportlab.lib.units import mm
from reportlab.platypus import KeepTogether, Paragraph, Spacer

from integritas_gui.core.display import count_noun
from integritas_gui.core.certificate_text import fonts, format_time
from integritas_gui.core.receipts import Receipt


def node_evidence_story(receipt: Receipt, styles: dict, width: float, label_width: float) -> list:
    from integritas_gui.core.certificate import _rows_table, _section

    if not receipt.node_evidence:
        return []
    mono = fonts().mono
    story: list = _section("On your own Minima node", styles)
    story.append(Paragraph(
        "Your own Minima node, not the Integritas service, answered this: it holds the transaction in "
        "its copy of the chain, and the transaction's state port 99 is this file's SHA3-256.", styles["body"]))
    story.append(Spacer(1, 1.5 * mm))
    for entry in receipt.node_evidence:
        rows: list[tuple[str, Any]] = []
        block = entry.get("block_number")
        if block is not None:
            when = format_time(entry.get("block_date")) if entry.get("block_date") else ""
            rows.append(("Block", Paragraph(html.escape(f"{block:,}" + (f" \u00b7 {when}" if when else "")),
                                            styles["body"])))
        if entry.get("confirmations") is not None:
            depth = count_noun(entry["confirmations"], "confirmation")
            if entry.get("tip") is not None:
                depth += f" (the node's tip was block {entry['tip']:,}"
                depth += f", {format_time(entry['checked_at'])})" if entry.get("checked_at") else ")"
            rows.append(("Depth", Paragraph(html.escape(depth), styles["body"])))
        rows.append(("Transaction id", Paragraph(html.escape(str(entry.get("transaction_id"))), styles["mono_small"])))
        if entry.get("txpow_id") and entry.get("txpow_id") != entry.get("transaction_id"):
            rows.append(("Block TxPoW id", Paragraph(html.escape(str(entry["txpow_id"])), styles["mono_small"])))
        rows.append(("State port 99", Paragraph(html.escape(str(entry.get("state_data"))), styles["mono_small"])))
        story.append(_rows_table(rows, styles, label_width, width))
        story.append(Spacer(1, 1.5 * mm))
    first = receipt.node_evidence[0]
    commands = [
        f"txpow txpowid:{first.get('transaction_id')}",
        f"txpow onchain:{first.get('transaction_id')}",
        f"txpow address:{first.get('address')}",
    ]
    story.append(KeepTogether([
        Paragraph("Checking it on any Minima node", styles["label"]),
        Paragraph(
            "In the node's terminal (or over RPC: <font name=\"%s\">curl http://127.0.0.1:9005/</font> "
            "and the command, spaces as %%20), run:" % mono, styles["small"]),
        Paragraph("<br/>".join(html.escape(c) for c in commands), styles["mono_small"]),
        Paragraph(
            "The first shows the transaction: body.txn.state must hold port 99 = the value above. The second "
            "gives its block and confirmations. The third finds it without the ids (look for that state "
            "entry). A normal node keeps only recent blocks and answers \u201cTxPoW not found\u201d for older "
            "ones: ask a node started with -archive, which keeps them all.", styles["small"]),
    ]))
    return story
