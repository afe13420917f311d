"""Batch: what stamping many files costs a user of a real, rate-limited service.

`integritas stamp --wait` of small files against a sandbox process with a realistic rate limit
(100 requests a minute, as an API gateway allows) and Minima's 50 s blocks, scaled down in time:
``SCALE`` times faster (limit 100 per 60/SCALE s, blocks every 50/SCALE s), so a thousand files
show in seconds what 10,000 do in hours. The CLI's follow-up is timed (INTEGRITAS_BLOCK_TIME) so its
first check comes at the same share of a block as the real policy's (10 s of 50 s).

Figures:
  * requests per confirmed stamp: requests the sandbox accepted / stamps confirmed. Each stamp
    needs at least 2 (the stamp, then one verify for its block; check alone gives no block).
  * time to confirm 10,000 files at 100 requests a minute: the scaled wall time x SCALE x
    10,000 / files (an upper bound: the last block's wait is scaled up too). Reference: the floor
    that 2 requests per stamp set, 10,000 x 2 / 100 per minute = 200 min.
  * client CPU per file: the CLI's user + system CPU / files; reference: `integritas hash` of the
    same files (the local share of the work).
Nothing may be lost: every job confirmed in the history, in the output and in the sandbox.

    python bench/batch.py [--quick] [--before PATH_TO_OTHER_INTEGRITAS] [--repeats N]

``--before`` measures another build's CLI (e.g. /work/main/.venv/bin/integritas) in the same run,
against the same files and the same kind of fresh sandbox, interleaved with this one.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(__file__))
import common as c

TITLE = "batch"
FIGURES = ("batch requests per confirmed stamp", "batch 10,000 files confirmed at 100 req/min",
           "batch client CPU per file")
BLOCK_TIME = 0.2  # the unlimited batch (used by rate_limit.py)
REAL_LIMIT, REAL_WINDOW, REAL_BLOCK = 100, 60.0, 50.0
TARGET_FILES = 10_000
FLOOR_PER_STAMP = 2  # a stamp, then one verify for its block


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


def follow_timing(block_time: float) -> float:
    """The INTEGRITAS_BLOCK_TIME whose follow-up (ConfirmPolicy.for_block_time: first check at
    1.2 blocks) checks first at the real policy's share of a Minima block (10 s of 50 s)."""
    from integritas_gui.core.engine import ConfirmPolicy

    return block_time * ConfirmPolicy().first_delay / REAL_BLOCK / 1.2


def stamp_files(files, data, *extra_sandbox: str, wait: bool = True, timeout: float = 600,
                block_time: float = BLOCK_TIME, cli: list[str] | None = None,
                follow_block_time: float | None = None):
    """`integritas stamp` of the folder ``files`` (history in ``data``) against a fresh sandbox."""
    env = c.cli_env(data, INTEGRITAS_BLOCK_TIME=f"{follow_block_time or block_time:g}")
    with c.sandbox_process(*extra_sandbox, block_time=block_time) as sandbox:
        cmd = [*(cli or c.integritas_cmd()), "stamp", str(files), "--json", "--base-url",
               sandbox.base_url, "--api-key", sandbox.api_key] + (["--wait"] if wait else [])
        result = c.run_measured(cmd, env=env, capture=True, timeout=timeout)
        stats = sandbox.stats()
        stats["sandbox_cpu"] = sandbox.cpu_seconds()
    return result, stats


def run_batch(folder, count: int, *extra_sandbox: str, wait: bool = True, timeout: float = 600):
    """Stamp ``count`` fresh small files through the CLI against a fresh sandbox process."""
    files = folder / "files"
    files.mkdir()
    make_small_files(files, count)
    data = folder / "data"
    result, stats = stamp_files(files, data, *extra_sandbox, wait=wait, timeout=timeout)
    return files, data, result, stats


def sizes(quick: bool) -> tuple[int, float]:
    """(files, time scale): quick proves the script works; the full size judges the figures."""
    return (40, 60.0) if quick else (1000, 30.0)


def measure(folder, files, count: int, scale: float, cli: list[str] | None, tag: str) -> dict:
    """One scaled, rate-limited batch; the figures of docs/benchmarks.md for it."""
    limit = f"{REAL_LIMIT}/{REAL_WINDOW / scale:g}"
    block_time = REAL_BLOCK / scale
    data = folder / f"data-{tag}"
    result, stats = stamp_files(files, data, "--rate-limit", limit, block_time=block_time, cli=cli,
                                follow_block_time=follow_timing(block_time), timeout=1800)
    lost, detail = lost_report(data, result.stdout, count, stats)
    accepted = stats.get("requests", 0) - stats.get("rate_limited", 0)
    confirmed = count - lost
    return {
        "result": result, "stats": stats, "lost": lost, "detail": detail, "limit": limit,
        "block_time": block_time, "accepted": accepted,
        "per_stamp": accepted / max(1, confirmed),
        "minutes_10k": result.wall * scale * TARGET_FILES / count / 60,
        "cpu_ms": result.cpu / count * 1000,
    }


def rows_for(m: dict, count: int, hashed: c.Measured, label: str = "", walls: str = "") -> list[c.Row]:
    result, stats = m["result"], m["stats"]
    floor = TARGET_FILES * FLOOR_PER_STAMP / REAL_LIMIT  # minutes
    ok_run = result.returncode == 0 and m["lost"] == 0
    hash_ms = hashed.cpu / count * 1000
    suffix = f" ({label})" if label else ""
    return [
        c.Row(FIGURES[0] + suffix,
              f"{m['per_stamp']:.2f} ({m['accepted']} accepted for {count - m['lost']} confirmed; "
              f"{stats.get('checks', 0)} checks, {stats.get('verifications', 0)} verify)",
              f"{FLOOR_PER_STAMP} (stamp + verify)", f"{m['per_stamp'] / FLOOR_PER_STAMP:.2f}x",
              "<= 2.2, 0 lost", c.verdict(ok_run and m["per_stamp"] <= 2.2)),
        c.Row(FIGURES[1] + suffix,
              f"{m['minutes_10k']:.0f} min (measured {c.fmt_s(result.wall)} for {count} files at "
              f"{m['limit']} req/s, {m['block_time']:.2f} s blocks)",
              f"{floor:.0f} min (2 req/stamp)", f"{m['minutes_10k'] / floor:.2f}x", "<= 1.25x",
              c.verdict(ok_run and m["minutes_10k"] <= 1.25 * floor)),
        c.Row(FIGURES[2] + suffix, f"{m['cpu_ms']:.1f} ms ({result.cpu:.1f} s CPU)",
              f"{hash_ms:.1f} ms (integritas hash)", f"{m['cpu_ms'] / max(hash_ms, 1e-9):.1f}x",
              "< 5 ms", c.verdict(ok_run and m["cpu_ms"] < 5)),
        c.Row("batch check (info)" + suffix,
              f"{m['detail']}; {stats.get('rate_limited', 0)} answered 429; exit {result.returncode}; "
              f"sandbox {stats['sandbox_cpu'] or 0:.1f} s CPU" + (f"; runs {walls}" if walls else "")),
    ]


def run(quick: bool, before: list[str] | None = None, repeats: int = 1) -> list[c.Row]:
    count, scale = sizes(quick)
    subjects = {"after": None} | ({"before": before} if before else {})
    with c.scratch_dir("batch") as folder:
        files = folder / "files"
        files.mkdir()
        make_small_files(files, count)
        hashed = c.run_measured([*c.integritas_cmd(), "hash", str(files)],
                                env=c.cli_env(folder / "hash-data"))
        runs: dict[str, list[dict]] = {name: [] for name in subjects}
        for round_ in range(repeats):
            names = list(subjects)
            for name in names[round_ % len(names):] + names[:round_ % len(names)]:
                runs[name].append(measure(folder, files, count, scale, subjects[name],
                                          f"{name}-{round_}"))
    rows: list[c.Row] = []
    for name, measured in runs.items():
        ordered = sorted(measured, key=lambda m: m["result"].wall)
        walls = ", ".join(c.fmt_s(m["result"].wall) for m in ordered) if len(ordered) > 1 else ""
        rows += rows_for(ordered[len(ordered) // 2], count, hashed, "" if name == "after" else "before",
                         walls)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=TITLE)
    parser.add_argument("--quick", action="store_true", help="small sizes: proves the script works")
    parser.add_argument("--before", metavar="INTEGRITAS",
                        help="also measure this `integritas` command (another build), same run")
    parser.add_argument("--repeats", type=int, default=1, help="interleaved runs of each (median)")
    args = parser.parse_args()
    rows = run(args.quick, [args.before] if args.before else None, max(1, args.repeats))
    c.print_table(rows, TITLE + (" (quick: sizes too small to judge speed)" if args.quick else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
