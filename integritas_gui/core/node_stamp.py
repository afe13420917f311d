"""Stamping through the user's own Minima node: a stand-in for ``IntegritasClient`` that the Engine
calls for its submit and follow steps (``stamp``, ``check``, ``verify``), so the engine's queue,
progress, cancel and crash-resume work unchanged. No API key and no plan limit are involved.

A stamp is a ``send`` of the dust amount to the Integritas address with the hash in state port 99.
Before each send (inside the send lock, so only the send going out has one) the job's "about to
send" entry is committed to the history; a resumed job whose entry exists looks the hash up on the
node first and sends only when the node has no such stamp made since. A send the app died during may
still be mining at the node, so the lookup keeps looking until ``send_settle`` seconds after the
entry and one block more before it decides the send never went out. The id ``send`` answers is the unmined TxPoW's: the stamp is then found by address and
state and followed to ``confirmations`` blocks deep.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from datetime import datetime, timezone
from decimal import ROUND_DOWN, Decimal
from typing import Any, Callable
from urllib.parse import urlsplit

from integritas_gui.core.display import count_noun
from integritas_gui.core import node_evidence
from integritas_gui.core.client import ChainRecord, CheckResult, ServiceError, StampResult, VerifyResult
from integritas_gui.core.history import History
from integritas_gui.core.minima_node import (
    DEFAULT_CONFIRMATIONS, INTEGRITAS_ADDRESS, MAX_SPLIT, STAMP_AMOUNT, STATE_PORT, MinimaNode, NodeError,
    NodeStamp, StampListing,
)
from integritas_gui.core.node_progress import SendEstimator

log = logging.getLogger(__name__)

MAX_COINS = 40  # a node sends about one stamp a second and a block comes every 50 s
SEND_SETTLE = 60.0  # a send mines for about 1.2 s; a send cut off by a crash has landed by then
_KINDS = {"auth": "auth", "locked": "auth", "not_running": "network", "timeout": "timeout",
          "not_minima": "malformed", "syncing": "unavailable", "no_coins": "bad_request",
          "refused": "bad_request", "bad_url": "bad_request"}


def as_service_error(exc: NodeError) -> ServiceError:
    return ServiceError(_KINDS.get(exc.kind, "unavailable"), exc.message)


class NodeStampClient:
    concurrency = 2  # one send at a time (the node mines each); the other worker follows stamps
    journals_sends = True  # stamp() itself finds a send that was interrupted (the send journal)

    def __init__(self, node: MinimaNode, history: History, *, confirmations: int = DEFAULT_CONFIRMATIONS,
                 wallet_password: str | None = None, block_wait: float = 180.0, listing_ttl: float = 1.0,
                 send_settle: float = SEND_SETTLE):
        self.node = node
        self.history = history
        self.confirmations = max(0, int(confirmations))
        self.wallet_password = wallet_password
        self.block_wait = block_wait
        self.listing_ttl = listing_ttl
        self.send_settle = max(0.0, float(send_settle))
        self.sent = 0
        self.resumed_without_send = 0
        self._send_lock = threading.Lock()
        self._listing_lock = threading.Lock()
        self._listing: tuple[float, StampListing] | None = None
        self._status_checked = 0.0
        self._closing = threading.Event()
        self._node_version: str | None = None
        self.send_seconds: list[float] = []  # how long each send took (the node mines it first)
        self.progress = SendEstimator()  # the batch's stamps: sends left and time left (``begin_batch``)

    @property
    def base_url(self) -> str:
        return self.node.url

    @property
    def is_loopback(self) -> bool:
        return (urlsplit(self.node.url).hostname or "") in ("127.0.0.1", "localhost", "::1")

    def stop(self) -> None:
        """Waits for a block end at once (quitting, Ctrl-C); the client stays usable for reads."""
        self._closing.set()

    def close(self) -> None:
        self.stop()
        self.node.close()

    # ---- what the node holds ------------------------------------------------------------------
    def _candidates(self) -> StampListing:
        """The node's TxPoWs to the Integritas address, shared by the polls of one moment."""
        with self._listing_lock:
            now = time.monotonic()
            if self._listing is None or now - self._listing[0] > self.listing_ttl:
                self._listing = (now, StampListing(self.node.txpows_at(INTEGRITAS_ADDRESS)))
            return self._listing[1]

    def _forget_listing(self) -> None:
        with self._listing_lock:
            self._listing = None

    def _job(self, sha3: str, states: tuple[str, ...]) -> Any:
        for job in self.history.stamps_of_hash(sha3):
            if job.state in states and job.base_url == self.node.url:
                return job
        return None

    def stamps_since(self, sha3: str, tip_before: int | None) -> list[NodeStamp]:
        """This hash's stamps the node holds that were made after block ``tip_before``."""
        stamps = self.node.find_stamps(sha3, candidates=self._candidates())
        floor = -1 if tip_before is None else tip_before
        return [s for s in stamps if not s.on_chain or (s.block or 0) > floor]

    def _tip_before(self, sha3: str) -> int | None:
        job = self._job(sha3, ("pending", "submitting", "confirmed"))
        entry = node_evidence.journal_entry(self.history, job.id) if job else None
        return entry["tip_before"] if entry else None

    # ---- the engine's three calls --------------------------------------------------------------
    def stamp(self, sha3: str) -> StampResult:
        try:
            job = self._job(sha3, ("submitting",))
            entry = node_evidence.journal_entry(self.history, job.id) if job else None
            if entry is not None:  # an earlier attempt may have sent it: never send twice
                if self._sent_earlier(sha3, entry):
                    self.resumed_without_send += 1
                    return StampResult(sha3, True, None, entry.get("unmined_id"),
                                       "Already sent from your Minima node; following it.",
                                       {"node": {"url": self.node.url, "resumed": True}})

            def journal() -> None:
                tip = self._current().block
                if job is not None:
                    node_evidence.journal_before_send(self.history, job.id, sha3, self.node.url, tip)

            sent = self._send(INTEGRITAS_ADDRESS, STAMP_AMOUNT, state={STATE_PORT: "0x" + sha3.upper()},
                              before=journal)
            if job is not None:
                node_evidence.journal_sent(self.history, job.id, sent.txpowid)
            self.sent += 1
            return StampResult(sha3, True, None, sent.txpowid,
                               f"Sent from your Minima node in TxPoW {sent.txpowid} (its id before mining); "
                               "following it by address and state port 99.",
                               {"node": {"url": self.node.url, "unmined_txpowid": sent.txpowid,
                                         "tip": sent.block}})
        except NodeError as exc:
            raise as_service_error(exc) from None

    def _sent_earlier(self, sha3: str, entry: dict) -> bool:
        """Whether the node holds the stamp an earlier attempt journalled. A send the app died during
        may still be mining at the node: not found, it is looked for again until ``send_settle``
        seconds after the entry, then once more after one further block."""
        settled_at = _epoch(entry.get("at")) + self.send_settle
        block_waited = False
        while True:
            self._forget_listing()
            if self.stamps_since(sha3, entry["tip_before"]):
                return True
            if block_waited:
                return False
            remaining = settled_at - time.time()
            if remaining > 0 and not self._closing.is_set():
                time.sleep(min(remaining, 0.05 if self.is_loopback else 1.0))
                continue
            self.wait_for_block()  # raises when stopping: nothing is sent then
            block_waited = True

    def check(self, sha3: str) -> CheckResult:
        try:
            stamps = [s for s in self.stamps_since(sha3, self._tip_before(sha3)) if s.on_chain]
        except NodeError as exc:
            raise as_service_error(exc) from None
        deep = [s for s in stamps if (s.confirmations or 0) >= self.confirmations]
        if deep:
            return CheckResult(sha3, "found", f"In block {deep[0].block} on your node, "
                               f"{count_noun(deep[0].confirmations, 'confirmation')}.", {})
        return CheckResult(sha3, "not_found", "Not yet confirmed on your node.", {})

    def verify(self, sha3: str, **_: Any) -> VerifyResult:
        try:
            stamps = [s for s in self.stamps_since(sha3, self._tip_before(sha3)) if s.on_chain]
        except NodeError as exc:
            raise as_service_error(exc) from None
        version = self._version()
        for stamp in stamps:
            node_evidence.save_evidence(self.history, self.node.url, stamp, version)
        records = tuple(ChainRecord(s.block, s.block_date, s.txpow_id, s.transaction_id, sha3) for s in stamps)
        return VerifyResult(sha3, "full match" if records else "no match", records, (), None, None, None, None,
                            "Confirmed on your Minima node." if records else "Not on your node.", {})

    def download_report(self, *args: Any, **kwargs: Any) -> Any:
        raise ServiceError("report", "Reports come from the Integritas service, not from your node.")

    def _version(self) -> str | None:
        if self._node_version is None:
            try:
                self._node_version = self.node.status().version or ""
            except NodeError:
                return None
        return self._node_version or None

    # ---- sending ------------------------------------------------------------------------------
    def _current(self):
        """The node's status; checks it is not behind at most every 30 s."""
        if time.monotonic() - self._status_checked > 30:
            status = self.node.ensure_current()
            self._status_checked = time.monotonic()
            return status
        return self.node.status()

    def _send(self, address: str, amount: str, *, state: dict | None = None, split: int | None = None,
              before: Callable[[], None] | None = None):
        """One send; when only unconfirmed change is left, wait for the next block and send then.
        ``before`` runs just before each try, under the send lock (the journal entry)."""
        with self._send_lock:
            deadline = time.monotonic() + self.block_wait
            sent_again_at_once = False
            while True:
                try:
                    if before is not None:
                        before()
                    started = time.monotonic()
                    result = self.node.send(address, amount, state=state, split=split,
                                            password=self.wallet_password)
                    self.send_seconds.append(time.monotonic() - started)
                    if state is not None:  # a stamp (not a split of the coins)
                        self.progress.sent(self.send_seconds[-1])
                    self._forget_listing()
                    return result
                except NodeError as exc:
                    if exc.kind != "no_coins" or time.monotonic() > deadline or self._closing.is_set():
                        raise
                    balance = self.node.balance()
                    if balance.sendable > 0 and not sent_again_at_once:
                        sent_again_at_once = True  # a block since the refusal made a coin spendable
                        continue
                    sent_again_at_once = False
                    if balance.unconfirmed <= 0 and balance.confirmed <= balance.sendable:
                        raise  # no coin will become spendable by waiting

                    self.progress.coins_ran_out()
                    self.progress.block_wait_started()
                    self.wait_for_block(deadline)
                    self.progress.block_arrived()

    def begin_batch(self, count: int, coins: int | None) -> None:
        """``count`` stamps are about to go out with ``coins`` coins spendable per block (``prepare``)."""
        self.progress.begin(count, coins)

    def estimate(self, count: int, coins: int, block_time: float = 50.0) -> float:
        """Seconds to send ``count`` stamps: one at a time, at most ``coins`` per block."""
        per_send = sum(self.send_seconds) / len(self.send_seconds) if self.send_seconds else 1.2
        by_sends = count * per_send
        by_coins = math.ceil(count / max(1, coins)) * block_time if count > coins else 0.0
        return max(by_sends, by_coins)

    def wait_for_block(self, deadline: float | None = None) -> int:
        """Wait until the node's tip moves on (a new block confirms the change)."""
        start = self.node.status().block
        deadline = deadline or time.monotonic() + self.block_wait
        while time.monotonic() < deadline and not self._closing.is_set():
            time.sleep(0.05 if self.is_loopback else 1.0)
            tip = self.node.status().block
            if tip > start:
                return tip
        raise NodeError("syncing", "Your Minima node made no new block for "
                        f"{self.block_wait:.0f} s; is it connected to the network?")

    def prepare(self, count: int, *, progress: Callable[[str], None] | None = None) -> int:
        """Split the wallet's coins so that up to ``count`` stamps (at most MAX_COINS) go out in one
        block: each confirmed coin pays one stamp per block. Returns the coins ready."""
        target = min(max(0, count), MAX_COINS)
        try:
            coins = [c for c in self.node.coins(relevant=True) if c.amount > Decimal(STAMP_AMOUNT)]
            if target <= 1 or len(coins) >= target:
                return len(coins)
            sendable = self.node.balance().sendable
            if sendable <= 0:
                raise NodeError("no_coins", "Your node has no confirmed Minima coins to pay for stamps: "
                                "add some (any amount; each stamp costs 0.000000000000001).")
            sends = math.ceil((target - len(coins)) / MAX_SPLIT)
            part = (sendable / (sends + 1)).quantize(Decimal("0.00000001"), rounding=ROUND_DOWN)
            own = self.node.getaddress()
            for index in range(sends):
                if progress:
                    progress(f"Splitting your node's coins for {target} stamps per block "
                             f"({index + 1}/{sends})…")
                self._send(own, format(part, "f"), split=MAX_SPLIT)
            if progress:
                progress("Waiting one block for the new coins to be confirmed…")
            self.wait_for_block()
            return len(self.node.coins(relevant=True))
        except NodeError as exc:
            raise as_service_error(exc) from None


def _epoch(stamp: str | None) -> float:
    """Seconds since the epoch of a history time (``utc_now``); 0 when missing or unreadable."""
    try:
        return datetime.strptime(stamp or "", "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc).timestamp()
    except ValueError:
        return 0.0


class StampRouter:
    """The engine's client when the user has a node: with ``stamp_with_node`` stamps go out from the
    node, and the node follows them; checks, verifications and reports ask the service, and each
    verification asks the node too (the "your node" level)."""

    def __init__(self, service: Any, node: NodeStampClient, *, stamp_with_node: bool = True):
        self.service = service
        self.node = node
        self.stamp_with_node = stamp_with_node

    @property
    def base_url(self) -> str:
        # recorded with each job queued: the stamps of this engine go out from the node
        return self.node.base_url if self.stamp_with_node else self.service.base_url

    @property
    def concurrency(self) -> int:
        return getattr(self.service, "concurrency", 8)

    @property
    def journals_sends(self) -> bool:
        return self.stamp_with_node

    @property
    def is_loopback(self) -> bool:
        return self.node.is_loopback and getattr(self.service, "is_loopback", True)

    def _followed_by_node(self, sha3: str) -> bool:
        return self.node._job(sha3, ("pending", "submitting")) is not None

    def stamp(self, sha3: str) -> StampResult:
        return (self.node if self.stamp_with_node else self.service).stamp(sha3)

    def check(self, sha3: str) -> CheckResult:
        return (self.node if self._followed_by_node(sha3) else self.service).check(sha3)

    def verify(self, sha3: str, **options: Any) -> VerifyResult:
        if self._followed_by_node(sha3):
            return self.node.verify(sha3)
        result = self.service.verify(sha3, **options)
        if options:  # a verification the user asked for (the follow step of a stamp passes none)
            self.check_on_node(sha3)
        return result

    def check_on_node(self, sha3: str) -> None:
        """Ask the node too, and keep its answer (the window's "your node" level)."""
        from integritas_gui.core.node_verify import check_on_node

        try:
            candidates = self.node._candidates()  # one listing serves a whole batch of verifications
        except NodeError:
            candidates = None
        verdict = check_on_node(self.node.node, sha3, candidates=candidates)
        version = self.node._version()
        for stamp in verdict.stamps:
            if stamp.on_chain:
                node_evidence.save_evidence(self.node.history, self.node.base_url, stamp, version)
        node_evidence.save_check(self.node.history, self.node.base_url, sha3, verdict.status, verdict.message)

    def download_report(self, *args: Any, **kwargs: Any) -> Any:
        return self.service.download_report(*args, **kwargs)

    def close(self) -> None:
        self.node.close()
        self.service.close()
