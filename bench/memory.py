"""Peak memory (RSS) hashing an 8 GiB sparse file: the CLI (`integritas hash`, target < 100 MB)
and the GUI process (target < 250 MB). Peak RSS comes from ``wait4`` on the child (the CLI, started
through a small launcher so it does not inherit this process's high-water mark, common.py), and for
the GUI from the window's own VmHWM (its engine and sandbox processes are not counted). The
reference is the same interpreter's floor (`integritas --version`: Python plus the CLI module).
"""

from __future__ import annotations

import os
import sys

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(__file__))
import common as c

TITLE = "peak memory"
FIGURES = ("peak RSS CLI hashing 8 GiB sparse", "peak RSS GUI process")
FULL_SIZE = 8 << 30
QUICK_SIZE = 32 << 20


def sparse_file(path, size: int):
    with open(path, "wb") as f:
        f.truncate(size)
    return path


def gui_rss(folder, sparse, size: int) -> c.Row:
    if not c.gui_exists():
        return c.not_measured(FIGURES[1], "not measured yet: no GUI main window (integritas_gui/__main__.py)",
                              "< 250 MB")
    import gui_probe

    with c.sandbox_process() as sandbox:
        result, measured = gui_probe.run_probe("hash", sparse, 1, sandbox, folder / "gui-data", timeout=600)
    if result is None or result["timed_out"] or result["states"].get("failed"):
        why = "timed out" if result else f"exit {measured.returncode}: {measured.stderr_tail[-120:]!r}"
        return c.Row(FIGURES[1], f"{c.fmt_mb(measured.max_rss_kib)} peak, but the GUI did not finish ({why})",
                     "-", "-", "< 250 MB", c.ERROR)
    peak = result.get("gui_peak_rss_kib") or measured.max_rss_kib  # VmHWM: the window's process alone
    return c.Row(FIGURES[1], f"{c.fmt_mb(peak)} ({_size(size)} in {c.fmt_s(result['seconds'])})",
                 f"{c.fmt_mb(measured.max_rss_kib)} with its child processes", "-", "< 250 MB",
                 c.verdict(peak * 1024 < 250e6))


def _size(size: int) -> str:
    return f"{size >> 30} GiB" if size >= 1 << 30 else f"{size >> 20} MiB"


def run(quick: bool) -> list[c.Row]:
    size = QUICK_SIZE if quick else FULL_SIZE
    with c.scratch_dir("memory") as folder:
        sparse = sparse_file(folder / "sparse.bin", size)
        env = c.cli_env(folder / "data")
        floor = c.run_measured([*c.integritas_cmd(), "--version"], env=env)
        ours = c.run_measured([*c.integritas_cmd(), "hash", str(sparse)], env=env)
        if ours.returncode:
            raise RuntimeError(f"integritas hash failed (exit {ours.returncode})")
        rows = [c.Row(FIGURES[0], f"{c.fmt_mb(ours.max_rss_kib)} ({_size(size)} in {c.fmt_s(ours.wall)})",
                      f"{c.fmt_mb(floor.max_rss_kib)} (integritas --version)",
                      f"+{c.fmt_mb(ours.max_rss_kib - floor.max_rss_kib)}", "< 100 MB",
                      c.verdict(ours.max_rss_kib * 1024 < 100e6))]
        rows.append(gui_rss(folder, sparse, size))
    return rows


if __name__ == "__main__":
    sys.exit(c.main(TITLE, run))
