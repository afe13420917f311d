#!/usr/bin/env python3
"""Run the benchmarks and print one table: figure, measured, reference, ratio, target, result.

    python bench/run.py                 everything, full sizes (about 10-15 minutes on 2 cores)
    python bench/run.py --quick         small sizes, well under a minute: proves the scripts work
    python bench/run.py --only NAME     one script (names: see --list); may be repeated

Exit code 0 when every script ran (MISS is a finding, not a failure; --strict makes it exit 1),
2 when a script failed.
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import sys
import time
import traceback
from datetime import datetime, timezone

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as c

SCRIPTS = ("single_file", "many_files", "memory", "gui_stall", "startup", "batch", "rate_limit",
           "history_search", "node_stamps")


def machine() -> str:
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        model = platform.processor() or "?"
    load = " load %.2f %.2f %.2f" % os.getloadavg() if hasattr(os, "getloadavg") else ""
    return (f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs ({model}), "
            f"Python {platform.python_version()}, {platform.system()} {platform.release()},{load}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Integritas Desktop benchmarks")
    parser.add_argument("--quick", action="store_true", help="small sizes (for CI: proves the scripts run)")
    parser.add_argument("--only", action="append", choices=SCRIPTS, metavar="NAME",
                        help="run only this script (repeatable): " + ", ".join(SCRIPTS))
    parser.add_argument("--list", action="store_true", help="list the scripts and their figures")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    if args.list:
        for name in SCRIPTS:
            print(f"{name}: {', '.join(importlib.import_module(name).FIGURES)}")
        return 0
    print(machine(), "(quick: sizes too small to judge speed)" if args.quick else "", flush=True)
    rows: list[c.Row] = []
    failed = False
    for name in args.only or SCRIPTS:
        module = importlib.import_module(name)
        started = time.perf_counter()
        try:
            got = module.run(args.quick)
        except Exception as exc:  # one broken script must not hide the others
            traceback.print_exc()
            got = [c.Row(f, f"script failed: {type(exc).__name__}: {exc}"[:160], result=c.ERROR)
                   for f in module.FIGURES]
            failed = True
        c.print_table(got, f"{name} ({time.perf_counter() - started:.1f} s)")  # partial results survive
        rows.extend(got)
    c.print_table(rows, "Integritas Desktop benchmarks" + (" (quick)" if args.quick else ""))
    if failed:
        return 2
    if args.strict and any(r.result == c.MISS for r in rows):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
