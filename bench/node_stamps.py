"""Stamps per minute through the user's own Minima node: `integritas stamp --node URL` of N small
files against the sandbox's simulated node (its own process) with a realistic time per send (the
node mines each transaction before it answers, ~1.2 s on a real node) and one block every
BLOCK_TIME s. The reference, from the same run, is the node's own ceiling: 60 / send time stamps per
minute (one send at a time). Figures: the sending rate (first to last send, from the history) and
the whole command including the coin split and the wait for the split coins' block.
"""

from __future__ import annotations

import os
import socket
import sys
import time

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(__file__))
import common as c

TITLE = "node stamps"
FIGURES = ("stamps per minute through the node",)
SEND_TIME = 1.2
BLOCK_TIME = 10.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def submitted_times(data_dir) -> list[float]:
    from datetime import datetime

    from integritas_gui.core.history import History
    from integritas_gui.core.paths import app_dirs

    history = History(app_dirs(data_dir).history_db)
    try:
        jobs = history.search(kind="stamp", limit=100_000)
    finally:
        history.close()
    return sorted(datetime.strptime(j.submitted_at, "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()
                  for j in jobs if j.submitted_at)


def run(quick: bool) -> list[c.Row]:
    count = 6 if quick else 60
    send_time = 0.2 if quick else SEND_TIME
    block_time = 2.0 if quick else BLOCK_TIME
    port = free_port()
    with c.scratch_dir("node") as folder:
        files = folder / "files"
        files.mkdir()
        for n in range(count):
            (files / f"f{n:04d}.txt").write_bytes(os.urandom(16) * 64)
        data = folder / "data"
        extra = ("--node-port", str(port), "--node-send-time", str(send_time))
        with c.sandbox_process(*extra, block_time=block_time):
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:  # the node's RPC starts just after the service
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.05)
            cmd = [*c.integritas_cmd(), "stamp", str(files), "--json", "--node", url]
            result = c.run_measured(cmd, env=c.cli_env(data), capture=True, timeout=900)
        sent = submitted_times(data)
    ceiling = 60 / send_time
    if result.returncode != 0 or len(sent) != count:
        return [c.Row(FIGURES[0], f"ERROR: exit {result.returncode}, {len(sent)}/{count} sent", result=c.ERROR)]
    sending = (len(sent) - 1) / max(1e-6, sent[-1] - sent[0]) * 60
    overall = count / result.wall * 60
    return [
        c.Row(FIGURES[0], f"{sending:.1f}/min sending ({count} stamps, {send_time} s per send)",
              f"{ceiling:.1f}/min (60 / send time)", f"{sending / ceiling:.2f}x", ">= 0.90x",
              c.verdict(sending / ceiling >= 0.9)),
        c.Row("node stamps whole command (info)",
              f"{overall:.1f}/min ({c.fmt_s(result.wall)} incl. coin split + one {block_time:.0f} s block)",
              f"{ceiling:.1f}/min", f"{overall / ceiling:.2f}x"),
    ]


if __name__ == "__main__":
    sys.exit(c.main(TITLE, run))
