"""Fixtures for the own-node suite: the sandbox and a simulated Minima node on its ledger."""

from __future__ import annotations

import contextlib
import json

import pytest

from tests.sandbox_fixture import running_sandbox


@contextlib.contextmanager
def running_node(sandbox, **options):
    from integritas_gui.sandbox.node import SimulatedNode

    options.setdefault("send_time", 0.0)
    node = SimulatedNode(sandbox.ledger, **options).start()
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture
def make_node(sandbox):
    """Start simulated nodes (options as SimulatedNode's) on the ``sandbox`` ledger; stopped after."""
    stack = contextlib.ExitStack()

    def make(**options):
        return stack.enter_context(running_node(sandbox, **options))

    yield make
    stack.close()


@pytest.fixture
def sim_node(make_node):
    return make_node()


@pytest.fixture
def run_cli(monkeypatch, capsys):
    """Call `integritas` in-process; returns (exit code, JSON lines, stderr)."""
    from integritas_gui import cli

    monkeypatch.setenv("INTEGRITAS_BLOCK_TIME", "0.2")

    def call(*argv: str):
        code = cli.main(list(argv) + ["--json"])
        captured = capsys.readouterr()
        return code, [json.loads(line) for line in captured.out.splitlines() if line.strip()], captured.err

    return call


def wait_blocks(ledger, count: int) -> None:
    import time

    target = ledger.height() + count
    while ledger.height() < target:
        time.sleep(0.02)


__all__ = ["running_node", "running_sandbox", "wait_blocks"]
