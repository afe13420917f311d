"""Rate-limited batch: `integritas stamp` against a sandbox started with `--rate-limit N/SECONDS`.
Target: the CLI uses >= 90% of the allowed request rate, and no file fails because of a 429.

Achieved rate = requests the sandbox accepted / CLI wall time; allowed = N / SECONDS.
"""

from __future__ import annotations

import os
import sys

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(__file__))
import batch
import common as c

TITLE = "rate-limited batch"
FIGURES = ("rate-limited batch request rate",)


def run(quick: bool) -> list[c.Row]:
    limit, window, count = (20, 1.0, 20) if quick else (40, 1.0, 800)
    with c.scratch_dir("ratelimit") as folder:
        files, data, result, stats = batch.run_batch(folder, count, "--rate-limit", f"{limit}/{window:g}",
                                                     wait=False)
        from integritas_gui.core.history import History
        from integritas_gui.core.paths import app_dirs

        history = History(app_dirs(data).history_db)
        try:
            jobs = history.search(limit=count + 10)
        finally:
            history.close()
    failed_429 = sum(1 for j in jobs if j.state == "failed" and j.error_kind == "rate_limited")
    failed = sum(1 for j in jobs if j.state == "failed")
    accepted = stats.get("requests", 0) - stats.get("rate_limited", 0)
    achieved = accepted / result.wall
    allowed = limit / window
    share = achieved / allowed
    ok = share >= 0.9 and failed_429 == 0 and failed == 0 and len(jobs) == count
    return [
        c.Row(FIGURES[0], f"{achieved:.1f} req/s, {failed_429} failed by 429 ({failed} failed in all)",
              f"{allowed:.1f} req/s allowed ({limit}/{window:g} s)", f"{share:.0%}",
              ">= 90%, 0 failed by 429", c.verdict(ok)),
        c.Row("rate-limited batch (info)",
              f"{count} files in {c.fmt_s(result.wall)}; {accepted} accepted, "
              f"{stats.get('rate_limited', 0)} answered 429"),
    ]


if __name__ == "__main__":
    sys.exit(c.main(TITLE, run))
