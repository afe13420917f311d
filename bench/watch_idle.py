"""A watched tree of 100,000 small files: `integritas watch` as its own process against the sandbox
(its own process, 0.2 s blocks).

1. First start: every file is new, so each is hashed and stamped once (time to all hashed, and to
   all confirmed). 2. Second start, nothing changed: the scan's time against a bare ``os.walk`` +
   ``stat`` of the same tree in this run, and the number of files hashed (jobs created: 0 expected).
3. Idle: the watch process's CPU over a window (/proc/<pid>/stat) and its peak memory (VmHWM).
4. Latency: from writing a new file, or appending to one, to its stamp being sent (the job's
   ``submitted_at``), with the default 3 s settle time.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(__file__))
import common as c

TITLE = "watched folder"
FIGURES = ("watch second start scan", "watch files hashed on second start", "watch idle CPU",
           "watch peak memory", "watch pick-up latency")
FULL = dict(files=100_000, per_dir=100, idle=60.0, samples=5)
QUICK = dict(files=2_000, per_dir=100, idle=5.0, samples=2)


def make_tree(root: Path, files: int, per_dir: int) -> None:
    for i in range(files):
        folder = root / f"d{i // per_dir:05d}"
        if i % per_dir == 0:
            folder.mkdir(parents=True)
        (folder / f"f{i:06d}.txt").write_bytes(f"file {i} of the watched tree\n".encode())


def bare_walk(root: Path) -> float:
    started = time.perf_counter()
    for folder, _dirs, names in os.walk(root):
        for name in names:
            os.stat(os.path.join(folder, name))
    return time.perf_counter() - started


def proc_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def vm_hwm_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


class Watch:
    """`integritas watch ROOT --recursive --json` in the background; scan lines are collected."""

    def __init__(self, root: Path, data: Path, sandbox):
        env = c.cli_env(data, INTEGRITAS_BLOCK_TIME="0.2")
        cmd = c.integritas_cmd() + ["watch", str(root), "--recursive", "--json", "--base-url",
                                    sandbox.base_url, "--api-key", sandbox.api_key]
        self.proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.scans: list[dict] = []
        self.started = time.monotonic()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            if '"event": "scan"' in line:
                self.scans.append({**json.loads(line), "at": time.monotonic()})

    def wait_scan(self, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while not self.scans:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("the watch process did not finish its first scan")
            time.sleep(0.05)
        return self.scans[0]

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)  # SIGINT is ignored by children of a background shell job
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def count(db: Path, where: str = "1") -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as conn:
        return conn.execute(f"SELECT COUNT(*) FROM jobs WHERE kind = 'stamp' AND {where}").fetchone()[0]


def wait_count(db: Path, where: str, target: int, timeout: float) -> float:
    started = time.monotonic()
    while count(db, where) < target:
        if time.monotonic() - started > timeout:
            raise RuntimeError(f"only {count(db, where)} of {target} jobs reached {where!r}")
        time.sleep(0.5)
    return time.monotonic() - started


def latency(db: Path, path: Path, wrote_at: float, since_id: int, timeout: float = 30.0) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as conn:
            row = conn.execute("SELECT submitted_at FROM jobs WHERE path = ? AND id > ? AND submitted_at"
                               " IS NOT NULL", (str(path), since_id)).fetchone()
        if row:
            sent = datetime.fromisoformat(row[0].replace("Z", "+00:00")).timestamp()
            return sent - wrote_at
        time.sleep(0.05)
    raise RuntimeError(f"{path} was not stamped within {timeout:.0f} s")


def max_id(db: Path) -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as conn:
        return conn.execute("SELECT COALESCE(MAX(id), 0) FROM jobs").fetchone()[0]


def run(quick: bool) -> list[c.Row]:
    size = QUICK if quick else FULL
    n = size["files"]
    rows: list[c.Row] = []
    with c.scratch_dir("watch") as scratch, c.sandbox_process() as sandbox:
        root, data = scratch / "tree", scratch / "data"
        make_tree(root, n, size["per_dir"])
        db = data / "history.sqlite3"

        first = Watch(root, data, sandbox)
        scan1 = first.wait_scan(600)
        hashed_s = (scan1["at"] - first.started) + wait_count(db, "sha3_256 IS NOT NULL", n, 3600)
        confirmed_s = hashed_s + wait_count(db, "state = 'confirmed'", n, 3600)
        first_hwm = vm_hwm_kib(first.proc.pid)
        first.stop()
        rows.append(c.Row("watch first start (info)",
                          f"{n:,} new files: walked in {c.fmt_s(scan1['seconds'])}, all hashed and sent in "
                          f"{c.fmt_s(hashed_s)} ({n / hashed_s:.0f} files/s), confirmed in "
                          f"{c.fmt_s(confirmed_s)}"))

        walks = [bare_walk(root) for _ in range(3)]
        jobs_before = max_id(db)
        second = Watch(root, data, sandbox)
        scan2 = second.wait_scan(600)
        reference = statistics.median(walks)
        rows.append(c.Row(FIGURES[0], f"{c.fmt_s(scan2['seconds'])} for {scan2['files']:,} files",
                          f"{c.fmt_s(reference)} (bare os.walk + stat, median of 3)",
                          f"{scan2['seconds'] / reference:.1f}x", "-", c.INFO))
        time.sleep(2)
        hashed_again = max_id(db) - jobs_before
        rows.append(c.Row(FIGURES[1], f"{hashed_again} (changed: {scan2['changed']})",
                          f"{n:,} on the first start", "-", "0", c.verdict(hashed_again == 0)))

        cpu_before, t_before = proc_cpu(second.proc.pid), time.monotonic()
        time.sleep(size["idle"])
        cpu = (proc_cpu(second.proc.pid) - cpu_before) / (time.monotonic() - t_before)
        rows.append(c.Row(FIGURES[2], f"{cpu * 100:.2f}% of one core over {size['idle']:.0f} s", "-", "-",
                          "< 1%", c.verdict(cpu < 0.01)))

        waits = []
        for i in range(size["samples"]):
            since = max_id(db)
            fresh = root / "d00000" / f"new {i}.txt"
            wrote = time.time()
            fresh.write_text(f"new file {i}")
            waits.append(latency(db, fresh, wrote, since))
            since = max_id(db)
            changed = root / "d00001" / f"f{100 + i:06d}.txt"
            wrote = time.time()
            with open(changed, "a") as handle:
                handle.write("changed\n")
            waits.append(latency(db, changed, wrote, since))
        rows.append(c.Row(FIGURES[4], f"max {max(waits):.2f} s, median {statistics.median(waits):.2f} s "
                                      f"({len(waits)} new and changed files)",
                          "3 s settle time (default)", "-", "< 5 s", c.verdict(max(waits) < 5)))
        hwm = vm_hwm_kib(second.proc.pid)
        rows.append(c.Row(FIGURES[3], f"{c.fmt_mb(hwm)} VmHWM (second start, {n:,} files known)",
                          f"{c.fmt_mb(first_hwm)} (first start: {n:,} files hashed and stamped)", "-",
                          "bounded", c.INFO))
        second.stop()
    return rows


if __name__ == "__main__":
    sys.exit(c.main(TITLE, run))
