"""`integritas stamp/verify/check --node` against the simulated node and the real sandbox."""

from __future__ import annotations

import re

import json
from pathlib import Path

import pytest

from integritas_gui.core.engine import ConfirmPolicy, Engine
from integritas_gui.core.history import History
from integritas_gui.core.minima_node import MinimaNode
from integritas_gui.core.node_stamp import NodeStampClient
from integritas_gui.core.receipts import read_receipt
from tests.node.conftest import wait_blocks
from tests.sandbox_fixture import fast_client


def make_files(folder: Path, count: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        path = folder / f"doc {index}.txt"
        path.write_bytes(f"document {index}\n".encode() * 20000)
        paths.append(path)
    return paths


def by_level(line: dict) -> dict:
    return {level["name"]: level for level in line["levels"]}


def test_stamp_through_the_node_then_verify_on_it(run_cli, sim_node, tmp_path, data_dir):
    files = make_files(tmp_path / "docs", 3)
    code, lines, err = run_cli("stamp", "--node", sim_node.url, "--wait", *map(str, files))
    assert code == 0, err
    assert [line["state"] for line in lines] == ["confirmed"] * 3
    assert sim_node.sends >= 3  # and one split of the coins for the batch
    assert re.search(r"Your node has \d+ coins? ready: up to \d+ stamps? per block", err), err
    history = History(data_dir / "history.sqlite3")
    job = history.get_job(next(line["id"] for line in lines if line["path"] == str(files[0])))
    [record] = job.records
    assert record.block_number == job.block_number and record.txpow_id and record.transaction_id
    assert job.base_url == sim_node.url
    code, [written], _ = run_cli("receipt", str(files[0]))
    receipt = json.loads(Path(written["receipt"]).read_text())
    assert (receipt["version"], receipt["minor"]) == (1, 1)
    [evidence] = receipt["node_evidence"]
    assert evidence["block_number"] == record.block_number and evidence["confirmations"] >= 3
    assert (evidence["txpow_id"], evidence["transaction_id"]) == (record.txpow_id, record.transaction_id)
    assert evidence["state_port"] == 99 and evidence["state_data"] == "0x" + job.sha3_256.upper()
    assert read_receipt(Path(written["receipt"])).node_evidence[0]["tip"] == evidence["tip"]
    code, lines, err = run_cli("verify", "--node", sim_node.url, *map(str, files))
    assert code == 0, err
    levels = by_level(lines[0])
    assert levels["local"]["status"] == "pass"
    assert levels["node"]["status"] == "pass" and levels["node"]["details"]["confirmations"] >= 3
    assert levels["node"]["details"]["block"] == record.block_number
    assert levels["service"]["status"] == "not_checked"
    assert all(level["proves"] for level in levels.values())


def test_verify_on_the_node_a_file_stamped_through_the_service_with_no_history_or_key(
        run_cli, sim_node, sandbox, tmp_path, data_dir, monkeypatch):
    [file] = make_files(tmp_path, 1)
    from integritas_gui.core.hashing import hash_file

    client = fast_client(sandbox.base_url, sandbox.api_key)
    client.stamp(hash_file(file).sha3_256)
    client.close()
    wait_blocks(sandbox.ledger, 2)
    elsewhere = tmp_path / "another computer"
    elsewhere.mkdir()
    monkeypatch.setenv("INTEGRITAS_DATA_DIR", str(elsewhere))
    code, lines, err = run_cli("verify", "--node", sim_node.url, str(file))
    assert code == 0, err
    levels = by_level(lines[0])
    assert levels["local"]["status"] == "not_checked"
    assert levels["node"]["status"] == "pass"
    assert levels["node"]["details"]["block"] == sandbox.ledger.confirmed(lines[0]["sha3_256"])[0].block_number
    code, lines, _ = run_cli("check", "--node", sim_node.url, str(file))
    assert code == 0 and lines[0]["outcome"] == "confirmed on your node"


def test_a_file_changed_after_stamping_fails_on_the_node_with_the_changed_bytes_shown_locally(
        run_cli, sim_node, tmp_path):
    [file] = make_files(tmp_path, 1)
    assert run_cli("stamp", "--node", sim_node.url, "--wait", str(file))[0] == 0
    with open(file, "r+b") as handle:
        handle.seek(70_000)
        handle.write(b"CHANGED")
    code, lines, _ = run_cli("verify", "--node", sim_node.url, str(file))
    assert code == 1
    levels = by_level(lines[0])
    assert levels["node"]["status"] == "fail" and lines[0]["outcome"] == "not on your node's chain"
    assert levels["local"]["status"] == "fail"
    assert levels["local"]["details"]["changed"] == [[65536, 65536]]


def test_a_hash_never_stamped_is_not_on_the_node(run_cli, sim_node):
    code, lines, _ = run_cli("check", "--node", sim_node.url, "--hash", "00" * 31 + "ff")
    assert code == 1 and lines[0]["outcome"] == "not on your node's chain"


@pytest.mark.parametrize("case", ["not_running", "wrong_password", "not_minima", "locked", "no_coins", "behind"])
def test_every_node_error_is_one_plain_line_and_exit_3(case, run_cli, make_node, sandbox, tmp_path, monkeypatch):
    [file] = make_files(tmp_path, 1)
    command = "verify"
    if case == "not_running":
        url = make_node().url
        make_node  # the port of a stopped node
        from tests.sandbox_fixture import closed_port

        url = f"http://127.0.0.1:{closed_port()}"
    elif case == "wrong_password":
        url = make_node(rpc_password="right").url
        monkeypatch.setenv("INTEGRITAS_NODE_PASSWORD", "wrong")
    elif case == "not_minima":
        url = sandbox.base_url.rsplit("/", 1)[0]
    elif case == "locked":
        url, command = make_node(wallet_password="pw").url, "stamp"
    elif case == "no_coins":
        url, command = make_node(coins=0).url, "stamp"
    else:
        url, command = make_node(lag_blocks=int(900 / sandbox.ledger.block_time)).url, "stamp"
    code, lines, err = run_cli(command, "--node", url, str(file))
    if command == "stamp" and lines:  # the job failed: its one plain line is in the result
        assert lines[0]["state"] == "failed" and "\n" not in lines[0]["error"]
        message = lines[0]["error"]
    else:
        assert lines == []
        [message] = [line for line in err.splitlines() if line.startswith("integritas:")]
    assert code == 3, (code, err, lines)
    expected = {"not_running": "Nothing answers", "wrong_password": "401", "not_minima": "not as a Minima",
                "locked": "locked", "no_coins": "no spendable", "behind": "behind"}[case]
    assert expected in message
    assert "wrong" not in err.replace("wrong_password", "")


def test_a_send_interrupted_before_its_answer_was_recorded_is_not_sent_again(sim_node, tmp_path, data_dir):
    """Crash between the node's answer and the commit of "pending": resume finds the stamp by
    address and state and follows it; the node sends nothing twice."""
    [file] = make_files(tmp_path, 1)
    history = History(data_dir / "history.sqlite3")
    submitter = NodeStampClient(MinimaNode(sim_node.url), history, confirmations=2)
    policy = ConfirmPolicy.for_block_time(0.2)
    engine = Engine(history, submitter, confirm=policy)
    [job_id] = engine.add_files("stamp", [file])
    assert engine.wait_idle(30)
    assert history.get_job(job_id).state == "confirmed" and sim_node.sends == 1
    history.update(job_id, state="submitting")  # as if the process died right after the send
    engine.shutdown()
    engine = Engine(history, submitter, confirm=policy)
    assert engine.resume_unfinished() == [job_id]
    assert engine.wait_idle(30)
    engine.shutdown()
    assert history.get_job(job_id).state == "confirmed"
    assert sim_node.sends == 1 and submitter.resumed_without_send == 1


def test_a_send_journalled_but_never_made_is_sent_once_after_the_node_had_time_to_show_it(sim_node, tmp_path,
                                                                                         data_dir):
    """Crash between the "about to send" entry and the send: resume looks for the stamp until the
    settle time and one block more have passed, then sends it, once."""
    import time

    from integritas_gui.core import node_evidence

    [file] = make_files(tmp_path, 1)
    history = History(data_dir / "history.sqlite3")
    submitter = NodeStampClient(MinimaNode(sim_node.url), history, confirmations=1, send_settle=0.6)
    engine = Engine(history, submitter, confirm=ConfirmPolicy.for_block_time(0.2))
    [job_id] = engine.add_files("stamp", [file])
    assert engine.wait_idle(30)
    engine.shutdown()
    job = history.get_job(job_id)
    history.update(job_id, state="submitting")  # the same content, journalled again, never sent
    node_evidence.journal_before_send(history, job_id, job.sha3_256, sim_node.url, sim_node.tip())
    started = time.monotonic()
    engine = Engine(history, submitter, confirm=ConfirmPolicy.for_block_time(0.2))
    assert engine.resume_unfinished() == [job_id]
    assert engine.wait_idle(30)
    engine.shutdown()
    assert time.monotonic() - started >= 0.6
    assert history.get_job(job_id).state == "confirmed"
    assert sim_node.sends == 2 and submitter.sent == 2 and submitter.resumed_without_send == 0


def test_the_node_password_never_reaches_history_logs_or_receipts(run_cli, make_node, tmp_path, data_dir,
                                                                  monkeypatch):
    secret = "node-secret-7f3a9c"
    node = make_node(rpc_password=secret)
    monkeypatch.setenv("INTEGRITAS_NODE_PASSWORD", secret)
    [file] = make_files(tmp_path, 1)
    assert run_cli("stamp", "--node", node.url, "--wait", str(file))[0] == 0
    assert run_cli("receipt", str(file))[0] == 0
    assert run_cli("verify", "--node", node.url, str(file))[0] == 0
    leaked = [p for p in list(data_dir.rglob("*")) + list(tmp_path.glob("*.json"))
              if p.is_file() and secret.encode() in p.read_bytes()]
    assert leaked == []
    assert any(p.name.endswith(".log") for p in data_dir.rglob("*"))


def test_stamps_left_pending_are_followed_by_resume_on_the_node(run_cli, sim_node, tmp_path):
    files = make_files(tmp_path, 2)
    code, lines, _ = run_cli("stamp", "--node", sim_node.url, *map(str, files))
    assert code == 0 and [line["state"] for line in lines] == ["pending"] * 2
    sends = sim_node.sends
    code, lines, err = run_cli("resume", "--node", sim_node.url, "--wait")
    assert code == 0, err
    assert sorted(line["state"] for line in lines) == ["confirmed"] * 2
    assert sim_node.sends == sends  # followed, not sent again


def test_the_certificate_keeps_the_nodes_evidence_and_how_to_check_it(sim_node, tmp_path, data_dir):
    import shutil
    import subprocess

    from integritas_gui.core.certificate import certificate_for_job, extract_receipt

    if not shutil.which("pdftotext"):
        pytest.skip("poppler-utils not installed")
    [file] = make_files(tmp_path, 1)
    history = History(data_dir / "history.sqlite3")
    submitter = NodeStampClient(MinimaNode(sim_node.url), history, confirmations=2)
    engine = Engine(history, submitter, confirm=ConfirmPolicy.for_block_time(0.2))
    [job_id] = engine.add_files("stamp", [file])
    assert engine.wait_idle(30)
    engine.shutdown()
    pdf = certificate_for_job(history, job_id, tmp_path / "cert.pdf")
    text = " ".join(subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"], capture_output=True,
                                   text=True, check=True).stdout.split())
    [evidence] = extract_receipt(pdf)["node_evidence"]
    assert "On your own Minima node" in text and "your own Minima node (no service involved)" in text
    assert f"txpow txpowid:{evidence['transaction_id']}" in text
    assert f"txpow onchain:{evidence['transaction_id']}" in text
    assert evidence["state_data"] in text and "-archive" in text
    assert "SANDBOX" in text  # a simulated node's stamps are no proof


def test_stamp_with_node_from_the_settings_sends_a_plain_stamp_from_that_node(run_cli, sim_node, tmp_path,
                                                                             data_dir):
    """The Settings dialog's choice, made with `integritas config`: `stamp` without --node goes out
    from the node at node-url, followed to node-confirmations blocks."""
    for key, value in (("stamp-with", "node"), ("node-url", sim_node.url), ("node-confirmations", "1")):
        assert run_cli("config", "set", key, value)[0] == 0
    [file] = make_files(tmp_path, 1)
    sends = sim_node.sends
    code, [line], err = run_cli("stamp", "--wait", str(file))
    assert code == 0, err
    assert line["state"] == "confirmed" and sim_node.sends == sends + 1
    history = History(data_dir / "history.sqlite3")
    assert history.get_job(line["id"]).base_url == sim_node.url
    history.close()


def test_a_record_the_node_pruned_is_no_longer_on_this_node_never_not_on_chain(run_cli, make_node, sandbox,
                                                                              tmp_path):
    pruning = make_node(keep_blocks=4)
    [file] = make_files(tmp_path, 1)
    assert run_cli("stamp", "--node", pruning.url, "--wait", "--confirmations", "1", str(file))[0] == 0
    wait_blocks(sandbox.ledger, 6)
    code, lines, _ = run_cli("verify", "--node", pruning.url, str(file))
    assert code == 3
    node = by_level(lines[0])["node"]
    assert lines[0]["outcome"] == "no longer on this node" and node["status"] == "unavailable"
    assert "an archive node keeps all" in node["summary"] and "not on" not in node["summary"]
    archive = make_node(keep_blocks=None)
    assert run_cli("verify", "--node", archive.url, str(file))[0] == 0


def test_the_sandbox_command_runs_a_simulated_node_beside_the_service(tmp_path):
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "integritas_gui.sandbox", "--port", "0", "--node-port", "0",
                             "--node-password", "pw", "--block-time", "0.5"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = None
        for _ in range(5):
            line = proc.stdout.readline()
            if line.startswith("Simulated Minima node RPC on"):
                url = line.rsplit(" ", 1)[-1].strip()
                break
        assert url, proc.stderr.read() if proc.poll() is not None else "no node line"
        with MinimaNode(url, "pw") as node:
            assert node.status().version.endswith("sandbox")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stdout.close()
        proc.stderr.close()


def test_a_receipt_of_a_service_stamp_keeps_what_the_node_said_when_verified_on_it(run_cli, sim_node, sandbox,
                                                                                  tmp_path):
    [file] = make_files(tmp_path, 1)
    service = ("--base-url", sandbox.base_url, "--api-key", sandbox.api_key)
    assert run_cli("stamp", "--wait", str(file), *service)[0] == 0
    assert run_cli("verify", "--node", sim_node.url, str(file))[0] == 0
    code, [written], _ = run_cli("receipt", str(file))
    receipt = json.loads(Path(written["receipt"]).read_text())
    [evidence] = receipt["node_evidence"]
    assert evidence["block_number"] == receipt["confirmation"]["records"][0]["block_number"]
    assert receipt["stamp"]["request"]["endpoint"] == "/v2/timestamp/post"  # stamped by the service


def test_a_batch_killed_mid_way_resumes_with_every_hash_stamped_exactly_once(make_node, sandbox, tmp_path,
                                                                             data_dir):
    """The app is killed while the node is still mining its 4th send, and resumed before that send
    lands: the resume sends the two hashes never sent, finds the 4th once it lands, and sends
    nothing twice."""
    import os
    import signal
    import subprocess
    import sys
    import threading

    node = make_node(send_time=0.05, coins=30)
    in_flight, killed, release = threading.Event(), threading.Event(), threading.Event()
    held, resent = [], []
    send = node.cmd_send

    def held_send(params):  # the 4th send stays mining until the resumed app has sent the others
        digest = json.loads(params["state"])["99"]
        if killed.is_set():
            resent.append(digest)
            if digest in held or len(resent) == 2:
                release.set()
        elif not held and node.sends == 3:
            held.append(digest)
            in_flight.set()
            release.wait(60)
        return send(params)

    node.cmd_send = held_send
    files = make_files(tmp_path / "batch", 6)
    env = dict(os.environ, INTEGRITAS_DATA_DIR=str(data_dir), INTEGRITAS_BLOCK_TIME="0.2",
               INTEGRITAS_NODE_SEND_SETTLE="30")
    command = [sys.executable, "-m", "integritas_gui.cli"]
    proc = subprocess.Popen([*command, "stamp", "--node", node.url, "--json", *map(str, files)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert in_flight.wait(60), "the batch never reached its 4th send"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        killed.set()
    assert node.sends == 3
    try:
        done = subprocess.run([*command, "resume", "--node", node.url, "--wait", "--json"], env=env,
                              capture_output=True, text=True, timeout=120)
    finally:
        release.set()
    assert done.returncode == 0, done.stderr
    history = History(data_dir / "history.sqlite3")
    hashes = {job.sha3_256 for job in history.search(kind="stamp", limit=100)}
    assert len(hashes) == 6 and all(job.state == "confirmed" for job in history.search(kind="stamp", limit=100))
    for digest in hashes:
        assert len(sandbox.ledger.records_in_blocks(0, 10**9, digest)) == 1, digest
    assert len(resent) == 2 and node.sends == 6


def stamp_three_through(node, tmp_path, data_dir):
    """Three files stamped through ``node`` by the engine, to the end; (history, submitter, job ids)."""
    history = History(data_dir / "history.sqlite3")
    submitter = NodeStampClient(MinimaNode(node.url), history, confirmations=1)
    engine = Engine(history, submitter, confirm=ConfirmPolicy.for_block_time(0.2))
    ids = engine.add_files("stamp", make_files(tmp_path, 3))
    assert engine.wait_idle(60)
    engine.shutdown()
    return history, submitter, ids


def test_coins_that_need_several_blocks_before_they_can_be_spent_are_waited_for(make_node, tmp_path, data_dir):
    """A node may ask for a coin age of several blocks (coinage): the sends wait, nothing fails."""
    node = make_node(coin_age=3)
    history, submitter, ids = stamp_three_through(node, tmp_path, data_dir)
    assert [history.get_job(i).state for i in ids] == ["confirmed"] * 3
    assert node.sends == 3 and submitter.sent == 3


def test_a_coin_that_becomes_spendable_while_a_refused_send_is_looked_into_is_spent(make_node, tmp_path,
                                                                                       data_dir, monkeypatch):
    """On a busy machine the balance read after a refused send can come blocks later, when the change
    is spendable again: the send is tried again then, the stamp does not fail."""
    node = make_node(coin_age=3)
    real_balance = MinimaNode.balance

    def late_balance(self, *args):
        wait_blocks(node.ledger, node.coin_age)  # by then every coin of the wallet can be spent
        return real_balance(self, *args)

    monkeypatch.setattr(MinimaNode, "balance", late_balance)
    history, submitter, ids = stamp_three_through(node, tmp_path, data_dir)
    assert [(history.get_job(i).state, history.get_job(i).error) for i in ids] == [("confirmed", None)] * 3
    assert node.sends == 3 and submitter.sent == 3


def test_refusals_worded_in_message_and_a_password_for_an_unlocked_wallet_read_plainly(sim_node):
    from integritas_gui.core.minima_node import INTEGRITAS_ADDRESS, STAMP_AMOUNT, NodeError

    with MinimaNode(sim_node.url) as node:
        with pytest.raises(NodeError) as too_much:
            node.send(INTEGRITAS_ADDRESS, "99999999")  # more than the wallet holds
        assert too_much.value.kind == "no_coins" and "Insufficient funds" in too_much.value.message
        with pytest.raises(NodeError) as unlocked:
            node.send(INTEGRITAS_ADDRESS, STAMP_AMOUNT, password="not-needed")
        assert unlocked.value.kind == "refused" and "not locked" in unlocked.value.message
        assert "not-needed" not in unlocked.value.message


def test_node_status_says_whether_the_app_can_talk_to_the_node(run_cli, make_node, monkeypatch):
    node = make_node(rpc_password="pw-for-status", coins=2)
    code, _, err = run_cli("node", "status", "--node", node.url)
    assert code == 3 and "401" in err
    monkeypatch.setenv("INTEGRITAS_NODE_PASSWORD", "pw-for-status")
    code, [line], _ = run_cli("node", "status", "--node", node.url)
    assert code == 0 and line["coins"] == 2 and line["block"] > 0 and line["locked"] is False


def test_node_password_set_with_config_is_used_and_never_printed(run_cli, make_node, monkeypatch, capsys):
    import io
    import sys

    import keyring

    from integritas_gui import cli
    from tests.keyrings import MemoryKeyring

    node = make_node(rpc_password="pw-from-config-7d1", coins=1)
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    try:
        assert cli.main(["config", "set", "node-password", "pw-on-the-command-line"]) == 2
        assert "stdin" in capsys.readouterr().err
        monkeypatch.setattr(sys, "stdin", io.StringIO("pw-from-config-7d1\n"))
        assert cli.main(["config", "set", "node-password", "-"]) == 0
        assert backend.passwords == {("integritas-desktop", "minima-node-rpc-password"): "pw-from-config-7d1"}
        assert cli.main(["config", "list"]) == 0
        listed = capsys.readouterr()
        assert "node-password = stored in the system keyring" in listed.out
        assert "pw-from-config-7d1" not in listed.out + listed.err
        code, [line], err = run_cli("node", "status", "--node", node.url)
        assert code == 0 and line["coins"] == 1, err
        assert cli.main(["config", "unset", "node-password"]) == 0
        assert backend.passwords == {}
        capsys.readouterr()
        assert run_cli("node", "status", "--node", node.url)[0] == 3  # the node refuses again
    finally:
        keyring.set_keyring(previous)


def test_a_batch_through_the_node_shows_sends_left_and_time_left_on_a_terminal(make_node, tmp_path, data_dir):
    """On a terminal the batch's progress line says which send is going out of how many, and the time
    left once sends were timed; the results on stdout stay as they are."""
    import os
    import pty
    import re
    import select
    import subprocess
    import sys

    node = make_node(send_time=0.25)
    files = make_files(tmp_path / "batch", 6)
    env = dict(os.environ, INTEGRITAS_BLOCK_TIME="0.2", COLUMNS="200")
    master, terminal = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "integritas_gui.cli", "stamp", "--node", node.url,
                             *map(str, files)], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=terminal)
    os.close(terminal)
    drawn = b""
    try:
        while True:
            ready, _, _ = select.select([master], [], [], 60)
            assert ready, "the stamp command went silent"
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the command ended and closed the terminal
                break
            if not chunk:
                break
            drawn += chunk
        stdout = proc.communicate(timeout=60)[0].decode()
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, drawn.decode(errors="replace")
    lines = [part for part in drawn.decode(errors="replace").replace("\r\n", "\n").split("\r") if part.strip()]
    sending = [line for line in lines if "through your node" in line]
    assert any(re.search(r"sending [1-6] of 6 through your node", line) for line in sending), lines
    timed = [line for line in sending if re.search(r" · \d+(\.\d)?/min · about \d+ (s|min) left", line)]
    assert timed, sending  # once two sends were timed, a rate and a time left
    assert all("left" in line for line in sending)  # never without a word on the time left
    assert len([line for line in stdout.splitlines() if "pending on chain  sha3_256=" in line]) == 6
    assert "through your node" not in stdout  # progress never reaches the results
