"""GUI start-up: folders, logging, crash handler, QApplication, the sandbox and engine processes,
main window.

The same program runs the window's helper processes: ``--engine`` (the engine, speaking JSON
lines on stdin/stdout, see integritas_gui.engine_process) and ``--sandbox-service`` (the trial
sandbox, arguments as ``integritas-sandbox``). Frozen builds start them from ``sys.executable``.
``--version`` answers without importing Qt, so packaging checks stay fast.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from integritas_gui import APP_NAME, __version__

log = logging.getLogger("integritas_gui")

SMOKE_TEST_TURNS = 3  # event-loop turns after the window is exposed before --smoke-test exits
SMOKE_TEST_TIMEOUT_MS = 30000  # a window that never becomes exposed fails the smoke test


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="integritas-gui",
        description=f"{APP_NAME}: timestamp files on the Minima blockchain and verify them later.",
    )
    parser.add_argument("--version", action="version", version=f"{APP_NAME} {__version__}")
    parser.add_argument("--sandbox", action="store_true",
                        help="trial mode: use the local sandbox even when an API key is set")
    parser.add_argument("--data-dir", metavar="DIR",
                        help="keep history, settings and logs under DIR (default: the per-user folders)")
    parser.add_argument("--smoke-test", action="store_true",
                        help="open the main window, process events, close it and exit 0 (for CI)")
    parser.add_argument("files", nargs="*", help="files or folders to add to the queue at start")
    parser.add_argument("--stamp", nargs="+", default=[], metavar="FILE", help="stamp these files or folders")
    parser.add_argument("--verify", nargs="+", default=[], metavar="FILE", help="verify these files or folders")
    parser.add_argument("--background", action="store_true", help="start minimised (used at login)")
    # Qt's own options (-platform, -style, ...) pass through to QApplication.
    args, qt_args = parser.parse_known_args(argv)
    args.qt_args = qt_args
    return args


def run_gui(args: argparse.Namespace) -> int:
    opened = open_window(args)
    if isinstance(opened, int):  # refused, the reason printed
        return opened
    app, window = opened
    if args.smoke_test:
        return _smoke_test(app, window)

    window.offer_first_run()
    window.resume_unfinished()
    code = app.exec()
    window.shutdown()
    return code


def open_window(args: argparse.Namespace):
    """Everything up to the shown main window, with the files of the command line added (with
    the drop action of the settings). Returns (application, window), or the exit code when the
    environment is refused (the reason printed in one line)."""
    from integritas_gui.core.errors import BadInput
    from integritas_gui.core.logsetup import setup_logging
    from integritas_gui.core.paths import DATA_DIR_ENV, app_dirs
    from integritas_gui.core.secrets import SecretStore
    from integritas_gui.core.settings import SettingError, load_settings
    from integritas_gui.session import Overrides, overrides_from_env

    try:
        overrides = overrides_from_env().merged(Overrides(force_sandbox=args.sandbox))
    except SettingError as exc:
        print(f"integritas-gui: {exc.message}", file=sys.stderr)
        return 2
    if args.data_dir:
        # Dialogs that look up the folders themselves must see the same place.
        os.environ[DATA_DIR_ENV] = os.path.abspath(os.path.expanduser(args.data_dir))
    dirs = app_dirs(args.data_dir).create()
    log_path = setup_logging(dirs.logs)
    log.info("%s %s starting (data %s)", APP_NAME, __version__, dirs.data)
    from integritas_gui.gui import single_instance

    if not args.smoke_test and single_instance.hand_over(single_instance.server_name(dirs.data),
                                                         single_instance.launch_message(args)):
        log.info("Handed the launch over to the running window")
        return 0

    settings = load_settings(dirs.settings_file)
    secrets = SecretStore(dirs.config)
    # The sandbox process starts (and the history opens) on a thread while Qt loads and the
    # application object is built: start-up waits for the slower of the two, not for both.
    services_ready = _start_in_background(
        lambda: _start_core(dirs, settings, secrets, overrides))

    from PySide6.QtWidgets import QApplication

    from integritas_gui.gui.app import create_application
    from integritas_gui.gui.crash import CrashHandler
    from integritas_gui.gui.main_window import MainWindow

    app = QApplication.instance() or create_application([sys.argv[0], *args.qt_args])
    crash_handler = CrashHandler(app)
    crash_handler.install()

    try:
        services = services_ready()
    except BadInput as exc:  # e.g. INTEGRITAS_SERVICE given without an API key
        print(f"integritas-gui: {exc.message}", file=sys.stderr)
        return 2
    window = MainWindow(services, log_path=log_path, force_sandbox=args.sandbox)
    window.start_in_background() if args.background else window.show()
    if not args.smoke_test:
        window.instance_server = single_instance.serve(window, dirs.data)
    if args.files:
        window.add_paths([os.path.abspath(path) for path in args.files])
    for kind in ("stamp", "verify"):
        if getattr(args, kind):
            window.add_paths([os.path.abspath(path) for path in getattr(args, kind)], kind)
    return app, window


def _start_core(dirs, settings, secrets, overrides):
    from integritas_gui.session import open_window_session

    return open_window_session(dirs, settings, secrets, overrides=overrides,
                               settings_path=dirs.settings_file)


def _start_in_background(func):
    """Run ``func`` on a thread now; the returned callable waits for its result (or raises its error)."""
    import threading

    outcome: dict = {}

    def run() -> None:
        try:
            outcome["value"] = func()
        except BaseException as exc:  # handed to the caller below
            outcome["error"] = exc

    thread = threading.Thread(target=run, name="startup", daemon=True)
    thread.start()

    def result():
        thread.join()
        if "error" in outcome:
            raise outcome["error"]
        return outcome["value"]

    return result


def _smoke_test(app, window) -> int:
    """Pass once the window is exposed and has run a few event-loop turns, its engine process is
    ready and, in trial mode, that engine has reached the sandbox process (no fixed wait; nothing
    is written to the history)."""
    from PySide6.QtCore import QTimer

    result = {"ok": False, "turns": 0, "why": "the window never showed"}
    sandbox = window.services.sandbox

    def finish() -> None:
        window.close()
        app.quit()

    def sandbox_answered(answer: dict) -> None:
        result["ok"] = answer.get("verdict") == "ok"
        result["why"] = "" if result["ok"] else f"the engine could not reach the sandbox: {answer.get('words')}"
        finish()

    def engine_ready() -> None:
        bridge = window.bridge
        if bridge.fatal or bridge.state == "failed":
            result["why"] = f"the engine did not start: {bridge.fatal or 'it kept stopping'}"
            finish()
        elif bridge.state != "ready":
            result["why"] = "the engine process never became ready"
            QTimer.singleShot(10, engine_ready)
        elif sandbox is not None:
            result["why"] = "the engine did not answer"
            bridge.probe_service(sandbox.base_url, sandbox.api_key, None, 10, on_done=sandbox_answered,
                                 on_error=lambda error: sandbox_answered({"words": str(error)}))
        else:
            result["ok"] = True
            finish()

    def turn() -> None:
        handle = window.windowHandle()
        if not (window.isVisible() and handle is not None and handle.isExposed()):
            QTimer.singleShot(1, turn)  # not on screen yet: keep turning
            return
        result["turns"] += 1
        if result["turns"] < SMOKE_TEST_TURNS:
            QTimer.singleShot(0, turn)
        elif window.queue_page.queue_view.model() is None:
            result["why"] = "the queue has no model"
            finish()
        else:
            engine_ready()

    QTimer.singleShot(0, turn)
    QTimer.singleShot(SMOKE_TEST_TIMEOUT_MS, finish)
    app.exec()
    window.shutdown()
    log.info("Smoke test %s (%d event-loop turns with the window exposed)%s",
             "passed" if result["ok"] else "failed", result["turns"],
             "" if result["ok"] else f": {result['why']}")
    print("smoke test: ok" if result["ok"] else f"smoke test: FAILED ({result['why']})")
    return 0 if result["ok"] else 1


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["--engine"]:
        from integritas_gui.engine_process import main as engine_main

        return engine_main(argv[1:])
    if argv[:1] == ["--sandbox-service"]:
        from integritas_gui.sandbox_process import serve_sandbox

        return serve_sandbox(argv[1:])
    args = parse_args(argv)
    return run_gui(args)


if __name__ == "__main__":
    sys.exit(main())
