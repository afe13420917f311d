"""GUI start-up: folders, logging, crash handler, QApplication, core services, main window.

``--version`` answers without importing Qt, so packaging checks stay fast.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from integritas_gui import APP_NAME, __version__

log = logging.getLogger("integritas_gui")

SMOKE_TEST_MS = 1500


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
    # Qt's own options (-platform, -style, ...) pass through to QApplication.
    args, qt_args = parser.parse_known_args(argv)
    args.qt_args = qt_args
    return args


def run_gui(args: argparse.Namespace) -> int:
    from integritas_gui.core.logsetup import setup_logging
    from integritas_gui.core.paths import DATA_DIR_ENV, app_dirs
    from integritas_gui.core.secrets import SecretStore
    from integritas_gui.core.settings import load_settings

    if args.data_dir:
        # Dialogs that look up the folders themselves must see the same place.
        os.environ[DATA_DIR_ENV] = os.path.abspath(os.path.expanduser(args.data_dir))
    dirs = app_dirs(args.data_dir).create()
    log_path = setup_logging(dirs.logs)
    log.info("%s %s starting (data %s)", APP_NAME, __version__, dirs.data)

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from integritas_gui.gui.app import create_application
    from integritas_gui.gui.crash import CrashHandler
    from integritas_gui.gui.main_window import MainWindow
    from integritas_gui.gui.services import start_services

    app = QApplication.instance() or create_application([sys.argv[0], *args.qt_args])
    crash_handler = CrashHandler(app)
    crash_handler.install()

    settings = load_settings(dirs.settings_file)
    secrets = SecretStore(dirs.config)
    services = start_services(dirs, settings, secrets, force_sandbox=args.sandbox,
                              settings_path=dirs.settings_file)
    window = MainWindow(services, log_path=log_path, force_sandbox=args.sandbox)
    window.show()
    if args.files:
        window.add_paths(args.files)

    if args.smoke_test:
        result = {"ok": False}

        def finish() -> None:
            result["ok"] = window.isVisible() and window.queue_view.model() is not None
            window.close()
            app.quit()

        QTimer.singleShot(SMOKE_TEST_MS, finish)
        app.exec()
        window.shutdown()
        log.info("Smoke test %s", "passed" if result["ok"] else "failed")
        print(f"smoke test: {'ok' if result['ok'] else 'FAILED'}")
        return 0 if result["ok"] else 1

    window.offer_first_run()
    window.resume_unfinished()
    code = app.exec()
    window.shutdown()
    return code


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_gui(args)


if __name__ == "__main__":
    sys.exit(main())
