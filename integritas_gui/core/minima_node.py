"""A client for the RPC of the user's own Minima node (no Qt).

One command is one HTTP request: ``GET http://127.0.0.1:9005/<command line, URL-encoded>``. Every
answer is a JSON envelope ``{"command", "params", "status", "pending", "response" | "error"}``.
Numbers arrive as strings and are parsed here; ids and hashes are ``0x`` + upper-case hex and are
compared case-insensitively. Every failure is one ``NodeError`` with a ``kind`` and a plain message.

The traps (written down from a real node): the id ``send`` returns is the TxPoW before it is mined
(the mined one has another id, so a stamp is found by address and state); on the live network the
stamp's transaction TxPoW is listed in a block's ``txnlist`` (two ids), on a private chain it is
often the block itself (one id); a normal node prunes old blocks ("TxPoW not found").
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from integritas_gui.core.errors import IntegritasError
from integritas_gui.core.logsetup import register_secret
from integritas_gui.core.settings import DEFAULT_NODE_CONFIRMATIONS as DEFAULT_CONFIRMATIONS
from integritas_gui.core.settings import DEFAULT_NODE_URL

log = logging.getLogger(__name__)

NODE_USER = "minima"
# The address the Integritas service stamps to, and the state port that holds the hash.
INTEGRITAS_ADDRESS = "0x29F774D99AE3E3494EE4A69F3A11A8248362506A9B9BC526F8C98AB6DECA68F5"
STAMP_AMOUNT = "0.000000000000001"
STATE_PORT = 99
BEHIND_AFTER = 600.0  # a tip older than this (12 blocks of 50 s) means the node is behind or syncing
MAX_SPLIT = 20


class NodeError(IntegritasError):
    """The node could not be asked, or refused. ``kind`` is one of: ``not_running``, ``not_minima``,
    ``auth``, ``locked``, ``no_coins``, ``syncing``, ``timeout``, ``bad_url``, ``refused``."""

    def __init__(self, kind: str, message: str, node_error: str | None = None):
        super().__init__(message)
        self.kind = kind
        self.node_error = node_error


# ---- typed answers ------------------------------------------------------------------------------
def _int(value: Any) -> int | None:
    try:
        return int(str(value).strip()) if value is not None and str(value).strip() != "" else None
    except ValueError:
        return None


def _dec(value: Any) -> Decimal:
    try:
        return Decimal(str(value)) if value is not None else Decimal(0)
    except InvalidOperation:
        return Decimal(0)


def _bool(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def same_hex(a: str | None, b: str | None) -> bool:
    if not a or not b:
        return False
    return a.lower().removeprefix("0x") == b.lower().removeprefix("0x")


def iso_from_millis(millis: int | None) -> str | None:
    if millis is None:
        return None
    moment = datetime.fromtimestamp(millis / 1000, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass(frozen=True)
class NodeStatus:
    block: int
    version: str | None
    locked: bool
    chain_time: str | None
    raw: dict = field(repr=False, default_factory=dict)


@dataclass(frozen=True)
class StateEntry:
    port: int
    data: str
    type: int | None = None


def _states(entries: Any) -> tuple[StateEntry, ...]:
    """A TxPoW's or coin's ``state`` array: ``[{"port": 99, "type": 1, "data": "0x..."}]``."""
    return tuple(StateEntry(_int(e.get("port")) or 0, str(e.get("data", "")), _int(e.get("type")))
                 for e in (entries if isinstance(entries, list) else []) if isinstance(e, dict))


@dataclass(frozen=True)
class TxPoW:
    txpowid: str
    is_block: bool
    is_transaction: bool
    block: int | None
    timemilli: int | None
    date: str | None
    state: tuple[StateEntry, ...]
    txnlist: tuple[str, ...]
    raw: dict = field(repr=False, default_factory=dict)

    @classmethod
    def parse(cls, data: Any) -> "TxPoW":
        if not isinstance(data, dict) or not data.get("txpowid"):
            raise NodeError("not_minima", "The node answered with something that is not a TxPoW.")
        header = data.get("header") or {}
        body = data.get("body") or {}
        txn = body.get("txn") or {}
        state = _states(txn.get("state"))
        return cls(str(data["txpowid"]), _bool(data.get("isblock")), _bool(data.get("istransaction")),
                   _int(header.get("block")), _int(header.get("timemilli")), header.get("date"),
                   state, tuple(str(t) for t in (body.get("txnlist") or [])), data)

    def state_value(self, port: int = STATE_PORT) -> str | None:
        for entry in self.state:
            if entry.port == port:
                return entry.data
        return None

    @property
    def iso_date(self) -> str | None:
        return iso_from_millis(self.timemilli)


@dataclass(frozen=True)
class OnChain:
    found: bool
    block: int | None = None
    block_id: str | None = None
    tip: int | None = None
    confirmations: int | None = None


@dataclass(frozen=True)
class Coin:
    coinid: str
    address: str
    amount: Decimal
    tokenid: str
    created: int | None
    state: tuple[StateEntry, ...]


@dataclass(frozen=True)
class Balance:
    tokenid: str
    confirmed: Decimal
    unconfirmed: Decimal
    sendable: Decimal
    coins: int


@dataclass(frozen=True)
class SendResult:
    txpowid: str  # the TxPoW before it was mined: NOT the id it has on chain
    block: int | None
    raw: dict = field(repr=False, default_factory=dict)


@dataclass(frozen=True)
class NodeStamp:
    """A stamp of ``hash`` as the node holds it: the transaction and the block it is in."""

    hash: str
    transaction_id: str        # the TxPoW whose state port 99 holds the hash
    txpow_id: str | None       # the block TxPoW holding it (the same id on a private chain)
    block: int | None
    block_date: str | None     # ISO-8601 UTC
    confirmations: int | None
    tip: int | None
    on_chain: bool             # False: seen by the node but not in a block yet (mempool)

    def to_dict(self) -> dict:
        return {"hash": self.hash, "transaction_id": self.transaction_id, "txpow_id": self.txpow_id,
                "block": self.block, "block_date": self.block_date,
                "confirmations": self.confirmations, "tip": self.tip, "state_port": STATE_PORT,
                "on_chain": self.on_chain}


class StampListing:
    """The TxPoWs paying the Integritas address, indexed by their state port 99 (lower-case hex
    without 0x), so a batch of files is looked up in one pass over the node's answer."""

    def __init__(self, txpows: list[TxPoW]):
        self.txpows = txpows
        self.by_state: dict[str, list[TxPoW]] = {}
        self.bare_blocks: list[TxPoW] = []  # blocks without a state of their own but with a txnlist
        for txpow in txpows:
            value = txpow.state_value()
            if value is not None:
                self.by_state.setdefault(value.lower().removeprefix("0x"), []).append(txpow)
            elif txpow.is_block and txpow.txnlist:
                self.bare_blocks.append(txpow)

    def resolve(self, node: "MinimaNode") -> None:
        """Fetch, once, the transactions that listed blocks carry in their txnlist, and index them."""
        while self.bare_blocks:
            block = self.bare_blocks.pop()
            for txn_id in block.txnlist:
                inner = node.txpow(txn_id)
                value = inner.state_value() if inner is not None else None
                if value is not None:
                    self.by_state.setdefault(value.lower().removeprefix("0x"), []).append(inner)

    def __len__(self) -> int:
        return len(self.txpows)


# ---- the client ---------------------------------------------------------------------------------
def _classify_refusal(command: str, error: str) -> NodeError:
    text = error.lower()
    if "no coins" in text or "insufficient" in text:
        return NodeError("no_coins", "Your node has no spendable Minima coins right now "
                         f"(it said: {error}). Add coins, or wait one block (about 50 s) for the "
                         "change of the last send to be confirmed.", error)
    if "not locked" in text:
        return NodeError("refused", "Your node's wallet is not locked: leave the wallet password empty "
                         f"(it said: {error}).", error)
    if "locked" in text or "password" in text:
        return NodeError("locked", "Your node's wallet is locked with a password: give the wallet "
                         "password (it unlocks this send only).", error)
    return NodeError("refused", f"Your node refused `{command}`: {error}", error)


class MinimaNode:
    """RPC to one node. Thread-safe (one httpx client, which pools connections)."""

    def __init__(self, url: str = DEFAULT_NODE_URL, password: str | None = None, *,
                 timeout: float = 15.0, send_timeout: float = 180.0,
                 behind_after: float = BEHIND_AFTER, transport: httpx.BaseTransport | None = None):
        url = (url or DEFAULT_NODE_URL).strip().rstrip("/")
        if "://" not in url:
            url = "http://" + url
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise NodeError("bad_url", f"“{url}” is not a node address: give one like {DEFAULT_NODE_URL}.")
        self.url = url
        self.timeout = timeout
        self.send_timeout = send_timeout
        self.behind_after = behind_after
        register_secret(password)
        auth = httpx.BasicAuth(NODE_USER, password) if password else None
        self._http = httpx.Client(auth=auth, timeout=timeout, transport=transport, trust_env=False)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "MinimaNode":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- one command ---------------------------------------------------------------------------
    def command(self, line: str, *, timeout: float | None = None, allow_error: bool = False,
                secret: bool = False) -> Any:
        """Run one command line; its ``response``. With ``allow_error`` a refusal returns the
        node's error sentence as a ``str`` instead of raising. A ``secret`` line (a wallet password)
        goes in a POST body, never in a URL."""
        name = line.split(" ", 1)[0]
        try:
            if secret:
                answer = self._http.post(self.url + "/", content=line.encode(), timeout=timeout or self.timeout)
            else:
                answer = self._http.get(self.url + "/" + quote(line, safe=""), timeout=timeout or self.timeout)
        except httpx.TimeoutException:
            raise NodeError("timeout", f"Your Minima node at {self.url} did not answer `{name}` within "
                            f"{timeout or self.timeout:.0f} s; it may be busy or syncing. Try again.") from None
        except httpx.ConnectError:
            raise NodeError("not_running", f"Nothing answers at {self.url}: is your Minima node running, "
                            "with RPC turned on (-rpcenable)?") from None
        except httpx.HTTPError as exc:
            raise NodeError("not_running", f"Your Minima node at {self.url} could not be reached "
                            f"({type(exc).__name__}); check the address and that the node runs.") from None
        if answer.status_code == 401:
            raise NodeError("auth", f"Your Minima node at {self.url} refused the RPC password (HTTP 401): "
                            "give the password the node was started with (-rpcpassword).")
        try:
            envelope = answer.json()
        except ValueError:
            envelope = None
        if not isinstance(envelope, dict) or not isinstance(envelope.get("status"), bool) \
                or "command" not in envelope:
            raise NodeError("not_minima", f"{self.url} answered (HTTP {answer.status_code}), but not as a "
                            "Minima node's RPC: check the address and port (RPC is on 9005 unless -rpc "
                            "moved it; it must be turned on with -rpcenable).")
        if envelope.get("status") is True:
            return envelope.get("response")
        error = str(envelope.get("error") or envelope.get("message") or "no reason given")
        if allow_error:
            return error
        raise _classify_refusal(name, error)

    # -- typed commands ------------------------------------------------------------------------
    def status(self) -> NodeStatus:
        response = self.command("status")
        if not isinstance(response, dict) or not isinstance(response.get("chain"), dict):
            raise NodeError("not_minima", f"{self.url} answered `status` without a chain: is it a Minima node?")
        chain = response["chain"]
        block = _int(chain.get("block"))
        if block is None:
            raise NodeError("not_minima", f"{self.url} answered `status` without a block height.")
        return NodeStatus(block, response.get("version"), _bool(response.get("locked")),
                          chain.get("time"), response)

    def txpow(self, txpowid: str) -> TxPoW | None:
        """One TxPoW by id; None when this node does not hold it (never mined, or pruned)."""
        response = self.command(f"txpow txpowid:{txpowid}", allow_error=True)
        return None if isinstance(response, str) else TxPoW.parse(response)

    def block(self, number: int) -> TxPoW | None:
        """The block TxPoW at this height of the node's chain; None when pruned or beyond the tip."""
        response = self.command(f"txpow block:{int(number)}", allow_error=True)
        return None if isinstance(response, str) else TxPoW.parse(response)

    def txpows_at(self, address: str = INTEGRITAS_ADDRESS) -> list[TxPoW]:
        """The TxPoWs of the node's unpruned chain that pay ``address``."""
        response = self.command(f"txpow address:{address}", timeout=max(self.timeout, 60))
        if not isinstance(response, list):
            raise NodeError("not_minima", "The node answered `txpow address:` without a list.")
        return [TxPoW.parse(item) for item in response]

    def onchain(self, txpowid: str) -> OnChain:
        response = self.command(f"txpow onchain:{txpowid}", allow_error=True)
        if not isinstance(response, dict) or not _bool(response.get("found")):
            return OnChain(False)
        return OnChain(True, _int(response.get("block")), response.get("blockid"),
                       _int(response.get("tip")), _int(response.get("confirmations")))

    def coins(self, address: str | None = None, *, relevant: bool = False) -> list[Coin]:
        line = "coins" + (f" address:{address}" if address else "") + (" relevant:true" if relevant else "")
        response = self.command(line)
        coins = []
        for item in response if isinstance(response, list) else []:
            coins.append(Coin(str(item.get("coinid", "")), str(item.get("address", "")),
                              _dec(item.get("amount")), str(item.get("tokenid", "0x00")),
                              _int(item.get("created")), _states(item.get("state"))))
        return coins

    def balance(self, tokenid: str = "0x00") -> Balance:
        response = self.command("balance")
        for item in response if isinstance(response, list) else []:
            if str(item.get("tokenid")) == tokenid:
                return Balance(tokenid, _dec(item.get("confirmed")), _dec(item.get("unconfirmed")),
                               _dec(item.get("sendable")), _int(item.get("coins")) or 0)
        return Balance(tokenid, Decimal(0), Decimal(0), Decimal(0), 0)

    def getaddress(self) -> str:
        response = self.command("getaddress")
        address = response.get("address") if isinstance(response, dict) else None
        if not address:
            raise NodeError("not_minima", "The node answered `getaddress` without an address.")
        return str(address)

    def send(self, address: str, amount: str, *, state: dict[int, str] | None = None,
             split: int | None = None, password: str | None = None) -> SendResult:
        """Send (the node mines the TxPoW before it answers, about a second). The returned id is
        the unmined TxPoW's: find the mined one by address and state."""
        line = f"send address:{address} amount:{amount}"
        if state:
            line += " state:" + json.dumps({str(k): v for k, v in state.items()}, separators=(",", ":"))
        if split:
            line += f" split:{max(1, min(MAX_SPLIT, int(split)))}"
        if password:
            register_secret(password)
            line += f" password:{password}"
        response = self.command(line, timeout=self.send_timeout, secret=bool(password))
        if not isinstance(response, dict) or not response.get("txpowid"):
            raise NodeError("not_minima", "The node answered `send` without a TxPoW id.")
        return SendResult(str(response["txpowid"]), _int((response.get("header") or {}).get("block")), response)

    # -- stamps --------------------------------------------------------------------------------
    def tip_age(self, tip: int) -> float | None:
        """Seconds since the tip block was made (None when the node does not say)."""
        block = self.block(tip)
        if block is None or block.timemilli is None:
            return None
        return time.time() - block.timemilli / 1000

    def ensure_current(self) -> NodeStatus:
        """The node's status; NodeError("syncing") when its tip is too old to be trusted."""
        status = self.status()
        age = self.tip_age(status.block)
        if age is not None and age > self.behind_after:
            raise NodeError("syncing", f"Your Minima node is behind: its newest block ({status.block}) is "
                            f"{age / 60:.0f} min old. Let it catch up (it may be syncing), then try again.")
        return status

    def find_stamps(self, digest: str, *, candidates: "list[TxPoW] | StampListing | None" = None
                    ) -> list[NodeStamp]:
        """Every stamp of the 64-hex ``digest`` the node's unpruned chain (or mempool) holds, found by
        the Integritas address and state port 99, followed to its block. Oldest block first."""
        wanted = digest.lower().removeprefix("0x")
        listing = candidates if isinstance(candidates, StampListing) else StampListing(
            candidates if candidates is not None else self.txpows_at(INTEGRITAS_ADDRESS))
        listing.resolve(self)
        found: dict[str, TxPoW] = {}
        for txpow in listing.by_state.get(wanted, ()):
            found.setdefault(txpow.txpowid.upper(), txpow)
        stamps = [self.follow(digest, txpow) for txpow in found.values()]
        return sorted(stamps, key=lambda s: (not s.on_chain, s.block or 0))

    def follow(self, digest: str, txpow: TxPoW) -> NodeStamp:
        """Follow a stamp's transaction TxPoW to the block that holds it."""
        where = self.onchain(txpow.txpowid)
        if not where.found:
            return NodeStamp(digest.lower(), txpow.txpowid, None, None, None, 0, None, False)
        date = txpow.iso_date if where.block_id and same_hex(where.block_id, txpow.txpowid) else None
        if date is None and where.block is not None:
            block = self.block(where.block)
            date = block.iso_date if block is not None else None
        confirmations = where.confirmations
        if confirmations is None and where.tip is not None and where.block is not None:
            confirmations = where.tip - where.block
        return NodeStamp(digest.lower(), txpow.txpowid, where.block_id, where.block, date,
                         confirmations, where.tip, True)

    def holds_block(self, number: int) -> bool:
        return self.block(number) is not None
