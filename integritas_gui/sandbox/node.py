"""A simulated Minima node: the RPC of a real node (see core/minima_node.py) over loopback HTTP, on
the sandbox's ledger, so a stamp made through the simulated service is on this node's chain and a
stamp this node sends is found by the service.

It keeps the real node's behaviours: ``send`` answers with the id of the TxPoW before it is mined
(the mined one has another id), takes a while (``send_time``: the node mines the proof of work before
it answers), and leaves the wallet's change unspendable until the next block ("No Coins of
tokenid:0x00 available!"); ``split:N`` makes N coins; blocks older than ``keep_blocks`` are pruned
("TxPoW not found") unless the node is an archive node (``keep_blocks=None``); an RPC password
(HTTP Basic auth, user ``minima``); a wallet locked with a password; a node lagging behind.

``shape``: "private" (a single-node chain: the first stamp of a block is the block TxPoW itself, one
id) or "live" (the stamp's transaction TxPoW is listed in its block's ``txnlist``, two ids).
NOTHING here is on a real blockchain.
"""

from __future__ import annotations

import base64
import hmac
import json
import logging
import re
import secrets
import threading
import time
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

from integritas_gui.core.minima_node import INTEGRITAS_ADDRESS, STATE_PORT, same_hex
from integritas_gui.sandbox.ledger import Ledger, random_id

log = logging.getLogger(__name__)

NO_COINS = "No Coins of tokenid:0x00 available!"
_PARAM = re.compile(r'(\w+):(\{[^}]*\}|\[[^\]]*\]|"[^"]*"|\S+)')


def java_date(timestamp: float) -> str:
    """Minima's ``header.date`` style (Java's Date.toString in UTC)."""
    return time.strftime("%a %b %d %H:%M:%S UTC %Y", time.gmtime(timestamp))


def parse_command(line: str) -> tuple[str, dict[str, str]]:
    line = line.strip()
    name, _, rest = line.partition(" ")
    return name, {key: value for key, value in _PARAM.findall(rest)}


@dataclass
class _Coin:
    coinid: str
    amount: Decimal
    created: int


class _RefusedError(Exception):
    key = "error"


class _RefusedMessage(_RefusedError):
    """A refusal the real node words in ``message`` instead of ``error`` (e.g. insufficient funds)."""

    key = "message"


class SimulatedNode:
    """Start with ``start()`` (serves on a background thread); ``url`` then answers RPC."""

    def __init__(self, ledger: Ledger, host: str = "127.0.0.1", port: int = 0, *,
                 rpc_password: str | None = None, wallet_password: str | None = None,
                 send_time: float = 1.2, keep_blocks: int | None = 2000, lag_blocks: int = 0,
                 shape: str = "private", coins: int = 1, coin_amount: str = "10000", coin_age: int = 1,
                 list_blocks: bool = False):
        if shape not in ("private", "live"):
            raise ValueError("shape must be 'private' or 'live'")
        self.ledger = ledger
        self.host, self.requested_port = host, port
        self.rpc_password = rpc_password
        self.wallet_password = wallet_password
        self.send_time = float(send_time)
        self.keep_blocks = keep_blocks
        self.lag_blocks = int(lag_blocks)
        self.shape = shape
        self.coin_age = max(1, int(coin_age))  # blocks on top of a coin before it can be spent
        self.list_blocks = list_blocks  # `txpow address:` lists the blocks carrying stamps, not the stamps
        self.address = random_id()
        self._send_lock = threading.Lock()
        self._wallet_lock = threading.Lock()
        start = ledger.height()
        self._coins = [_Coin(random_id(), Decimal(coin_amount), start - self.coin_age)
                       for _ in range(max(0, coins))]
        self.sends = 0
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------------
    def start(self) -> "SimulatedNode":
        if self._httpd is None:
            self._httpd = _NodeHTTPServer((self.host, self.requested_port), self)
            self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                            name="simulated-minima-node", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    @property
    def port(self) -> int:
        return self._httpd.server_address[1] if self._httpd else self.requested_port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def __enter__(self) -> "SimulatedNode":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- the chain as this node sees it -----------------------------------------------------------
    def tip(self) -> int:
        return self.ledger.height() - self.lag_blocks

    def _oldest(self, tip: int) -> int:
        return 0 if self.keep_blocks is None else tip - self.keep_blocks

    def _held(self, block: int, tip: int) -> bool:
        return self._oldest(tip) <= block <= tip

    def _txn(self, digest: str | None) -> dict:
        if digest is None:
            return {"inputs": [], "outputs": [], "state": []}
        return {"inputs": [{"address": self.address, "tokenid": "0x00"}],
                "outputs": [{"address": INTEGRITAS_ADDRESS, "amount": "0.000000000000001", "tokenid": "0x00"}],
                "state": [{"port": STATE_PORT, "type": 1, "data": "0x" + digest.upper()}]}

    def _txpow(self, txpowid: str, block: int, made_at: float, *, is_block: bool, is_transaction: bool,
               digest: str | None, txnlist: list[str]) -> dict:
        return {"txpowid": txpowid, "isblock": is_block, "istransaction": is_transaction, "size": 1200,
                "burn": 0, "header": {"block": str(block), "timemilli": str(int(made_at * 1000)),
                                      "date": java_date(made_at), "nonce": str(secrets.randbelow(10**9))},
                "body": {"txn": self._txn(digest), "txnlist": txnlist}}

    def _block(self, number: int) -> dict:
        rows = self.ledger.records_in_blocks(number, number)
        made_at = self.ledger.block_made_at(number)
        block_id = rows[0][3] if rows else self.ledger.block_id(number)
        own = next((r for r in rows if r[4] == block_id), None)
        txnlist = [r[4] for r in rows if r is not own]
        return self._txpow(block_id, number, made_at, is_block=True, is_transaction=own is not None,
                           digest=own[0] if own else None, txnlist=txnlist)

    def _transaction(self, row: tuple) -> dict:
        digest, number, made_at, block_id, txn_id = row
        if txn_id == block_id:
            return self._block(number)
        return self._txpow(txn_id, number, made_at, is_block=False, is_transaction=True,
                           digest=digest, txnlist=[])

    # -- commands ---------------------------------------------------------------------------------
    def run(self, line: str) -> dict:
        name, params = parse_command(line)
        handler = getattr(self, "cmd_" + name, None)
        envelope: dict[str, Any] = {"command": name, "params": params, "status": True, "pending": False}
        if handler is None:
            envelope.update(status=False, error=f"Command not found : {name}")
            return envelope
        try:
            envelope["response"] = handler(params)
        except _RefusedError as exc:
            envelope.update({"status": False, exc.key: str(exc)})
        return envelope

    def cmd_status(self, params: dict) -> dict:
        tip = self.tip()
        return {"version": "1.0.45-sandbox", "locked": self.wallet_password is not None,
                "chain": {"block": tip, "time": java_date(self.ledger.block_made_at(tip)),
                          "hash": self._block(tip)["txpowid"], "archive": self.keep_blocks is None}}

    def cmd_txpow(self, params: dict) -> Any:
        tip = self.tip()
        if "txpowid" in params:
            wanted = params["txpowid"]
            row = self.ledger.record_by_id(wanted)
            if row is None or not self._held(row[1], tip):
                raise _RefusedError(f"TxPoW not found : {wanted}")
            if same_hex(row[4], wanted):
                return self._transaction(row)
            return self._block(row[1])
        if "block" in params:
            try:
                number = int(params["block"])
            except ValueError:
                raise _RefusedError("block must be a number") from None
            if not self._held(number, tip):
                raise _RefusedError(f"TxPoW not found @ height {number}")
            return self._block(number)
        if "onchain" in params:
            row = self.ledger.record_by_id(params["onchain"])
            if row is None or not self._held(row[1], tip) or not same_hex(row[4], params["onchain"]):
                return {"found": False}
            return {"found": True, "block": str(row[1]), "blockid": row[3], "tip": str(tip),
                    "confirmations": str(tip - row[1])}
        if "address" in params:
            if not same_hex(params["address"], INTEGRITAS_ADDRESS):
                return []
            rows = self.ledger.records_in_blocks(max(self._oldest(tip), 0), self.ledger.height() + 1)
            if self.list_blocks:
                return [self._block(n) for n in sorted({r[1] for r in rows if r[1] <= tip})]
            # stamps not in a block yet are in the mempool: listed, but not on chain
            return [self._transaction(r) if r[1] <= tip else
                    self._txpow(r[4], r[1], r[2], is_block=False, is_transaction=True, digest=r[0], txnlist=[])
                    for r in rows]
        raise _RefusedError("Must Specify search params")

    def cmd_coins(self, params: dict) -> list:
        tip = self.tip()
        if same_hex(params.get("address"), INTEGRITAS_ADDRESS):
            rows = self.ledger.records_in_blocks(max(self._oldest(tip), 0), tip)
            return [{"coinid": r[4], "address": INTEGRITAS_ADDRESS, "amount": "0.000000000000001",
                     "tokenid": "0x00", "created": str(r[1]),
                     "state": [{"port": STATE_PORT, "type": 1, "data": "0x" + r[0].upper()}]} for r in rows]
        with self._wallet_lock:
            return [{"coinid": c.coinid, "address": self.address, "amount": str(c.amount), "tokenid": "0x00",
                     "created": str(c.created), "state": []} for c in self._coins if c.created <= tip]

    def _spendable(self, coin: _Coin, tip: int) -> bool:
        return coin.created <= tip - self.coin_age + 1

    def cmd_balance(self, params: dict) -> list:
        tip = self.tip()
        with self._wallet_lock:
            confirmed = sum((c.amount for c in self._coins if c.created <= tip), Decimal(0))
            unconfirmed = sum((c.amount for c in self._coins if c.created > tip), Decimal(0))
            sendable = sum((c.amount for c in self._coins if self._spendable(c, tip)), Decimal(0))
            count = sum(1 for c in self._coins if c.created <= tip)
        return [{"token": "Minima", "tokenid": "0x00", "confirmed": str(confirmed),
                 "unconfirmed": str(unconfirmed), "sendable": str(sendable), "coins": str(count),
                 "total": "1000000000"}]

    def cmd_getaddress(self, params: dict) -> dict:
        return {"address": self.address, "miniaddress": "MX" + self.address[2:34], "script": "RETURN TRUE"}

    def cmd_send(self, params: dict) -> dict:
        if self.wallet_password is None and "password" in params:
            raise _RefusedError("WalletDB NOT Locked! Password Invalid")
        if self.wallet_password is not None:
            given = params.get("password")
            if given is None:
                raise _RefusedError("Wallet is locked: give the wallet password with password:")
            if not hmac.compare_digest(given.encode(), self.wallet_password.encode()):
                raise _RefusedError("Incorrect password!")
        address = params.get("address", "")
        try:
            amount = Decimal(params.get("amount", ""))
        except InvalidOperation:
            raise _RefusedError("Invalid amount") from None
        if not address.startswith("0x") or amount <= 0:
            raise _RefusedError("Invalid address or amount")
        state: dict = {}
        if "state" in params:
            try:
                state = json.loads(params["state"])
            except ValueError:
                raise _RefusedError("Invalid state JSON") from None
        split = max(1, min(20, int(params.get("split", "1") or 1)))
        with self._send_lock:  # the node mines one transaction at a time
            tip = self.tip()
            with self._wallet_lock:
                spendable = sorted((c for c in self._coins if self._spendable(c, tip)), key=lambda c: c.amount)
                used, total = [], Decimal(0)
                for coin in spendable:
                    if total >= amount:
                        break
                    used.append(coin)
                    total += coin.amount
                if not spendable:
                    raise _RefusedError(NO_COINS)
                if total < amount:
                    raise _RefusedMessage(f"Insufficient funds.. you only have {total} require:{amount}")
                for coin in used:
                    self._coins.remove(coin)
            if self.send_time > 0:
                time.sleep(self.send_time)
            next_block = self.tip() + 1
            with self._wallet_lock:
                if total > amount:
                    self._coins.append(_Coin(random_id(), total - amount, next_block))
                if same_hex(address, self.address):
                    part = amount / split
                    self._coins.extend(_Coin(random_id(), part, next_block) for _ in range(split))
            digest = str(state.get(str(STATE_PORT), "")).lower().removeprefix("0x")
            if same_hex(address, INTEGRITAS_ADDRESS) and re.fullmatch(r"[0-9a-f]{64}", digest):
                self.ledger.submit(digest, one_id=self.shape == "private")
            self.sends += 1
        unmined = random_id()
        return {"txpowid": unmined, "isblock": False, "istransaction": False,
                "header": {"block": str(tip), "nonce": "0", "timemilli": str(int(time.time() * 1000))},
                "body": {"txn": {"state": [{"port": int(k), "type": 1, "data": v} for k, v in state.items()]},
                         "txnlist": []}}


class _NodeHandler(BaseHTTPRequestHandler):
    server: "_NodeHTTPServer"
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # no request lines (they hold passwords)
        pass

    def _authorised(self) -> bool:
        password = self.server.node.rpc_password
        if password is None:
            return True
        header = self.headers.get("Authorization", "")
        expected = "Basic " + base64.b64encode(f"minima:{password}".encode()).decode()
        return hmac.compare_digest(header.encode(), expected.encode())

    def _answer(self, line: str) -> None:
        if not self._authorised():
            body = b"401 Unauthorized"
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="Minima RPC"')
        else:
            body = json.dumps(self.server.node.run(line)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self._answer(unquote(self.path.lstrip("/")))

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self._answer(self.rfile.read(length).decode("utf-8", "replace") if length else "")


class _NodeHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, node: SimulatedNode):
        self.node = node
        super().__init__(address, _NodeHandler)
