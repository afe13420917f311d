"""Every setting changes what the window does, as it does for the CLI (session.py builds both):
proxy from the Settings dialog, segment size, sidecar receipts, request timeout, hash workers, the
first-run screen's sandbox choice read by `integritas`, and `integritas config set service`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from integritas_gui.core.job_receipts import receipt_for_job
from integritas_gui.core.paths import app_dirs
from integritas_gui.core.receipts import read_receipt, sidecar_path
from integritas_gui.core.secrets import SecretStore
from integritas_gui.core.settings import load_settings
from integritas_gui.gui.first_run import FirstRunDialog
from integritas_gui.gui.main_window import MainWindow
from integritas_gui.session import open_session, open_window_session, overrides_from_env
from tests.forward_proxy import ForwardProxy
from tests.reliability.fault_proxy import FaultProxy

WAIT_MS = 20_000


def make_file(folder: Path, name: str, size: int) -> Path:
    path = folder / name
    path.write_bytes(os.urandom(size))
    return path


def wait_row(qtbot, window, path, states, kind):
    found = {}

    def ready():
        for row in window.model.rows():
            if row.path == str(path) and row.kind == kind and row.state in states:
                found["row"] = row
                return True
        return False

    qtbot.waitUntil(ready, timeout=WAIT_MS)
    return found["row"]


def cli(*argv: str, data_dir: Path, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("INTEGRITAS_")}
    environ.update(INTEGRITAS_DATA_DIR=str(data_dir), INTEGRITAS_SANDBOX_BLOCK_TIME="0.2", **env)
    return subprocess.run([sys.executable, "-m", "integritas_gui.cli", *argv], capture_output=True,
                          text=True, timeout=90, env=environ)


def test_proxy_typed_in_the_settings_dialog_carries_the_windows_requests(qtbot, make_window, sandbox,
                                                                        monkeypatch, tmp_path):
    monkeypatch.setenv("INTEGRITAS_API_KEY", sandbox.api_key)
    window = make_window(base_url=sandbox.base_url)
    with ForwardProxy() as proxy:
        first = make_file(tmp_path, "direct.bin", 5_000)
        window.add_paths([first], "check")
        wait_row(qtbot, window, first, {"done"}, "check")
        assert proxy.count() == 0

        window.show_settings()
        dialog = window.settings_dialog
        dialog.proxy_edit.setText(proxy.url)
        with qtbot.waitSignal(window.services_changed, timeout=WAIT_MS):
            qtbot.mouseClick(dialog.button_box.button(dialog.button_box.StandardButton.Ok),
                             Qt.MouseButton.LeftButton)
        assert load_settings(window.services.settings_path).proxy == proxy.url

        second = make_file(tmp_path, "proxied.bin", 5_000)
        window.add_paths([second], "stamp")
        stamped = wait_row(qtbot, window, second, {"confirmed"}, "stamp")
        assert proxy.count("POST", "/v2/timestamp/post") == 1
        followed = proxy.count("POST", "/v2/verify/file")  # how the stamp was followed to its block
        window.add_paths([second], "verify", report=True)
        verified = wait_row(qtbot, window, second, {"done"}, "verify")
        report = window.services.history.get_job(verified.job_id).report_path
        assert Path(report).read_bytes().startswith(b"%PDF") and stamped.sha3_256 == verified.sha3_256
        assert proxy.count("POST", "/v2/verify/file") == followed + 1
        assert proxy.count("GET", "/_sandbox/reports/") == 1


def test_segment_size_and_sidecar_settings_shape_the_windows_stamps(qtbot, make_window, tmp_path,
                                                                   monkeypatch):
    window = make_window(segment_size=256 * 1024, write_sidecar_receipts=True)
    first = make_file(tmp_path, "first.bin", 1_000_000)
    window.add_paths([first], "stamp")
    wait_row(qtbot, window, first, {"confirmed"}, "stamp")
    qtbot.waitUntil(lambda: sidecar_path(first).exists(), timeout=WAIT_MS)
    assert read_receipt(sidecar_path(first)).segment_size == 256 * 1024
    window.shutdown()

    monkeypatch.setenv("INTEGRITAS_SEGMENT_SIZE", "1MiB")  # the CLI's variable, read by the window too
    window = make_window()
    second = make_file(tmp_path, "second.bin", 3_000_000)
    window.add_paths([second], "stamp")
    row = wait_row(qtbot, window, second, {"confirmed"}, "stamp")
    assert not sidecar_path(second).exists()
    assert receipt_for_job(window.services.history, row.job_id).segment_size == 1024 * 1024


def test_request_timeout_setting_gives_up_on_a_slow_answer(qtbot, make_window, sandbox, monkeypatch,
                                                          tmp_path):
    monkeypatch.setenv("INTEGRITAS_API_KEY", sandbox.api_key)
    proxy = FaultProxy(sandbox.origin).start()
    try:
        for timeout, requests in ((30, 1), (1, 2)):
            proxy.aim("check", "slow:3", times=1)
            proxy.counts.clear()
            window = make_window(base_url=proxy.base_url, request_timeout=timeout)
            path = make_file(tmp_path, f"t{timeout}.bin", 2_000)
            window.add_paths([path], "check")
            row = wait_row(qtbot, window, path, {"done"}, "check")
            assert row.outcome == "not found"
            assert proxy.counts["check"] == requests  # 1 s: gave up on the slow answer, asked again
            window.shutdown()
    finally:
        proxy.stop()


def test_hash_workers_setting_sizes_the_engine_for_window_and_cli(qtbot, make_window, monkeypatch):
    window = make_window(hash_workers=3)
    qtbot.waitUntil(lambda: window.bridge.state == "ready", timeout=WAIT_MS)
    assert window.bridge.ready_info["hash_workers"] == 3  # as the engine process built it
    dirs = app_dirs().create()
    settings = load_settings(dirs.settings_file)
    settings.hash_workers = 1
    monkeypatch.setenv("INTEGRITAS_HASH_WORKERS", "2")
    session = open_session(dirs, settings, SecretStore(dirs.config), overrides=overrides_from_env())
    try:
        assert session.engine._hash_pool._max_workers == 2 and session.trial
    finally:
        session.shutdown()


def test_sandbox_chosen_on_the_first_run_screen_is_what_the_cli_uses(qtbot, data_dir, tmp_path):
    dirs = app_dirs().create()
    settings = load_settings(dirs.settings_file)
    dialog = FirstRunDialog(settings, SecretStore(dirs.config))
    qtbot.addWidget(dialog)
    dialog.show()
    with qtbot.waitSignal(dialog.accepted):
        qtbot.mouseClick(dialog.sandbox_button, Qt.MouseButton.LeftButton)
    file = make_file(tmp_path, "after first run.txt", 100)
    done = cli("check", str(file), data_dir=data_dir)
    assert done.returncode == 1, done.stderr  # not found: asked, and answered by the sandbox
    assert done.stdout.startswith(f"[sandbox] {file}: not found")


@pytest.mark.parametrize("configured", [False, True])
def test_service_set_with_the_cli_skips_the_first_run_screen(qtbot, data_dir, configured):
    if configured:
        assert cli("config", "set", "service", "sandbox", data_dir=data_dir).returncode == 0
    dirs = app_dirs().create()
    settings = load_settings(dirs.settings_file)
    session = open_window_session(dirs, settings, SecretStore(dirs.config), settings_path=dirs.settings_file)
    window = MainWindow(session)
    qtbot.addWidget(window)
    window.show()
    try:
        window.offer_first_run()
        if configured:
            qtbot.wait(200)
            assert getattr(window, "first_run_dialog", None) is None
        else:
            qtbot.waitUntil(lambda: getattr(window, "first_run_dialog", None) is not None
                            and window.first_run_dialog.isVisible(), timeout=5000)
            window.first_run_dialog.reject()
        assert session.trial
    finally:
        window.shutdown()


@pytest.mark.parametrize("env, words", [
    ({"INTEGRITAS_REQUEST_TIMEOUT": "forever"}, "INTEGRITAS_REQUEST_TIMEOUT: 'forever' is not"),
    ({"INTEGRITAS_SERVICE": "https://integritas.example/core"}, "No API key for https://integritas.example"),
])
def test_window_refuses_a_bad_environment_in_one_line(data_dir, env, words):
    environ = {k: v for k, v in os.environ.items() if not k.startswith("INTEGRITAS_")}
    environ.update(INTEGRITAS_DATA_DIR=str(data_dir), QT_QPA_PLATFORM="offscreen", **env)
    done = subprocess.run([sys.executable, "-m", "integritas_gui", "--smoke-test"], capture_output=True,
                          text=True, timeout=60, env=environ)
    assert done.returncode == 2, done.stderr
    assert f"integritas-gui: {words}" in done.stderr and "Traceback" not in done.stderr
