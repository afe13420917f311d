#!/usr/bin/env python3
"""Run the slow cases that the normal test run leaves out (pytest's ``slow`` marker, see
docs/reliability.md): 12 SIGKILL trials of a 2,000-file batch, the whole 8 GiB and 4 GiB hashes, a
100,000-file walk, the batch at a 5/s rate limit.

    python3 scripts/reliability_soak.py
    python3 scripts/reliability_soak.py --seeds 1,2,3,4,5,6,7,8,9,10,11,12   the random crash trials

Prints one line per crash trial (where it was killed, what was in flight, extra submissions, seconds).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", help="comma-separated seeds of the random crash trials (default 101..110)")
    args = parser.parse_args()
    env = {**os.environ, "INTEGRITAS_SLOW": "1"}
    if args.seeds:
        env["INTEGRITAS_CRASH_SEEDS"] = args.seeds
    command = [sys.executable, "-m", "pytest", "-q", "-s", "-n", "0", "-m", "slow", "-p", "no:cacheprovider",
               "-o", "timeout=1800", "tests"]  # one at a time, in this process (-s prints each trial's line)
    return subprocess.call(command, cwd=ROOT, env=env)


if __name__ == "__main__":
    sys.exit(main())
