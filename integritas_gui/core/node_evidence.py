"""What the user's own Minima node said, kept in the history: the send journal (so a resumed batch
sends nothing twice) and the evidence of each stamp (block, date, ids, confirmations, tip). The SQL
is the history's (core/history_node.py)."""

from __future__ import annotations

from typing import Any

from integritas_gui.core.history import History


def journal_before_send(history: History, job_id: int, sha3: str, node_url: str, tip: int | None) -> None:
    """Commit "about to send this hash" before the send."""
    history.journal_before_send(job_id, sha3, node_url, tip)


def journal_sent(history: History, job_id: int, unmined_id: str) -> None:
    history.journal_sent(job_id, unmined_id)


def journal_entry(history: History, job_id: int) -> dict[str, Any] | None:
    return history.journal_entry(job_id)


def save_evidence(history: History, node_url: str, stamp: Any, node_version: str | None = None) -> None:
    """Keep (or refresh) what the node said about one stamp (a ``NodeStamp``)."""
    history.save_node_evidence(node_url, stamp, node_version)


def save_check(history: History, node_url: str, sha3: str, status: str, message: str) -> None:
    """The last answer of the node about a hash (confirmed, not_found, pruned, unavailable...)."""
    history.save_node_check(node_url, sha3, status, message)


def last_check(history: History, sha3: str) -> dict[str, Any] | None:
    return history.last_node_check(sha3)


def evidence_for(history: History, sha3: str) -> list[dict[str, Any]]:
    """The node evidence kept for a hash, oldest block first."""
    return history.node_evidence_for(sha3)


def receipt_evidence(history: History, sha3: str) -> list[dict[str, Any]]:
    """The node evidence of a hash in the receipt's shape (docs/receipt-format.md, node_evidence)."""
    from integritas_gui.core.minima_node import INTEGRITAS_ADDRESS, STATE_PORT

    return [{"block_number": e["block_number"], "block_date": e["block_date"], "txpow_id": e["txpow_id"],
             "transaction_id": e["transaction_id"], "confirmations": e["confirmations"], "tip": e["tip"],
             "address": INTEGRITAS_ADDRESS, "state_port": STATE_PORT, "state_data": "0x" + sha3.upper(),
             "node_version": e["node_version"], "checked_at": e["checked_at"]} for e in evidence_for(history, sha3)]
