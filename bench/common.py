"""Shared helpers for the benchmark scripts: timed child processes, interleaved repeats, the table.

Every figure is measured against a reference taken in the same run (interleaved, repeated, median),
so a busy machine moves both sides and the ratio stays meaningful.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

ROOT = Path(__file__).resolve().parent.parent
BENCH_TMP = os.environ.get("INTEGRITAS_BENCH_TMP", "/tmp" if os.path.isdir("/tmp") else None)

PASS, MISS, NOT_MEASURED, INFO, ERROR = "PASS", "MISS", "NOT MEASURED", "INFO", "ERROR"


@dataclass
class Row:
    figure: str
    measured: str
    reference: str = "-"
    ratio: str = "-"
    target: str = "-"
    result: str = INFO


def verdict(ok: bool) -> str:
    return PASS if ok else MISS


def not_measured(figure: str, why: str, target: str = "-") -> Row:
    return Row(figure, why, "-", "-", target, NOT_MEASURED)


def print_table(rows: Sequence[Row], title: str = "", stream=None) -> None:
    stream = stream or sys.stdout
    header = ("figure", "measured", "reference", "ratio", "target", "result")
    cells = [header] + [(r.figure, r.measured, r.reference, r.ratio, r.target, r.result) for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(header))]
    if title:
        print(f"\n== {title} ==", file=stream)
    for n, cell in enumerate(cells):
        print("  ".join(v.ljust(w) for v, w in zip(cell, widths)).rstrip(), file=stream)
        if n == 0:
            print("  ".join("-" * w for w in widths), file=stream)
    stream.flush()


# ---- child processes ---------------------------------------------------------------------------
@dataclass
class Measured:
    wall: float
    user: float
    sys: float
    max_rss_kib: int
    returncode: int
    stdout: bytes = b""
    stderr_tail: str = ""

    @property
    def cpu(self) -> float:
        return self.user + self.sys


# A child's peak RSS from wait4 counts the memory of the image it was exec'ed from: Python starts
# children with vfork, so once the bench process had grown to 1 GB every child "peaked" at 1 GB.
# Children therefore start through this small launcher, which forks the command from its own small
# image and reports the command's pid (so a timeout kills the command itself), then its wall time
# and rusage.
_LAUNCHER = r"""
import os, sys, time
report = int(sys.argv[1])
started = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.close(report)
    try:
        os.execvp(sys.argv[2], sys.argv[2:])
    except OSError as exc:
        os.write(2, ("cannot start %s: %s\n" % (sys.argv[2], exc)).encode())
    os._exit(127)
os.write(report, b"%d\n" % pid)
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - started
os.write(report, b"%r %r %r %d %d\n" % (wall, usage.ru_utime, usage.ru_stime, usage.ru_maxrss, status))
"""


def run_measured(cmd: Sequence[str], *, env: dict | None = None, capture: bool = False,
                 timeout: float | None = None, cwd: str | None = None) -> Measured:
    """Run ``cmd``; wall time, CPU time and peak RSS of that child alone (``wait4`` in a small
    launcher: see _LAUNCHER)."""
    cmd = list(cmd)
    search = (env or os.environ).get("PATH")
    if os.sep not in cmd[0] and shutil.which(cmd[0], path=search) is None:
        raise FileNotFoundError(f"{cmd[0]} is not installed")
    out_path = None
    if capture:
        handle, out_path = tempfile.mkstemp(prefix="integritas-bench-out-", dir=BENCH_TMP)
        stdout = handle
    else:
        stdout = subprocess.DEVNULL
    started = time.perf_counter()
    errors = tempfile.TemporaryFile(dir=BENCH_TMP)
    report_r, report_w = os.pipe()
    proc = subprocess.Popen([sys.executable, "-S", "-c", _LAUNCHER, str(report_w), *cmd], stdout=stdout,
                            stderr=errors, env=env, cwd=cwd, pass_fds=(report_w,))
    os.close(report_w)
    if capture:
        os.close(handle)
    with os.fdopen(report_r, "rb") as report:
        child = int(report.readline() or 0)
        deadline = None if timeout is None else started + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if deadline is not None and time.perf_counter() > deadline:
                if child:
                    os.kill(child, signal.SIGKILL)
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.002)
        wall = time.perf_counter() - started
        user, system, max_rss = usage.ru_utime, usage.ru_stime, usage.ru_maxrss
        figures = report.readline().split()
    if len(figures) == 5:  # the command's own figures, as the launcher measured them
        wall, user, system, max_rss, status = float(figures[0]), float(figures[1]), float(figures[2]), \
            int(figures[3]), int(figures[4])
    proc.returncode = os.waitstatus_to_exitcode(status)
    data = b""
    if out_path:
        data = Path(out_path).read_bytes()
        os.unlink(out_path)
    errors.seek(0)
    tail = errors.read()[-2000:].decode(errors="replace")
    errors.close()
    if proc.returncode:
        sys.stderr.write(tail)
    return Measured(wall, user, system, max_rss, proc.returncode, data, tail)


def interleaved(subjects: dict[str, Callable[[], Measured]], repeats: int) -> dict[str, list[Measured]]:
    """Run every subject ``repeats`` times, rotating the order each round (ABC, BCA, CAB, ...)."""
    names = list(subjects)
    results: dict[str, list[Measured]] = {n: [] for n in names}
    for round_ in range(repeats):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            results[name].append(subjects[name]())
    return results


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def integritas_cmd() -> list[str]:
    found = shutil.which("integritas")
    return [found] if found else [sys.executable, "-m", "integritas_gui.cli"]


def gui_cmd() -> list[str]:
    found = shutil.which("integritas-gui")
    return [found] if found else [sys.executable, "-m", "integritas_gui"]


def gui_exists() -> bool:
    return (ROOT / "integritas_gui" / "__main__.py").exists()


def fmt_s(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def fmt_mb(kib: float) -> str:
    return f"{kib * 1024 / 1e6:.1f} MB"


def fmt_rate(bytes_per_s: float) -> str:
    return f"{bytes_per_s / 1e6:.0f} MB/s"


@contextlib.contextmanager
def scratch_dir(tag: str) -> Iterator[Path]:
    """A folder under /tmp, removed afterwards whatever happens."""
    path = Path(tempfile.mkdtemp(prefix=f"integritas-bench-{tag}-", dir=BENCH_TMP))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def write_file(path: Path, size: int, seed: int = 0) -> Path:
    """``size`` bytes of incompressible-looking data (a rotated random block), written quickly."""
    block = os.urandom(1 << 20)
    with open(path, "wb") as out:
        left, n = size, seed
        while left > 0:
            cut = (n * 7919) % len(block)
            piece = (block[cut:] + block[:cut])[: min(left, len(block))]
            out.write(piece)
            left -= len(piece)
            n += 1
    return path


def warm(path: Path) -> None:
    """Read a file once so every subject meets it in the page cache."""
    with open(path, "rb", buffering=0) as f:
        buf = bytearray(1 << 20)
        while f.readinto(buf):
            pass


def cli_env(data_dir: Path | None = None, **extra: str) -> dict:
    env = dict(os.environ)
    env.pop("INTEGRITAS_API_KEY", None)
    if data_dir is not None:
        env["INTEGRITAS_DATA_DIR"] = str(data_dir)
    env.update(extra)
    return env


# ---- the sandbox as its own process ------------------------------------------------------------
@dataclass
class SandboxProcess:
    proc: subprocess.Popen
    base_url: str
    api_key: str

    def stats(self) -> dict:
        with urllib.request.urlopen(self.base_url + "/_sandbox/stats", timeout=10) as response:
            return json.loads(response.read())

    def cpu_seconds(self) -> float | None:
        """User + system CPU the sandbox process used so far (Linux /proc), or None elsewhere."""
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def sandbox_process(*extra: str, block_time: float = 0.2) -> Iterator[SandboxProcess]:
    """`integritas-sandbox --port 0` in its own process (its own GIL, like a real service)."""
    api_key = "bench-key-" + os.urandom(6).hex()
    found = shutil.which("integritas-sandbox")
    cmd = ([found] if found else [sys.executable, "-m", "integritas_gui.sandbox"])
    cmd += ["--port", "0", "--block-time", str(block_time), "--api-key", api_key, *extra]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        base_url = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            if "listening on" in line:
                base_url = line.rsplit(" ", 1)[-1].strip()
                break
        if not base_url:
            raise RuntimeError("the sandbox did not start")
        yield SandboxProcess(proc, base_url, api_key)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout:
            proc.stdout.close()


# ---- running one script ------------------------------------------------------------------------
def main(title: str, run: Callable[[bool], list[Row]]) -> int:
    parser = argparse.ArgumentParser(description=title)
    parser.add_argument("--quick", action="store_true", help="small sizes: proves the script works")
    args = parser.parse_args()
    rows = run(args.quick)
    print_table(rows, title + (" (quick: sizes too small to judge speed)" if args.quick else ""))
    return 0
