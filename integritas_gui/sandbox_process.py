"""The trial sandbox and its simulated Minima node in a process of their own, started and stopped
by the app.

``child_command`` is how this program starts itself in another mode: ``python -m integritas_gui
--MODE`` from source, ``<executable> --MODE`` when frozen (one executable holds every mode).
Nothing here imports Qt.
"""

from __future__ import annotations

import logging
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time

log = logging.getLogger(__name__)

SANDBOX_MODE = "--sandbox-service"
ENGINE_MODE = "--engine"
START_TIMEOUT_S = 30.0
LISTENING = re.compile(r"Integritas sandbox listening on (http://127\.0\.0\.1:\d+/core)$")
NODE_LISTENING = re.compile(r"Simulated Minima node RPC on (http://127\.0\.0\.1:\d+)$")
KEY_PREFIX = "API key: "


def child_command(mode: str) -> list[str]:
    """The command line that runs this program in ``mode`` (``--engine``, ``--sandbox-service``)."""
    if getattr(sys, "frozen", False):
        return [sys.executable, mode]
    return [sys.executable, "-m", "integritas_gui", mode]


class SandboxProcess:
    """``integritas-sandbox`` on a free loopback port with its ledger in ``db``, and a simulated
    Minima node on the same ledger (``node_url``; each send takes ``node_send_time`` s). It ends
    with ``close``, and on its own once its stdin closes (the app has gone, even by a crash)."""

    def __init__(self, db: str, block_time: float, *, node_send_time: float = 1.2,
                 timeout: float = START_TIMEOUT_S):
        self.block_time = block_time
        self.process = subprocess.Popen(
            [*child_command(SANDBOX_MODE), "--port", "0", "--block-time", str(block_time), "--db", db,
             "--node-port", "0", "--node-send-time", str(node_send_time)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            encoding="utf-8", errors="replace",
            creationflags=getattr(subprocess, "CREATE_NO_WINDOW", 0),  # Windows: no console window
        )
        self.base_url: str | None = None
        self.api_key: str | None = None
        self.node_url: str | None = None
        lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, args=(lines,), name="sandbox-output", daemon=True).start()
        deadline = time.monotonic() + timeout
        seen: list[str] = []
        while self.base_url is None or self.api_key is None:
            try:
                line = lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                line = None
            if line is None:
                self.close()
                raise RuntimeError("The local sandbox did not start: " + (" ".join(seen[-3:]) or
                                   "no answer") + ". Details are in the log.")
            seen.append(line)
            if match := LISTENING.fullmatch(line):
                self.base_url = match.group(1)
            elif match := NODE_LISTENING.fullmatch(line):
                self.node_url = match.group(1)
            elif line.startswith(KEY_PREFIX):
                self.api_key = line.removeprefix(KEY_PREFIX)
        log.info("Trial mode: local sandbox at %s (block time %.1f s, pid %d), simulated Minima node "
                 "at %s", self.base_url, block_time, self.process.pid, self.node_url)

    @property
    def pid(self) -> int:
        return self.process.pid

    def _pump(self, lines: "queue.Queue[str | None]") -> None:
        for line in self.process.stdout:
            line = line.rstrip("\n")
            if self.api_key is None:
                lines.put(line)
            elif line:
                log.info("sandbox: %s", line)
        lines.put(None)

    def close(self, timeout: float = 10.0) -> None:
        if self.process.poll() is None:
            try:
                self.process.stdin.close()  # the sandbox stops on its own when its stdin closes
            except OSError:
                pass
            try:
                self.process.wait(timeout=timeout / 2)
            except subprocess.TimeoutExpired:
                self.process.terminate()
                try:
                    self.process.wait(timeout=timeout / 2)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()


def serve_sandbox(argv: list[str]) -> int:
    """The sandbox mode: ``integritas-sandbox`` with ``argv``, stopping when stdin closes."""
    from integritas_gui.sandbox.__main__ import main as sandbox_main

    def watch_stdin() -> None:
        try:
            while sys.stdin.buffer.read(4096):
                pass
        except (OSError, ValueError):
            pass
        os.kill(os.getpid(), signal.SIGTERM)  # the sandbox's own clean stop

    if sys.stdin is not None and not sys.stdin.isatty():
        threading.Thread(target=watch_stdin, name="parent-watch", daemon=True).start()
    return sandbox_main(argv)
