"""`integritas-sandbox`: run the local Integritas-compatible service until Ctrl-C."""

from __future__ import annotations

import argparse
import signal
import sys

from integritas_gui.sandbox.faults import FAULTS
from integritas_gui.sandbox.server import SandboxServer, parse_rate_limit


def _fault_rate(value: str) -> float:
    rate = float(value)
    if not 0.0 <= rate <= 1.0:
        raise argparse.ArgumentTypeError("must be between 0 and 1")
    return rate


def _rate_limit(value: str):
    try:
        return parse_rate_limit(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="integritas-sandbox",
        description="A local service that speaks the Integritas v2 API on a simulated Minima chain "
                    "(for trying the app and for tests; it is NOT a real blockchain).",
        epilog="Fault injection per request: header 'x-sandbox-fault: NAME[:ARG][; times=N]' with "
               "NAME one of " + ", ".join(FAULTS) + ".",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 picks a free one)")
    parser.add_argument("--api-key", help="the API key clients must send (default: a random one, printed)")
    parser.add_argument("--block-time", type=float, default=50.0,
                        help="seconds between simulated Minima blocks (default 50)")
    parser.add_argument("--db", default=":memory:",
                        help="SQLite ledger file, so a restart keeps the chain (default: in memory)")
    parser.add_argument("--quota", type=int, help="answer 402 (plan limit) after this many stamps")
    parser.add_argument("--rate-limit", type=_rate_limit, metavar="N/SECONDS",
                        help="answer 429 beyond N requests per SECONDS")
    parser.add_argument("--fault-rate", type=_fault_rate, default=0.0, metavar="P",
                        help="inject a random retryable fault into this fraction of requests")
    parser.add_argument("--seed", type=int, help="random seed for --fault-rate")
    parser.add_argument("--report-ttl", type=float, default=3600.0,
                        help="seconds a report download link stays valid (default 3600)")
    node = parser.add_argument_group("simulated Minima node (RPC on the same ledger)")
    node.add_argument("--node-port", type=int, metavar="PORT",
                      help="also run a simulated Minima node's RPC on this port (0 picks a free one)")
    node.add_argument("--node-password", help="RPC password (HTTP Basic auth, user 'minima')")
    node.add_argument("--node-wallet-password", help="lock the node's wallet with this password")
    node.add_argument("--node-send-time", type=float, default=1.2,
                      help="seconds a send takes (the node mines it first; default 1.2)")
    node.add_argument("--node-keep-blocks", type=int, default=2000,
                      help="blocks the node keeps before pruning (default 2000; 0: an archive node)")
    node.add_argument("--node-lag", type=int, default=0, help="blocks the node lags behind the chain")
    node.add_argument("--node-shape", choices=["private", "live"], default="private",
                      help="private: a stamp is its own block (one id); live: listed in a block (two ids)")
    node.add_argument("--node-coins", type=int, default=1, help="coins in the node's wallet (default 1)")
    node.add_argument("--node-coin-age", type=int, default=1,
                      help="blocks a coin must be deep before it can be spent (default 1)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.block_time <= 0:
        print("integritas-sandbox: --block-time must be positive", file=sys.stderr)
        return 2
    try:
        server = SandboxServer(args.host, args.port, api_key=args.api_key, block_time=args.block_time,
                               db=args.db, quota=args.quota, rate_limit=args.rate_limit,
                               fault_rate=args.fault_rate, seed=args.seed,
                               report_ttl=args.report_ttl)
        server.start()
    except OSError as exc:
        print(f"integritas-sandbox: cannot listen on {args.host}:{args.port} ({exc.strerror or exc})",
              file=sys.stderr)
        return 1
    print(f"Integritas sandbox listening on {server.base_url}", flush=True)
    node = None
    if args.node_port is not None:
        from integritas_gui.sandbox.node import SimulatedNode

        try:
            node = SimulatedNode(server.ledger, args.host, args.node_port, rpc_password=args.node_password,
                                 wallet_password=args.node_wallet_password, send_time=args.node_send_time,
                                 keep_blocks=args.node_keep_blocks or None, lag_blocks=args.node_lag,
                                 shape=args.node_shape, coins=args.node_coins,
                                 coin_age=args.node_coin_age).start()
        except OSError as exc:
            server.close()
            print(f"integritas-sandbox: cannot listen on {args.host}:{args.node_port} "
                  f"({exc.strerror or exc})", file=sys.stderr)
            return 1
        print(f"Simulated Minima node RPC on {node.url}", flush=True)
    print(f"API key: {server.api_key}", flush=True)
    print("This is a local test service, NOT a real blockchain: nothing is anchored on Minima. "
          "Press Ctrl-C to stop.", flush=True)

    def on_signal(signum, frame):
        server._stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    try:
        server._stopping.wait()
    except KeyboardInterrupt:
        pass
    finally:
        if node is not None:
            node.stop()
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
