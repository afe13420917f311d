"""The Minima node client against the simulated node over loopback HTTP: answers, traps, errors."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from integritas_gui.core.minima_node import (
    INTEGRITAS_ADDRESS, STAMP_AMOUNT, MinimaNode, NodeError,
)
from integritas_gui.core.node_verify import PRUNED, check_on_node
from tests.node.conftest import running_node, running_sandbox, wait_blocks
from tests.sandbox_fixture import closed_port, fast_client

HASH_A = "a1" * 32
HASH_B = "b2" * 32


def stamp_state(digest: str) -> dict:
    return {99: "0x" + digest.upper()}


def test_status_balance_and_address_arrive_typed(sim_node):
    with MinimaNode(sim_node.url) as node:
        status = node.status()
        balance = node.balance()
        address = node.getaddress()
    assert isinstance(status.block, int) and 0 <= sim_node.tip() - status.block <= 1
    assert balance.confirmed == Decimal("10000") and balance.sendable == Decimal("10000") and balance.coins == 1
    assert address.startswith("0x") and len(address) == 66


@pytest.mark.parametrize("shape", ["private", "live"])
def test_send_answers_the_unmined_id_and_the_stamp_is_found_by_address_and_state(make_node, sandbox, shape):
    sim = make_node(shape=shape)
    with MinimaNode(sim.url) as node:
        sent = node.send(INTEGRITAS_ADDRESS, STAMP_AMOUNT, state=stamp_state(HASH_A))
        assert node.txpow(sent.txpowid) is None  # the mined TxPoW has another id
        wait_blocks(sandbox.ledger, 2)
        [stamp] = node.find_stamps(HASH_A)
        assert stamp.on_chain and stamp.transaction_id != sent.txpowid
        assert stamp.block == sandbox.ledger.confirmed(HASH_A)[0].block_number
        assert stamp.confirmations == stamp.tip - stamp.block >= 1
        block = node.block(stamp.block)
        if shape == "private":  # one id: the stamp is the block itself
            assert stamp.txpow_id == stamp.transaction_id == block.txpowid
            assert block.state_value() == "0x" + HASH_A.upper()
        else:  # two ids: the transaction is listed in the block's txnlist
            assert stamp.txpow_id == block.txpowid != stamp.transaction_id
            assert stamp.transaction_id in block.txnlist and block.state_value() is None


def test_change_is_unspendable_until_the_next_block_and_split_coins_pay_one_stamp_each():
    # blocks of 1 s, so that a burst of sends surely falls within one block
    with running_sandbox(block_time=1.0) as sandbox, running_node(sandbox) as sim_node, \
            MinimaNode(sim_node.url) as node:
        wait_blocks(sandbox.ledger, 1)
        node.send(INTEGRITAS_ADDRESS, STAMP_AMOUNT, state=stamp_state(HASH_A))
        with pytest.raises(NodeError) as refused:
            node.send(INTEGRITAS_ADDRESS, STAMP_AMOUNT, state=stamp_state(HASH_B))
        assert refused.value.kind == "no_coins" and "No Coins of tokenid:0x00" in refused.value.node_error
        balance = node.balance()
        assert balance.sendable == 0 and balance.unconfirmed > 9999
        wait_blocks(sandbox.ledger, 1)
        node.send(node.getaddress(), "100", split=5)
        wait_blocks(sandbox.ledger, 1)
        assert len(node.coins(relevant=True)) == 6  # 5 split coins and the change
        for index in range(6):
            node.send(INTEGRITAS_ADDRESS, STAMP_AMOUNT, state=stamp_state(f"{index:064x}"))
        with pytest.raises(NodeError):
            node.send(INTEGRITAS_ADDRESS, STAMP_AMOUNT, state=stamp_state(HASH_B))


def test_a_stamp_made_through_the_service_is_on_the_node_and_the_reverse(sim_node, sandbox):
    client = fast_client(sandbox.base_url, sandbox.api_key)
    try:
        client.stamp(HASH_A)
        with MinimaNode(sim_node.url) as node:
            node.send(INTEGRITAS_ADDRESS, STAMP_AMOUNT, state=stamp_state(HASH_B))
            wait_blocks(sandbox.ledger, 2)
            [on_node] = node.find_stamps(HASH_A)
            service_record = client.verify(HASH_A).records[0]
            assert (on_node.block, on_node.txpow_id, on_node.transaction_id) == (
                service_record.block_number, service_record.txpow_id, service_record.transaction_id)
            found = client.verify(HASH_B)
            [sent] = node.find_stamps(HASH_B)
        assert found.result == "full match"
        assert found.records[0].transaction_id == sent.transaction_id
    finally:
        client.close()


def test_pruned_blocks_are_no_longer_on_this_node_and_an_archive_node_keeps_them(make_node, sandbox):
    pruning = make_node(keep_blocks=3)
    archive = make_node(keep_blocks=None)
    with MinimaNode(pruning.url) as node:
        node.send(INTEGRITAS_ADDRESS, STAMP_AMOUNT, state=stamp_state(HASH_A))
        wait_blocks(sandbox.ledger, 2)
        block = node.find_stamps(HASH_A)[0].block
        wait_blocks(sandbox.ledger, 5)
        assert node.find_stamps(HASH_A) == []
        verdict = check_on_node(node, HASH_A, expected_blocks=[block])
        assert verdict.status == "pruned" and PRUNED in verdict.message
        assert verdict.level(HASH_A).status == "unavailable"
        assert check_on_node(node, HASH_A).status == "not_found"
    with MinimaNode(archive.url) as node:
        assert check_on_node(node, HASH_A, expected_blocks=[block]).status == "confirmed"


def test_every_failure_is_one_node_error_with_a_kind(make_node, sandbox):
    guarded = make_node(rpc_password="s3cret-rpc")
    locked = make_node(wallet_password="wallet-pw")
    empty = make_node(coins=0)
    lagging = make_node(lag_blocks=int(900 / sandbox.ledger.block_time))
    nodes = {
        "not_running": MinimaNode(f"http://127.0.0.1:{closed_port()}"),
        "not_minima": MinimaNode(sandbox.base_url.rsplit("/", 1)[0]),  # a web server, no Minima node
        "auth": MinimaNode(guarded.url, "wrong"),
        "locked": MinimaNode(locked.url),
        "no_coins": MinimaNode(empty.url),
        "syncing": MinimaNode(lagging.url),
    }
    send = {"state": stamp_state(HASH_A)}
    calls = {
        "not_running": lambda n: n.status(), "not_minima": lambda n: n.status(), "auth": lambda n: n.status(),
        "locked": lambda n: n.send(INTEGRITAS_ADDRESS, STAMP_AMOUNT, **send),
        "no_coins": lambda n: n.send(INTEGRITAS_ADDRESS, STAMP_AMOUNT, **send),
        "syncing": lambda n: n.ensure_current(),
    }
    try:
        for kind, node in nodes.items():
            with pytest.raises(NodeError) as failure:
                calls[kind](node)
            assert failure.value.kind == kind, (kind, failure.value.message)
            assert "\n" not in failure.value.message and len(failure.value.message) < 300
        with MinimaNode(guarded.url) as no_password:
            with pytest.raises(NodeError, match="401"):
                no_password.status()
        with MinimaNode(guarded.url, "s3cret-rpc") as right:
            assert right.status().block > 0
        assert nodes["locked"].send(INTEGRITAS_ADDRESS, STAMP_AMOUNT, password="wallet-pw", **send).txpowid
    finally:
        for node in nodes.values():
            node.close()


def test_a_slow_send_is_waited_for(make_node):
    sim = make_node(send_time=0.3)
    with MinimaNode(sim.url) as node:
        started = time.monotonic()
        node.send(INTEGRITAS_ADDRESS, STAMP_AMOUNT, state=stamp_state(HASH_A))
        assert time.monotonic() - started >= 0.3


def test_stamps_are_found_when_the_node_lists_the_blocks_that_carry_them(make_node, sandbox):
    """Live shape, with `txpow address:` answering block TxPoWs: the stamps are in their txnlist."""
    sim = make_node(shape="live", list_blocks=True)
    client = fast_client(sandbox.base_url, sandbox.api_key)
    try:
        client.stamp(HASH_A)
        client.stamp(HASH_B)
    finally:
        client.close()
    wait_blocks(sandbox.ledger, 2)
    with MinimaNode(sim.url) as node:
        listed = node.txpows_at()
        assert listed and all(t.is_block and t.state_value() is None for t in listed)
        [a] = node.find_stamps(HASH_A)
        [b] = node.find_stamps(HASH_B)
    assert a.on_chain and b.on_chain and a.transaction_id != b.transaction_id
    assert a.block == sandbox.ledger.confirmed(HASH_A)[0].block_number
