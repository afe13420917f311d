"""GUI thread stall: a 5 ms QTimer heartbeat on the real main window's GUI thread (offscreen),
while it hashes a 2 GiB file, while 10,000 files are being queued, and while their results stream
in (check jobs against a sandbox process). Stall = heartbeat gap minus 5 ms. Target: longest stall
< 50 ms, 99th percentile < 20 ms. Reference: the same heartbeat with the window idle just before.
"""

from __future__ import annotations

import os
import sys

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(__file__))
import batch
import common as c

TITLE = "GUI thread stall"
FIGURES = ("GUI stall hashing 2 GiB", "GUI stall 10,000 files queued", "GUI stall results streaming")
TARGET = "max < 50 ms, p99 < 20 ms"


def _row(figure: str, phase: dict | None, idle: dict | None) -> c.Row:
    if not phase or not phase["ticks"]:
        return c.not_measured(figure, "no heartbeat in this phase", TARGET)
    ref = f"idle max {idle['max'] * 1000:.1f} ms, p99 {idle['p99'] * 1000:.1f} ms" if idle and idle["ticks"] else "-"
    ratio = f"{phase['max'] / idle['max']:.1f}x idle max" if idle and idle["ticks"] and idle["max"] else "-"
    ok = phase["max"] < 0.05 and phase["p99"] < 0.02
    return c.Row(figure, f"max {phase['max'] * 1000:.1f} ms, p99 {phase['p99'] * 1000:.1f} ms "
                         f"({phase['ticks']} beats)", ref, ratio, TARGET, c.verdict(ok))


def run(quick: bool) -> list[c.Row]:
    if not c.gui_exists():
        return [c.not_measured(f, "not measured yet: no GUI main window", TARGET) for f in FIGURES]
    import gui_probe

    big_size = (32 << 20) if quick else (2 << 30)
    count = 60 if quick else 10_000
    rows = []
    with c.scratch_dir("guistall") as folder, c.sandbox_process() as sandbox:
        big = c.write_file(folder / "big.bin", big_size)
        c.warm(big)
        result, _ = gui_probe.run_probe("hash", big, 1, sandbox, folder / "data-hash")
        if result is None or result["timed_out"]:
            raise RuntimeError(f"GUI probe (hash) failed: {result}")
        rows.append(_row(FIGURES[0], result["phases"].get("hashing"), result["phases"].get("idle")))
        big.unlink()
        files = folder / "files"
        files.mkdir()
        batch.make_small_files(files, count)
        result, _ = gui_probe.run_probe("many", files, count, sandbox, folder / "data-many")
        if result is None or result["timed_out"]:
            raise RuntimeError(f"GUI probe (many) failed: {result}")
        idle = result["phases"].get("idle")
        rows.append(_row(FIGURES[1], result["phases"].get("queued"), idle))
        rows.append(_row(FIGURES[2], result["phases"].get("results"), idle))
        rows.append(c.Row("GUI stall run (info)", f"{count} files in {c.fmt_s(result['seconds'])}",
                          f"states {result['states']}"))
    return rows


if __name__ == "__main__":
    sys.exit(c.main(TITLE, run))
