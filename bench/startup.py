"""Start-up: `integritas --version` (target < 0.25 s median) and `integritas-gui --smoke-test`
(target < 1.5 s median), each interleaved with a bare `python -c pass` as the interpreter floor.
"""

from __future__ import annotations

import os
import sys

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(__file__))
import common as c

TITLE = "start-up"
FIGURES = ("start-up integritas --version", "start-up integritas-gui --smoke-test")


def _row(figure: str, ours: list[c.Measured], floor: list[c.Measured], limit: float) -> c.Row:
    mine = c.median([r.wall for r in ours])
    ref = c.median([r.wall for r in floor])
    return c.Row(figure, f"{c.fmt_s(mine)} median of {len(ours)}", f"{c.fmt_s(ref)} (python -c pass)",
                 f"{mine / ref:.2f}x", f"< {limit:g} s", c.verdict(mine < limit))


def run(quick: bool) -> list[c.Row]:
    repeats = 3 if quick else 15
    with c.scratch_dir("startup") as folder:
        env = c.cli_env(folder / "data", QT_QPA_PLATFORM="offscreen")
        floor = lambda: c.run_measured([sys.executable, "-c", "pass"], env=env)  # noqa: E731
        cli = lambda: c.run_measured([*c.integritas_cmd(), "--version"], env=env)  # noqa: E731
        results = c.interleaved({"floor": floor, "cli": cli}, repeats)
        if any(r.returncode for r in results["cli"]):
            raise RuntimeError("integritas --version failed")
        rows = [_row(FIGURES[0], results["cli"], results["floor"], 0.25)]
        if not c.gui_exists():
            rows.append(c.not_measured(FIGURES[1], "not measured yet: no GUI (integritas_gui/__main__.py)",
                                       "< 1.5 s"))
            return rows
        gui = lambda: c.run_measured([*c.gui_cmd(), "--smoke-test"], env=env, timeout=60)  # noqa: E731
        probe = gui()
        if probe.returncode:
            rows.append(c.not_measured(FIGURES[1], f"not measured: --smoke-test exits {probe.returncode}",
                                       "< 1.5 s"))
            return rows
        results = {"gui": [probe], "floor": [floor()]} if quick else c.interleaved(
            {"floor": floor, "gui": gui}, 7)
        rows.append(_row(FIGURES[1], results["gui"], results["floor"], 1.5))
        fixed = _smoke_wait()
        if fixed:
            rest = c.median([r.wall for r in results["gui"]]) - fixed
            rows.append(c.Row("start-up GUI without the smoke test's fixed wait (info)", c.fmt_s(rest),
                              f"--smoke-test keeps the window open {c.fmt_s(fixed)} by design"))
    return rows


def _smoke_wait() -> float:
    """The smoke test's fixed wait (integritas_gui/__main__.py SMOKE_TEST_MS), in seconds."""
    try:
        from integritas_gui.__main__ import SMOKE_TEST_MS
    except ImportError:
        return 0.0
    return SMOKE_TEST_MS / 1000


if __name__ == "__main__":
    sys.exit(c.main(TITLE, run))
