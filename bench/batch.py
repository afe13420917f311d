"""Batch: 10,000 small files hashed, stamped and confirmed against the sandbox (block time 0.2 s)
with `integritas stamp --wait`, end to end. Target: < 60 s and nothing lost: every job confirmed in
the history database, every hash anchored in the sandbox, one JSON result line per file. The
reference is `integritas hash` over the same folder in the same run (the local share of the work).
"""

from __future__ import annotations

import json
import os
import sys

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(__file__))
import common as c

TITLE = "batch"
FIGURES = ("batch 10,000 files stamped and confirmed",)
BLOCK_TIME = 0.2


def make_small_files(folder, count: int, size: int = 1024) -> None:
    seed = os.urandom(16)
    for n in range(count):
        sub = folder / f"d{n // 1000:02d}"
        sub.mkdir(exist_ok=True)
        (sub / f"f{n:05d}.txt").write_bytes((seed + n.to_bytes(8, "big")) * (size // 24) + b"\n")


def lost_report(data_dir, lines: bytes, count: int, stats: dict) -> tuple[int, str]:
    """(files lost, how it was checked) from the history DB, the CLI's output and the sandbox."""
    from integritas_gui.core.history import History
    from integritas_gui.core.paths import app_dirs

    history = History(app_dirs(data_dir).history_db)
    try:
        states = history.count_by_state()
    finally:
        history.close()
    confirmed = states.get("confirmed", 0)
    printed = sum(1 for line in lines.splitlines()
                  if line.strip() and json.loads(line).get("state") == "confirmed")
    anchored = stats.get("anchored_hashes", 0)
    lost = count - min(confirmed, printed, anchored)
    detail = (f"history {confirmed} confirmed {dict(sorted(states.items()))}; output {printed} lines "
              f"confirmed; sandbox {anchored} anchored, {stats.get('requests', 0)} requests")
    return lost, detail


def run_batch(folder, count: int, *extra_sandbox: str, wait: bool = True, timeout: float = 600):
    """Stamp ``count`` fresh small files through the CLI against a fresh sandbox process."""
    files = folder / "files"
    files.mkdir()
    make_small_files(files, count)
    data = folder / "data"
    env = c.cli_env(data, INTEGRITAS_BLOCK_TIME=str(BLOCK_TIME))
    with c.sandbox_process(*extra_sandbox, block_time=BLOCK_TIME) as sandbox:
        cmd = [*c.integritas_cmd(), "stamp", str(files), "--json", "--base-url", sandbox.base_url,
               "--api-key", sandbox.api_key] + (["--wait"] if wait else [])
        result = c.run_measured(cmd, env=env, capture=True, timeout=timeout)
        stats = sandbox.stats()
        stats["sandbox_cpu"] = sandbox.cpu_seconds()
    return files, data, result, stats


def run(quick: bool) -> list[c.Row]:
    count = 60 if quick else 10_000
    with c.scratch_dir("batch") as folder:
        files, data, result, stats = run_batch(folder, count)
        hashed = c.run_measured([*c.integritas_cmd(), "hash", str(files)], env=c.cli_env(folder / "hash-data"))
        lost, detail = lost_report(data, result.stdout, count, stats)
    ok = result.returncode == 0 and lost == 0 and result.wall < 60
    return [
        c.Row(FIGURES[0], f"{c.fmt_s(result.wall)}, {lost} lost ({count} files, exit {result.returncode})",
              f"{c.fmt_s(hashed.wall)} (integritas hash, same files)", f"{result.wall / hashed.wall:.1f}x",
              "< 60 s, 0 lost", c.verdict(ok)),
        c.Row("batch check (info)", detail),
        c.Row("batch CPU (info)", f"CLI {result.cpu:.1f} s CPU, peak {c.fmt_mb(result.max_rss_kib)}; "
              + (f"sandbox {stats['sandbox_cpu']:.1f} s CPU" if stats.get("sandbox_cpu") is not None
                 else "sandbox CPU not measured"),
              f"{count / result.wall:.0f} files/s"),
    ]


if __name__ == "__main__":
    sys.exit(c.main(TITLE, run))
