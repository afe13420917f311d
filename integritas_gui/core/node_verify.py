"""Verification levels, and checking a hash on the user's own Minima node.

Three levels, each proving something different:

- *local*: the file matches its receipt (SHA3-256, BLAKE3 and every segment);
- *service*: the Integritas service lists on-chain records for the hash;
- *node*: the user's own node holds the transaction in block N of its chain, K confirmations deep,
  and its state port 99 is this hash.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable

from integritas_gui.core.display import count_noun
from integritas_gui.core.minima_node import MinimaNode, NodeError, NodeStamp, StampListing, TxPoW

PROVES = {
    "local": "The file is byte for byte the one its receipt describes (SHA3-256, BLAKE3 and every "
             "segment). It says nothing about the chain.",
    "service": "The Integritas service says the Minima chain holds records of this hash. You rely on "
               "the service's word.",
    "node": "Your own Minima node holds a transaction in its copy of the chain whose state port 99 is "
            "this hash. You rely only on your node and the chain it follows, not on Integritas.",
}
PRUNED = ("no longer on this node (a normal node keeps recent blocks; an archive node keeps all)")

# level status: "pass" | "fail" | "not_checked" | "unavailable"


def _n(number: int | None) -> str:
    return f"{number:,}" if isinstance(number, int) else "?"


@dataclass(frozen=True)
class Level:
    name: str              # local | service | node
    status: str            # pass | fail | not_checked | unavailable
    summary: str           # what was found, in plain words
    proves: str
    details: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    def line(self) -> str:
        mark = {"pass": "ok", "fail": "FAIL", "not_checked": "--", "unavailable": "??"}[self.status]
        title = {"local": "local", "service": "service", "node": "your node"}[self.name]
        return f"[{mark:>4}] {title}: {self.summary}"


def local_level(receipt_check: dict | None) -> Level:
    """From a comparison with the receipt or the history (status match/changed, changed ranges)."""
    if not receipt_check:
        return Level("local", "not_checked", "no receipt or earlier stamp of this file to compare with",
                     PROVES["local"])
    source = str(receipt_check.get("source") or "")
    where = (f"its stamp in this history (entry {source.split(':', 1)[1]})" if source.startswith("history:")
             else f"its receipt {os.path.basename(source)}")
    if receipt_check.get("status") == "match":
        return Level("local", "pass", f"the file matches {where}", PROVES["local"], {"source": source})
    changed = receipt_check.get("changed") or []
    ranges = ", ".join(f"{o}-{o + n - 1}" for o, n in changed) or "(the size differs)"
    return Level("local", "fail", f"changed since {where} was made: bytes {ranges}", PROVES["local"],
                 {"source": receipt_check.get("source"), "changed": changed})


def service_level(outcome: str | None, records: Iterable[Any] = (), *, error: str | None = None,
                  not_asked: str = "not asked") -> Level:
    if error:
        return Level("service", "unavailable", error, PROVES["service"])
    if outcome is None:
        return Level("service", "not_checked", not_asked, PROVES["service"])
    records = list(records)
    if records and outcome in ("full match", "found", "confirmed"):
        newest = max(records, key=lambda r: getattr(r, "block_number", None) or 0)
        number = getattr(newest, "block_number", None)
        return Level("service", "pass", f"lists {count_noun(len(records), 'on-chain record')}, newest in block "
                     + (f"{number:,}" if number is not None else "?"), PROVES["service"])
    return Level("service", "fail", f"lists no on-chain record ({outcome})", PROVES["service"])


@dataclass(frozen=True)
class NodeVerdict:
    status: str                      # confirmed | pending | pruned | not_found | unavailable
    stamps: tuple[NodeStamp, ...] = ()
    message: str = ""
    error_kind: str | None = None

    @property
    def best(self) -> NodeStamp | None:
        on_chain = [s for s in self.stamps if s.on_chain]
        return min(on_chain, key=lambda s: s.block or 0) if on_chain else None

    def level(self, digest: str) -> Level:
        best = self.best
        if self.status == "confirmed" and best is not None:
            return Level("node", "pass",
                         f"holds the transaction in block {_n(best.block)}, "
                         f"{count_noun(best.confirmations, 'confirmation')} deep; state port 99 = {digest[:16]}…", PROVES["node"],
                         best.to_dict())
        if self.status in ("pruned", "unavailable"):
            return Level("node", "unavailable", self.message, PROVES["node"])
        return Level("node", "fail", self.message, PROVES["node"])


def check_on_node(node: MinimaNode, digest: str, *, expected_blocks: Iterable[int] = (),
                  candidates: list[TxPoW] | StampListing | None = None) -> NodeVerdict:
    """Is ``digest`` stamped on the node's chain? ``expected_blocks``: blocks a receipt, the history
    or the service named (a block the node no longer holds is pruned, not "not on chain")."""
    try:
        stamps = node.find_stamps(digest, candidates=candidates)
        on_chain = [s for s in stamps if s.on_chain]
        if on_chain:
            best = min(on_chain, key=lambda s: s.block or 0)
            return NodeVerdict("confirmed", tuple(stamps),
                               f"in block {best.block}, {count_noun(best.confirmations, 'confirmation')}")
        if stamps:
            return NodeVerdict("pending", tuple(stamps), "seen by your node, not in a block yet")
        status = node.ensure_current()
        for block in sorted(set(b for b in expected_blocks if b is not None)):
            if block <= status.block and not node.holds_block(block):
                return NodeVerdict("pruned", message=f"block {block:,} is {PRUNED}")
        return NodeVerdict("not_found", message="your node's chain holds no stamp of this hash "
                                                "(it looked in every block it keeps)")
    except NodeError as exc:
        return NodeVerdict("unavailable", message=exc.message, error_kind=exc.kind)


def levels_for_job(history: Any, job: Any) -> tuple[Level, ...]:
    """The three levels of a stamp or verification in the history (what the window shows)."""
    from integritas_gui.core.node_evidence import evidence_for, journal_entry, last_check

    if job.kind not in ("stamp", "verify") or not job.sha3_256:
        return ()
    if job.kind == "verify":
        local = local_level(job.receipt_check)
    else:
        local = Level("local", "pass" if job.sha3_256 else "not_checked",
                      "the receipt holds this file's hashes as stamped", PROVES["local"])
    through_node = job.kind == "stamp" and journal_entry(history, job.id) is not None
    if through_node:
        service = service_level(None, not_asked="not asked: stamped through your own node")
    elif job.kind == "verify" and job.state == "done":
        service = service_level(job.outcome, job.records)
    elif job.records:
        service = service_level("confirmed", job.records)
    else:
        service = service_level(None, not_asked="no answer yet")
    evidence = evidence_for(history, job.sha3_256)
    if evidence:
        first = evidence[0]
        node = Level("node", "pass", f"held the transaction in block {_n(first['block_number'])}, "
                     f"{count_noun(first['confirmations'], 'confirmation')} deep when asked; state port 99 = this hash",
                     PROVES["node"], first)
    elif (check := last_check(history, job.sha3_256)) is not None:
        status = {"not_found": "fail", "pending": "fail"}.get(check["status"], "unavailable")
        node = Level("node", status, check["message"] or check["status"], PROVES["node"])
    else:
        node = Level("node", "not_checked", "not asked (choose your node in Settings, or "
                     "`integritas verify --node URL`)", PROVES["node"])
    return (local, service, node)
