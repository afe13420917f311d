"""`integritas reverify [--quick] [PATH...]`: does every stamped file still match what was stamped?

One line per file (the newest confirmed or pending stamp of each path in the history, within the
given files or folders). Exit 0 when every file matches, 1 when any changed, is missing or moved
(or nothing stamped lies under the given paths), 2 when a file could not be read.
"""

from __future__ import annotations

import argparse
import os
import sys

EXIT_OK, EXIT_NOT_FOUND, EXIT_BAD_INPUT = 0, 1, 2


def add_reverify_parser(sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("reverify", parents=[common], help="check that every stamped file still matches",
                       description="Re-hash every stamped file of the history and compare it with "
                                   "what was stamped (every segment, when the receipt is known).")
    p.add_argument("paths", nargs="*", metavar="PATH",
                   help="only stamped files that are these files or lie in these folders")
    p.add_argument("--quick", action="store_true",
                   help="trust a file whose size and times are those recorded when it was hashed "
                        "(reads nothing for it)")
    p.set_defaults(func=cmd_reverify)


def _line(check) -> str:
    text = f"{check.path}: {check.status}: {check.message}"
    if check.changed_ranges:
        text += "\n    changed bytes: " + ", ".join(f"{o}-{o + n - 1}" for o, n in check.changed_ranges)
    return text


def cmd_reverify(args: argparse.Namespace, out) -> int:
    from integritas_gui.cli import _history, progress_bar
    from integritas_gui.core.reverify import reverify

    history, _ = _history(args)
    folders = [os.path.abspath(path) for path in args.paths]
    counts: dict[str, int] = {}

    def progress(done: int, total: int) -> None:
        if total:
            out.progress(f"{progress_bar(done, total)} {done}/{total} stamped files checked")

    try:
        for check in reverify(history, folders, quick=args.quick, progress=progress):
            counts[check.status] = counts.get(check.status, 0) + 1
            record = {"job_id": check.job_id, "path": check.path, "status": check.status,
                      "message": check.message, "sha3_256": check.sha3_256,
                      "changed": [list(r) for r in check.changed_ranges], "new_path": check.new_path,
                      "quick": check.quick}
            out.result(record, _line(check))
    finally:
        out.end_progress()
        history.close()
    checked = sum(counts.values())
    if not checked:
        where = " under " + ", ".join(folders) if folders else ""
        print(f"integritas: no stamped files{where} in this history; stamp some with `integritas stamp`.",
              file=sys.stderr)
        return EXIT_NOT_FOUND if folders else EXIT_OK
    if not args.json:
        problems = checked - counts.get("match", 0)
        print(f"{counts.get('match', 0)} of {checked} stamped files still match"
              + (f"; {problems} no longer match." if problems else "."), file=sys.stderr)
    if counts.get("unreadable"):
        return EXIT_BAD_INPUT
    return EXIT_NOT_FOUND if checked != counts.get("match", 0) else EXIT_OK
