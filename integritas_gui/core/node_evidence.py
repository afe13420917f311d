"""What the user's own Minima node said, kept in the history: the send journal (so a resumed batch
sends nothing twice) and the evidence of each stamp (block, date, ids, confirmations, tip)."""

from __future__ import annotations

from typing import Any

from integritas_gui.core.history import History, utc_now


def journal_before_send(history: History, job_id: int, sha3: str, node_url: str, tip: int | None) -> None:
    """Commit "about to send this hash" before the send."""
    with history._writing():
        history.db.execute(
            "INSERT OR REPLACE INTO node_sends (job_id, sha3_256, node_url, state, tip_before, at)"
            " VALUES (?, ?, ?, 'sending', ?, ?)", (job_id, sha3, node_url, tip, utc_now()))


def journal_sent(history: History, job_id: int, unmined_id: str) -> None:
    with history._writing():
        history.db.execute("UPDATE node_sends SET state = 'sent', unmined_id = ?, at = ? WHERE job_id = ?",
                           (unmined_id, utc_now(), job_id))


def journal_entry(history: History, job_id: int) -> dict[str, Any] | None:
    with history._errors():
        row = history.db.execute("SELECT * FROM node_sends WHERE job_id = ?", (job_id,)).fetchone()
    return dict(row) if row else None


def save_evidence(history: History, node_url: str, stamp: Any, node_version: str | None = None) -> None:
    """Keep (or refresh) what the node said about one stamp (a ``NodeStamp``)."""
    with history._writing():
        history.db.execute(
            "INSERT INTO node_evidence (sha3_256, node_url, transaction_id, txpow_id, block_number,"
            " block_date, confirmations, tip, node_version, checked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (sha3_256, transaction_id) DO UPDATE SET txpow_id = excluded.txpow_id,"
            " block_number = excluded.block_number, block_date = excluded.block_date,"
            " confirmations = excluded.confirmations, tip = excluded.tip, node_url = excluded.node_url,"
            " node_version = excluded.node_version,"
            " checked_at = excluded.checked_at",
            (stamp.hash, node_url, stamp.transaction_id, stamp.txpow_id, stamp.block, stamp.block_date,
             stamp.confirmations, stamp.tip, node_version, utc_now()))


def save_check(history: History, node_url: str, sha3: str, status: str, message: str) -> None:
    """The last answer of the node about a hash (confirmed, not_found, pruned, unavailable...)."""
    with history._writing():
        history.db.execute("INSERT OR REPLACE INTO node_checks (sha3_256, node_url, status, message, checked_at)"
                           " VALUES (?, ?, ?, ?, ?)", (sha3, node_url, status, message, utc_now()))


def last_check(history: History, sha3: str) -> dict[str, Any] | None:
    with history._errors():
        row = history.db.execute("SELECT * FROM node_checks WHERE sha3_256 = ?", (sha3,)).fetchone()
    return dict(row) if row else None


def evidence_for(history: History, sha3: str) -> list[dict[str, Any]]:
    """The node evidence kept for a hash, oldest block first."""
    with history._errors():
        rows = history.db.execute(
            "SELECT sha3_256, node_url, transaction_id, txpow_id, block_number, block_date, confirmations,"
            " tip, node_version, checked_at FROM node_evidence WHERE sha3_256 = ? ORDER BY block_number, id",
            (sha3,)).fetchall()
    return [dict(row) for row in rows]


def receipt_evidence(history: History, sha3: str) -> list[dict[str, Any]]:
    """The node evidence of a hash in the receipt's shape (docs/receipt-format.md, node_evidence)."""
    from integritas_gui.core.minima_node import INTEGRITAS_ADDRESS, STATE_PORT

    return [{"block_number": e["block_number"], "block_date": e["block_date"], "txpow_id": e["txpow_id"],
             "transaction_id": e["transaction_id"], "confirmations": e["confirmations"], "tip": e["tip"],
             "address": INTEGRITAS_ADDRESS, "state_port": STATE_PORT, "state_data": "0x" + sha3.upper(),
             "node_version": e["node_version"], "checked_at": e["checked_at"]} for e in evidence_for(history, sha3)]
