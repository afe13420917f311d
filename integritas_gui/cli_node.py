"""`integritas ... --node URL`: verify, check and stamp on the user's own Minima node. Never imports Qt.

Verify and check need no history, no receipt and no API key: the stamp is found on the node by the
Integritas address and state port 99. Exit codes: 0 the node confirms, 1 the node's chain does not
hold it, 2 bad input, 3 the node cannot be asked (or no longer holds the block: pruned).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from integritas_gui.core.display import count_noun
from integritas_gui.cli import EXIT_BAD_INPUT, EXIT_NOT_FOUND, EXIT_OK, EXIT_SERVICE, CliError, Output, worst


def node_password(args: argparse.Namespace) -> str | None:
    from integritas_gui.core.paths import app_dirs
    from integritas_gui.core.secrets import NodePasswordStore

    return NodePasswordStore(app_dirs(args.data_dir).config).get_password()


def open_node(args: argparse.Namespace):
    """The node given with --node, else the one in the settings (`integritas config get node-url`)."""
    from integritas_gui.core.minima_node import MinimaNode, NodeError
    from integritas_gui.core.paths import app_dirs
    from integritas_gui.core.settings import load_settings

    url = args.node or load_settings(app_dirs(args.data_dir).settings_file).node_url
    try:
        return MinimaNode(url, node_password(args))
    except NodeError as exc:
        raise CliError(exc.message, EXIT_BAD_INPUT) from None


def _reference(path: str, history) -> Any:
    """The receipt to compare the file with: its sidecar, else the newest stamp in this history."""
    from integritas_gui.core.errors import IntegritasError
    from integritas_gui.core.job_receipts import receipt_for_job
    from integritas_gui.core.receipts import read_receipt, sidecar_path

    sidecar = sidecar_path(path)
    if sidecar.exists():
        try:
            return read_receipt(sidecar), str(sidecar)
        except IntegritasError:
            pass
    if history is not None:
        stamp = history.latest_for_path(path, "stamp", states=("pending", "confirmed"))
        if stamp is not None and stamp.segment_size is not None:
            try:
                return receipt_for_job(history, stamp.id), f"history:{stamp.id}"
            except IntegritasError:
                pass
    return None, None


def _local(path: str, history) -> tuple[str | None, dict | None, list[int], str | None]:
    """(sha3 of the file now, comparison with its receipt, blocks the receipt names, error)."""
    from integritas_gui.core.errors import IntegritasError
    from integritas_gui.core.hashing import hash_file
    from integritas_gui.core.receipt_verify import verify_file_against_receipt

    receipt, source = _reference(path, history)
    if receipt is None:
        try:
            return hash_file(path).sha3_256, None, [], None
        except IntegritasError as exc:
            return None, None, [], exc.message
    check = verify_file_against_receipt(path, receipt)
    if check.sha3_now is None:
        return None, None, [], check.message
    blocks = [r.block_number for r in receipt.records if r.block_number is not None]
    blocks += [e.get("block") for e in getattr(receipt, "node_evidence", ()) if e.get("block")]
    comparison = {"status": "match" if check.is_match else "changed", "source": source,
                  "changed": [list(r) for r in check.changed_ranges]}
    return check.sha3_now, comparison, blocks, None


def _service(args: argparse.Namespace, digest: str):
    """The service level, when an API key is at hand (never required); the trial sandbox is not asked."""
    from integritas_gui.cli import _overrides
    from integritas_gui.core.client import IntegritasClient, ServiceError
    from integritas_gui.core.node_verify import service_level
    from integritas_gui.core.paths import app_dirs
    from integritas_gui.core.secrets import SecretStore
    from integritas_gui.core.settings import SANDBOX_SERVICE, load_settings
    from integritas_gui.session import client_options, effective_settings

    dirs = app_dirs(args.data_dir)
    overrides = _overrides(args)
    effective = effective_settings(load_settings(dirs.settings_file), overrides)
    key = overrides.api_key or SecretStore(dirs.config).get_api_key()
    if not key or overrides.force_sandbox or effective.base_url == SANDBOX_SERVICE:
        return service_level(None, not_asked="not asked (no API key; not needed with your node)"), []
    try:
        with IntegritasClient(effective.base_url, key,
                              **client_options(effective, overrides, trial=False)) as client:
            result = client.verify(digest)
    except ServiceError as exc:
        return service_level(None, error=exc.message), []
    return service_level(result.result, result.records), [r.block_number for r in result.records]


def keep_node_answer(history, node, digest: str, verdict) -> None:
    from integritas_gui.core import node_evidence
    from integritas_gui.core.minima_node import NodeError

    version = None
    for stamp in verdict.stamps:
        if stamp.on_chain:
            if version is None:
                try:
                    version = node.status().version or ""
                except NodeError:
                    version = ""
            node_evidence.save_evidence(history, node.url, stamp, version or None)
    node_evidence.save_check(history, node.url, digest, verdict.status, verdict.message)


def run_verify(args: argparse.Namespace, out: Output, kind: str) -> int:
    """verify/check --node: every file (or --hash) on the node, with the levels."""
    from integritas_gui.core.hexhash import normalise
    from integritas_gui.core.minima_node import NodeError, StampListing
    from integritas_gui.core.node_verify import Level, check_on_node, local_level
    from integritas_gui.core.walk import expand_paths

    node = open_node(args)
    from integritas_gui.cli import _history
    from integritas_gui.core.errors import IntegritasError

    try:
        history, _ = _history(args)
    except IntegritasError:  # no usable history is fine: the node and the file are enough
        history = None
    items: list[tuple[str | None, str | None, dict | None, list[int], str | None]] = []
    if args.hash:
        try:
            items.append((None, normalise(args.hash), None, [], None))
        except IntegritasError as exc:
            raise CliError(exc.message, EXIT_BAD_INPUT) from None
    for item in expand_paths(args.paths or []):
        if item.error:
            items.append((item.path, None, None, [], item.error))
        else:
            items.append((item.path, *_local(item.path, history)))
    try:
        candidates = StampListing(node.txpows_at())
    except NodeError as exc:  # the node cannot be asked at all: one plain line
        node.close()
        raise CliError(exc.message, EXIT_SERVICE) from None
    codes = []
    shown_levels: dict[str, Level] = {}
    for path, digest, comparison, blocks, error in items:
        name = path or digest
        if error or digest is None:
            codes.append(EXIT_BAD_INPUT)
            out.result({"path": path, "error": error}, f"{name}: error: {error}")
            continue
        levels: list[Level] = []
        if kind == "verify":
            levels.append(local_level(comparison))
            service, service_blocks = _service(args, digest)
            levels.append(service)
            blocks = blocks + [b for b in service_blocks if b]
        verdict = check_on_node(node, digest, expected_blocks=blocks, candidates=candidates)
        if history is not None:  # a later receipt of this hash carries what the node said
            keep_node_answer(history, node, digest, verdict)
        node_level = verdict.level(digest)
        verdict_status = verdict.status
        levels.append(node_level)
        shown_levels.update((lv.name, lv) for lv in levels)
        code = {"pass": EXIT_OK, "fail": EXIT_NOT_FOUND}.get(node_level.status, EXIT_SERVICE)
        codes.append(code)
        outcome = {"confirmed": "confirmed on your node", "pending": "not in a block yet on your node",
                   "not_found": "not on your node's chain", "pruned": "no longer on this node",
                   "unavailable": "your node could not be asked"}[verdict_status]
        record = {"path": path, "sha3_256": digest, "kind": kind, "node_url": node.url,
                  "outcome": outcome, "levels": [lv.to_dict() for lv in levels]}
        text = f"{name}: {outcome}  sha3_256={digest}\n" + "\n".join("    " + lv.line() for lv in levels)
        out.result(record, text)
    node.close()
    if history is not None:
        history.close()
    if shown_levels and not out.as_json:
        print("What each level proves:\n" + "\n".join(f"  {lv.name}: {lv.proves}" for lv in shown_levels.values()),
              file=sys.stderr)
    return worst(codes)


def node_submitter(args: argparse.Namespace, history, settings):
    """The engine's stand-in client that stamps through the node (stamp --node, resume --node):
    the session's ``stamp_client``; ``settings`` are the run's (--confirmations included)."""
    from integritas_gui.core.node_stamp import SEND_SETTLE, NodeStampClient

    settle = os.environ.get("INTEGRITAS_NODE_SEND_SETTLE", "")  # seconds; a node that mines slower
    return NodeStampClient(open_node(args), history, confirmations=settings.node_confirmations,
                           wallet_password=os.environ.get("INTEGRITAS_NODE_WALLET_PASSWORD") or None,
                           send_settle=float(settle) if settle.replace(".", "", 1).isdigit() else SEND_SETTLE)


def unsent_jobs(states: dict[str, int]) -> int:
    """Jobs of the batch not sent yet (a file already stamped and unchanged is never queued)."""
    return sum(states.get(state, 0) for state in ("queued", "hashing", "hashed", "submitting"))


def sending_note(estimate) -> str:
    """The progress line's part while stamps go out through the node (a ``SendEstimate``)."""
    from integritas_gui.core.display import format_duration

    if estimate.total == 0 or estimate.left == 0:
        return ""
    parts = [f"sending {estimate.sending} of {estimate.total} through your node"]
    if estimate.per_minute is not None:
        rate = estimate.per_minute
        parts.append(f"{rate:.1f}/min" if rate < 10 else f"{rate:.0f}/min")
    if estimate.waiting_for_block:
        parts.append("coins used up, waiting for the next block")
    if estimate.seconds_left is None:
        parts.append("time left not known yet")
    else:
        parts.append(f"about {format_duration(estimate.seconds_left)} left")
    return " · ".join(parts)


def run_stamp(args: argparse.Namespace, out: Output) -> int:
    """stamp --node: the node sends each stamp; the engine follows them as with the service."""
    from integritas_gui.cli import _run_batch, _session
    from integritas_gui.core.display import format_duration
    from integritas_gui.core.minima_node import NodeError
    from integritas_gui.core.client import ServiceError
    from integritas_gui.core.walk import expand_paths

    session = _session(args, out, stamp_client=lambda history, settings: node_submitter(args, history, settings))
    submitter = session.client
    node = submitter.node
    try:
        node.ensure_current()
        count = sum(1 for item in expand_paths(args.paths) if not item.error)
        ready = None
        if count > 1:
            ready = submitter.prepare(count, progress=lambda line: print(line, file=sys.stderr))
            seconds = submitter.estimate(count, ready)
            print(f"Your node has {count_noun(ready, 'coin')} ready: up to {count_noun(ready, 'stamp')} per block. "
                  f"Sending {count_noun(count, 'stamp')} one at a time takes about {format_duration(seconds)}.",
                  file=sys.stderr)
        submitter.begin_batch(count, ready)
    except (NodeError, ServiceError) as exc:
        session.shutdown()
        raise CliError(exc.message, EXIT_SERVICE) from None
    try:
        return _run_batch(args, out, "stamp", wait=args.wait, session=session,
                          note=lambda states: sending_note(submitter.progress.estimate(unsent_jobs(states))))[0]
    finally:
        submitter.stop()  # a send waiting for the next block gives up at once (Ctrl-C)


def run_status(args: argparse.Namespace, out: Output) -> int:
    """`integritas node status`: can the app talk to the node, and what does it hold?"""
    from integritas_gui.core.minima_node import NodeError

    node = open_node(args)
    try:
        status = node.status()
        balance = node.balance()
        age = node.tip_age(status.block)
    except NodeError as exc:
        raise CliError(exc.message, EXIT_SERVICE) from None
    finally:
        node.close()
    record = {"node_url": node.url, "block": status.block, "version": status.version, "locked": status.locked,
              "tip_age_seconds": age, "sendable": str(balance.sendable), "coins": balance.coins}
    text = (f"{node.url}: Minima {status.version}, block {status.block}"
            + (f" ({age:.0f} s ago)" if age is not None else "")
            + f"; sendable {balance.sendable} in {count_noun(balance.coins, 'coin')}"
            + ("; wallet locked" if status.locked else ""))
    out.result(record, text)
    return EXIT_OK
