"""The user's own Minima node in the window's services (no Qt): the simulated node trial mode
offers, and the engine's client when the window stamps with the node."""

from __future__ import annotations

import logging
import os
from typing import Any

log = logging.getLogger(__name__)

NODE_SEND_TIME_ENV = "INTEGRITAS_SANDBOX_NODE_SEND_TIME"


def start_simulated_node(sandbox: Any) -> Any:
    """A simulated node on the trial sandbox's ledger (a real node's ~1.2 s per send by default)."""
    from integritas_gui.sandbox.node import SimulatedNode

    try:
        send_time = float(os.environ.get(NODE_SEND_TIME_ENV, "1.2"))
    except ValueError:
        send_time = 1.2
    node = SimulatedNode(sandbox.ledger, send_time=send_time).start()
    log.info("Trial mode: simulated Minima node at %s", node.url)
    return node


def node_url(settings: Any, simulated: Any) -> str:
    """The node the window uses: the user's, else (trial mode) the simulated one."""
    from integritas_gui.core.minima_node import DEFAULT_NODE_URL

    chosen = (settings.node_url or "").strip()
    if simulated is not None and chosen in ("", DEFAULT_NODE_URL):
        return simulated.url
    return chosen or DEFAULT_NODE_URL


def open_node(settings: Any, dirs: Any, simulated: Any = None) -> Any:
    from integritas_gui.core.minima_node import MinimaNode
    from integritas_gui.core.secrets import NodePasswordStore

    password = None if simulated is not None and node_url(settings, simulated) == simulated.url \
        else NodePasswordStore(dirs.config).get_password()
    return MinimaNode(node_url(settings, simulated), password)


def node_router(service: Any, history: Any, settings: Any, dirs: Any, simulated: Any = None) -> Any:
    """Stamps through the node when the user chose so; verifications ask the node too (always in
    trial mode, where the simulated node shares the sandbox's chain)."""
    from integritas_gui.core.node_stamp import NodeStampClient, StampRouter

    submitter = NodeStampClient(open_node(settings, dirs, simulated), history,
                                confirmations=int(settings.node_confirmations),
                                wallet_password=os.environ.get("INTEGRITAS_NODE_WALLET_PASSWORD") or None)
    return StampRouter(service, submitter, stamp_with_node=getattr(settings, "stamp_with", "service") == "node")
