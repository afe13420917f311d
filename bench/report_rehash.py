#!/usr/bin/env python3
"""Asking for the PDF report of a file the history already hashed: the known hash vs reading it again.

    python bench/report_rehash.py [--gib 8]

A sparse file of the given size is stamped once (hashed once) against the in-process sandbox, then
its report is asked for twice: unchanged (the engine uses the hash it holds), and after a chmod
(which moves the status-change time, so the engine must read the file again: the reference, the
cost before this change). Prints both times and their ratio.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--gib", type=float, default=8.0)
    args = parser.parse_args()

    from integritas_gui.core.client import IntegritasClient
    from integritas_gui.core.engine import ConfirmPolicy, Engine
    from integritas_gui.core.history import History
    from integritas_gui.sandbox.server import SandboxServer

    work = Path(tempfile.mkdtemp(prefix="report-rehash-"))
    big = work / "big.img"
    with open(big, "wb") as out:
        out.truncate(int(args.gib * 1024**3))
    with SandboxServer("127.0.0.1", 0, api_key="bench", block_time=0.2) as sandbox:
        client = IntegritasClient(sandbox.base_url, "bench")
        history = History(work / "history.sqlite3")
        engine = Engine(history, client, confirm=ConfirmPolicy.for_block_time(0.2), reports_dir=work / "r")

        def ask(kind: str, **options) -> float:
            started = time.perf_counter()
            [job_id] = engine.add_files(kind, [big], **options)
            engine.wait_idle(3600)
            job = history.get_job(job_id)
            assert job.state in ("confirmed", "done") and (kind == "stamp" or job.report_path), job
            return time.perf_counter() - started

        stamp = ask("stamp")
        known = ask("verify", report=True)
        os.chmod(big, 0o640)  # same bytes, same mtime, new ctime: read again
        reread = ask("verify", report=True)
        engine.shutdown()
        history.close()
        client.close()
    big.unlink()
    print(f"file {args.gib:g} GiB (sparse); stamp (hashed once) {stamp:.2f} s")
    print(f"report, file unchanged (hash known)   {known:.2f} s")
    print(f"report, file read again (reference)   {reread:.2f} s")
    print(f"ratio known / re-read                 {known / reread:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
