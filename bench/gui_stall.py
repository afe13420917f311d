"""GUI thread stall: a 5 ms QTimer heartbeat on the real main window's GUI thread (offscreen),
while it hashes a 2 GiB file, while 10,000 files are being queued, and while their results stream
in (check jobs). Each figure is measured with the window as a first-run user has it (trial mode:
no API key, the sandbox started by the app) and against a separate sandbox service; both on the
machine as it is and with another process saturating one core. Stall = heartbeat gap minus 5 ms.
Target: longest stall < 50 ms, 99th percentile < 20 ms. Reference: the same heartbeat with the
window idle just before.

``BENCH_GUI_PYTHON=/other/checkout/.venv/bin/python`` measures another checkout the same way.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(__file__))
import batch
import common as c

TITLE = "GUI thread stall"
FIGURES = ("GUI stall hashing 2 GiB", "GUI stall 10,000 files queued", "GUI stall results streaming")
TARGET = "max < 50 ms, p99 < 20 ms"
MODES = ("trial", "service")  # the app's own sandbox; a separate sandbox process
LOADS = ("quiet", "one core busy")
SPIN = "while True: pass"


def _row(figure: str, phase: dict | None, idle: dict | None) -> c.Row:
    if not phase or not phase["ticks"]:
        return c.not_measured(figure, "no heartbeat in this phase", TARGET)
    ref = f"idle max {idle['max'] * 1000:.1f} ms, p99 {idle['p99'] * 1000:.1f} ms" if idle and idle["ticks"] else "-"
    ratio = f"{phase['max'] / idle['max']:.1f}x idle max" if idle and idle["ticks"] and idle["max"] else "-"
    ok = phase["max"] < 0.05 and phase["p99"] < 0.02
    return c.Row(figure, f"max {phase['max'] * 1000:.1f} ms, p99 {phase['p99'] * 1000:.1f} ms "
                         f"({phase['ticks']} beats)", ref, ratio, TARGET, c.verdict(ok))


@contextlib.contextmanager
def busy_core(on: bool):
    """Another program's CPU-bound process on one core (a user's busy laptop) while on."""
    spinner = subprocess.Popen([sys.executable, "-c", SPIN]) if on else None
    try:
        yield
    finally:
        if spinner is not None:
            spinner.kill()
            spinner.wait()


def _probe(gui_probe, scenario: str, target, count: int, sandbox, data_dir) -> dict:
    result, measured = gui_probe.run_probe(scenario, target, count, sandbox, data_dir)
    if result is None or result["timed_out"]:
        raise RuntimeError(f"GUI probe ({scenario}) failed: {result} {measured.stderr_tail[-300:]!r}")
    return result


def _info(result: dict) -> str:
    rss = result.get("gui_peak_rss_kib")
    cpu = result.get("gui_cpu_s")
    return ", ".join(part for part in (
        f"GUI process CPU {cpu:.1f} s" if cpu is not None else "",
        f"GUI peak RSS {c.fmt_mb(rss)}" if rss else "") if part)


def run(quick: bool) -> list[c.Row]:
    if not c.gui_exists():
        return [c.not_measured(f, "not measured yet: no GUI main window", TARGET) for f in FIGURES]
    import gui_probe

    big_size = (32 << 20) if quick else (2 << 30)
    count = 60 if quick else 10_000
    rows = []
    with c.scratch_dir("guistall") as folder, c.sandbox_process() as service:
        big = c.write_file(folder / "big.bin", big_size)
        files = folder / "files"
        files.mkdir()
        batch.make_small_files(files, count)
        run_no = 0
        for load in LOADS:
            for mode in MODES:
                tag = f" [{mode}, {load}]"
                sandbox = service if mode == "service" else None
                with busy_core(load != "quiet"):
                    run_no += 1
                    c.warm(big)
                    hashed = _probe(gui_probe, "hash", big, 1, sandbox, folder / f"data-hash-{run_no}")
                    many = _probe(gui_probe, "many", files, count, sandbox, folder / f"data-many-{run_no}")
                if hashed.get("trial") != (mode == "trial") or many.get("trial") != (mode == "trial"):
                    raise RuntimeError(f"the probe did not run in {mode} mode")
                rows.append(_row(FIGURES[0] + tag, hashed["phases"].get("hashing"),
                                 hashed["phases"].get("idle")))
                idle = many["phases"].get("idle")
                rows.append(_row(FIGURES[1] + tag, many["phases"].get("queued"), idle))
                rows.append(_row(FIGURES[2] + tag, many["phases"].get("results"), idle))
                rows.append(c.Row("GUI stall run (info)" + tag,
                                  f"{count} files in {c.fmt_s(many['seconds'])}; {_info(many)}",
                                  f"states {many['states']}; hashing: {_info(hashed)}"))
    return rows


if __name__ == "__main__":
    sys.exit(c.main(TITLE, run))
