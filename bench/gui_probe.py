"""Drives the real GUI (main window, engine, services) in a child process for the GUI figures.

As a script: ``gui_probe.py SCENARIO PATH --base-url URL`` (API key in INTEGRITAS_API_KEY) opens the
main window offscreen on that service; ``--trial`` instead opens it as a first-run user has it (no
API key: trial mode, the sandbox started by the app itself). It runs a QTimer heartbeat every 5 ms
on the GUI thread, adds PATH as "check" jobs and prints one JSON line: the heartbeat stalls (gap
minus interval) per phase, and the GUI process's own peak RSS (VmHWM) and CPU time.

* ``hash``: one big file; phase ``hashing`` lasts until no row is queued or hashing.
* ``many``: a folder; phase ``queued`` lasts until every file has its row, then ``results`` until
  every job is finished.
"""

from __future__ import annotations

import json
import os
import sys
import time

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(__file__))
import common as c

HEARTBEAT_MS = 5
IDLE_MS = 1500


def _stall_stats(gaps: list[float]) -> dict:
    stalls = sorted(max(0.0, g - HEARTBEAT_MS / 1000) for g in gaps)
    if not stalls:
        return {"ticks": 0, "max": None, "p99": None}
    p99 = stalls[min(len(stalls) - 1, int(len(stalls) * 0.99))]
    return {"ticks": len(stalls), "max": stalls[-1], "p99": p99}


def own_peak_rss_kib() -> int | None:
    """This process's own peak RSS (Linux VmHWM; children not included), or None elsewhere."""
    try:
        for line in open("/proc/self/status", encoding="ascii"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def _start_services(dirs, settings, secrets, base_url: str | None):
    """The window's services as this checkout builds them (the engine in a child process; or, in
    older trees, in the window's own process: through session.py, or gui/services.py before it)."""
    try:
        from integritas_gui.session import Overrides, open_window_session, overrides_from_env
    except ImportError:
        pass
    else:
        return open_window_session(dirs, settings, secrets, overrides=overrides_from_env().merged(
            Overrides(settings={"base_url": base_url} if base_url else {})), settings_path=dirs.settings_file)
    try:
        from integritas_gui.gui.window_services import start_window_services
    except ImportError:
        pass
    else:
        return start_window_services(dirs, settings, secrets, base_url=base_url,
                                     settings_path=dirs.settings_file)
    try:
        from integritas_gui.session import Overrides, open_session
    except ImportError:
        from integritas_gui.gui.services import start_services

        return start_services(dirs, settings, secrets, base_url=base_url,
                              settings_path=dirs.settings_file)
    return open_session(dirs, settings, secrets, overrides=Overrides(
        settings={"base_url": base_url} if base_url else {}), settings_path=dirs.settings_file,
        background_priority=True)


def probe(scenario: str, target: str, expected: int, base_url: str | None, timeout: float) -> dict:
    import resource

    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtWidgets import QApplication

    from integritas_gui.core.paths import app_dirs
    from integritas_gui.core.secrets import SecretStore
    from integritas_gui.core.settings import load_settings
    from integritas_gui.gui.app import create_application
    from integritas_gui.gui.main_window import MainWindow

    dirs = app_dirs().create()
    app = QApplication.instance() or create_application([sys.argv[0]])
    settings = load_settings(dirs.settings_file)
    services = _start_services(dirs, settings, SecretStore(dirs.config), base_url)
    window = MainWindow(services)
    window.show()
    model = window.model
    phases: dict[str, list[float]] = {}
    state = {"phase": "idle", "last": None, "started": None, "timed_out": False, "phase_started": {}}

    def settled() -> bool:
        return model.rowCount() >= expected and model.active_count() == 0

    def beat() -> None:
        now = time.perf_counter()
        last, state["last"] = state["last"], now
        phase = state["phase"]
        if last is not None and phase != "done":
            phases.setdefault(phase, []).append(now - last)
        if phase == "idle":
            return
        if now - state["started"] > timeout:
            state["timed_out"] = True
            state["phase"] = "done"
        elif scenario == "hash" and phase == "hashing":
            rows = model.rows()
            if rows and all(r.state not in ("queued", "hashing") for r in rows):
                state["phase"] = "done"
        elif scenario == "many" and phase == "queued" and model.rowCount() >= expected:
            state["phase"] = "results"
            state["phase_started"]["results"] = now
        elif scenario == "many" and phase == "results" and settled():
            state["phase"] = "done"
        if state["phase"] == "done":
            state["ended"] = now
            app.quit()

    heartbeat = QTimer()
    heartbeat.setTimerType(Qt.TimerType.PreciseTimer)
    heartbeat.setInterval(HEARTBEAT_MS)
    heartbeat.timeout.connect(beat)

    def start() -> None:
        state["started"] = time.perf_counter()
        state["phase"] = "hashing" if scenario == "hash" else "queued"
        window.add_paths([target], "check")

    heartbeat.start()
    QTimer.singleShot(IDLE_MS, start)  # the idle heartbeat first: this machine's floor
    app.exec()
    rows = model.rows()
    result = {
        "scenario": scenario,
        "seconds": state.get("ended", time.perf_counter()) - (state["started"] or 0),
        "timed_out": state["timed_out"],
        "rows": len(rows),
        "states": {s: sum(1 for r in rows if r.state == s) for s in {r.state for r in rows}},
        "phases": {name: _stall_stats(gaps) for name, gaps in phases.items()},
        "trial": bool(getattr(services, "trial", False)),
        "gui_peak_rss_kib": own_peak_rss_kib(),
    }
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result["gui_cpu_s"] = usage.ru_utime + usage.ru_stime
    window.shutdown()
    return result


PYTHON_ENV = "BENCH_GUI_PYTHON"  # another checkout's interpreter (its venv) measures that checkout


def run_probe(scenario: str, target, expected: int, sandbox: c.SandboxProcess | None, data_dir,
              timeout: float = 300) -> tuple[dict | None, c.Measured]:
    """Run the probe in its own process; (its JSON result or None, its Measured). ``sandbox``
    None: trial mode, as a first-run user has it (the app starts its own sandbox)."""
    if sandbox is None:  # no API key anywhere: not in the environment, not in a keyring
        env = c.cli_env(data_dir, QT_QPA_PLATFORM="offscreen",
                        PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
        service = ["--trial"]
    else:
        env = c.cli_env(data_dir, QT_QPA_PLATFORM="offscreen", INTEGRITAS_API_KEY=sandbox.api_key)
        service = ["--base-url", sandbox.base_url]
    python = os.environ.get(PYTHON_ENV) or sys.executable
    cmd = [python, os.path.abspath(__file__), scenario, str(target), "--expected", str(expected),
           *service, "--timeout", str(timeout)]
    measured = c.run_measured(cmd, env=env, capture=True, timeout=timeout + 60)
    lines = [line for line in measured.stdout.decode(errors="replace").splitlines() if line.startswith("{")]
    return (json.loads(lines[-1]) if lines else None), measured


def main() -> int:
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("scenario", choices=("hash", "many"))
    parser.add_argument("target")
    parser.add_argument("--expected", type=int, default=1)
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--base-url")
    where.add_argument("--trial", action="store_true", help="no API key: the app's own sandbox")
    parser.add_argument("--timeout", type=float, default=300)
    args = parser.parse_args()
    result = probe(args.scenario, args.target, args.expected, args.base_url, args.timeout)
    print(json.dumps(result), flush=True)
    sys.stderr.flush()
    os._exit(0)  # skip interpreter teardown of live Qt objects: the figures are out


if __name__ == "__main__":
    sys.exit(main())
