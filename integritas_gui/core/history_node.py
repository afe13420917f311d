"""The node tables of the history (migration 4): the send journal of stamps sent through the user's
own Minima node (node_sends), what the node said about each stamp (node_evidence) and its last answer
about a hash (node_checks). ``History`` mixes these methods in; core/node_evidence.py uses them."""

from __future__ import annotations

from typing import Any

from integritas_gui.core.history_db import utc_now


class NodeTables:
    """The node's send journal and evidence, on a ``HistoryDatabase``."""

    def journal_before_send(self, job_id: int, sha3: str, node_url: str, tip: int | None) -> None:
        """Commit "about to send this hash" before the send."""
        with self._writing():
            self.db.execute(
                "INSERT OR REPLACE INTO node_sends (job_id, sha3_256, node_url, state, tip_before, at)"
                " VALUES (?, ?, ?, 'sending', ?, ?)", (job_id, sha3, node_url, tip, utc_now()))

    def journal_sent(self, job_id: int, unmined_id: str) -> None:
        with self._writing():
            self.db.execute("UPDATE node_sends SET state = 'sent', unmined_id = ?, at = ? WHERE job_id = ?",
                            (unmined_id, utc_now(), job_id))

    def journal_entry(self, job_id: int) -> dict[str, Any] | None:
        with self._errors():
            row = self.db.execute("SELECT * FROM node_sends WHERE job_id = ?", (job_id,)).fetchone()
        return dict(row) if row else None

    def save_node_evidence(self, node_url: str, stamp: Any, node_version: str | None = None) -> None:
        """Keep (or refresh) what the node said about one stamp (a ``NodeStamp``)."""
        with self._writing():
            self.db.execute(
                "INSERT INTO node_evidence (sha3_256, node_url, transaction_id, txpow_id, block_number,"
                " block_date, confirmations, tip, node_version, checked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (sha3_256, transaction_id) DO UPDATE SET txpow_id = excluded.txpow_id,"
                " block_number = excluded.block_number, block_date = excluded.block_date,"
                " confirmations = excluded.confirmations, tip = excluded.tip, node_url = excluded.node_url,"
                " node_version = excluded.node_version,"
                " checked_at = excluded.checked_at",
                (stamp.hash, node_url, stamp.transaction_id, stamp.txpow_id, stamp.block, stamp.block_date,
                 stamp.confirmations, stamp.tip, node_version, utc_now()))

    def save_node_check(self, node_url: str, sha3: str, status: str, message: str) -> None:
        """The last answer of the node about a hash (confirmed, not_found, pruned, unavailable...)."""
        with self._writing():
            self.db.execute("INSERT OR REPLACE INTO node_checks (sha3_256, node_url, status, message, checked_at)"
                            " VALUES (?, ?, ?, ?, ?)", (sha3, node_url, status, message, utc_now()))

    def last_node_check(self, sha3: str) -> dict[str, Any] | None:
        with self._errors():
            row = self.db.execute("SELECT * FROM node_checks WHERE sha3_256 = ?", (sha3,)).fetchone()
        return dict(row) if row else None

    def node_evidence_for(self, sha3: str) -> list[dict[str, Any]]:
        """The node evidence kept for a hash, oldest block first."""
        with self._errors():
            rows = self.db.execute(
                "SELECT sha3_256, node_url, transaction_id, txpow_id, block_number, block_date, confirmations,"
                " tip, node_version, checked_at FROM node_evidence WHERE sha3_256 = ? ORDER BY block_number, id",
                (sha3,)).fetchall()
        return [dict(row) for row in rows]
