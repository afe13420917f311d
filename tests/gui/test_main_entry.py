"""`python -m integritas_gui`: --version without Qt, --smoke-test in a fresh data dir."""

from __future__ import annotations

import os
import subprocess
import sys

from integritas_gui import __version__


def run_module(*args, env_extra=None, timeout=90):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", **(env_extra or {}))
    return subprocess.run([sys.executable, "-m", "integritas_gui", *args], capture_output=True,
                          text=True, env=env, timeout=timeout)


def test_version_prints_version_without_importing_qt():
    code = (
        "import sys\n"
        "from integritas_gui.__main__ import main\n"
        "try:\n"
        "    main(['--version'])\n"
        "except SystemExit as exc:\n"
        "    assert exc.code in (0, None), exc.code\n"
        "assert not any(m.startswith('PySide6') for m in sys.modules), 'Qt imported for --version'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"Integritas Desktop {__version__}"
    assert run_module("--version").stdout.strip().endswith(__version__)


def test_smoke_test_opens_window_and_exits_cleanly(tmp_path):
    data = tmp_path / "fresh"
    result = run_module("--smoke-test", "--sandbox", "--data-dir", str(data))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "smoke test: ok" in result.stdout
    log_text = (data / "logs" / "integritas.log").read_text(encoding="utf-8")
    assert "Trial mode: local sandbox" in log_text
    assert "Smoke test passed" in log_text
    assert "Traceback" not in log_text
    assert (data / "history.sqlite3").exists()


def test_smoke_test_without_key_starts_in_trial_mode(tmp_path, monkeypatch):
    monkeypatch.delenv("INTEGRITAS_DATA_DIR", raising=False)
    result = run_module("--smoke-test", env_extra={"INTEGRITAS_DATA_DIR": str(tmp_path / "d"),
                                                   "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Trial mode" in (tmp_path / "d" / "logs" / "integritas.log").read_text(encoding="utf-8")


def test_qt_calls_returning_nothing_do_not_exhaust_none():
    # PySide6 6.12 drops a reference to None per void call and to True per Signal.emit; on
    # Python 3.11 a long session aborted (none_dealloc, bool_dealloc).
    code = (
        "import sys\n"
        "import integritas_gui.gui\n"
        "from PySide6.QtCore import QObject, Signal\n"
        "from PySide6.QtWidgets import QApplication, QLabel\n"
        "class Source(QObject):\n"
        "    changed = Signal(int)\n"
        "app = QApplication([])\n"
        "label = QLabel()\n"
        "source = Source()\n"
        "for n in range(300_000):\n"
        "    label.setText('x')\n"
        "    source.changed.emit(n)\n"
        "print('alive', n)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                            env=dict(os.environ, QT_QPA_PLATFORM="offscreen"))
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "alive 299999"


def test_stamp_and_verify_options_queue_their_files(qtbot, tmp_path, data_dir, monkeypatch):
    """The file manager's "Stamp/Verify with Integritas" start ``integritas-gui --stamp/--verify``:
    the window opens with each file queued for its own action (the engine process records them)."""
    import sqlite3

    from integritas_gui.__main__ import open_window, parse_args
    from integritas_gui.core.paths import app_dirs

    monkeypatch.setenv("INTEGRITAS_SANDBOX_BLOCK_TIME", "0.2")
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # the window's crash handler is put back
    monkeypatch.setattr("threading.excepthook", __import__("threading").excepthook)
    to_stamp, to_verify = tmp_path / "contract one.pdf", tmp_path / "scan.tiff"
    to_stamp.write_bytes(b"%PDF-1.7 contract")
    to_verify.write_bytes(b"II*\x00 scan")
    _, window = open_window(parse_args(["--sandbox", "--stamp", str(to_stamp),
                                        "--verify", str(to_verify)]))
    qtbot.addWidget(window)
    try:
        # The totals count a new row at once; the row itself is shown with the next insert.
        qtbot.waitUntil(lambda: len(window.model.rows()) == 2
                        and window.model.count_in(("confirmed", "done")) == 2, timeout=60_000)
        assert sorted((r.kind, r.path, r.state) for r in window.model.rows()) == [
            ("stamp", str(to_stamp), "confirmed"), ("verify", str(to_verify), "done")]
    finally:
        window.shutdown()
    with sqlite3.connect(app_dirs().history_db) as db:
        jobs = set(db.execute("SELECT kind, path FROM jobs"))
    assert jobs == {("stamp", str(to_stamp)), ("verify", str(to_verify))}
