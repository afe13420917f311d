"""One instance: a second launch hands its files to the running window and exits 0."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

from PySide6.QtNetwork import QLocalServer

from integritas_gui.gui import single_instance
from tests.gui.test_main_window import WAIT_MS, wait_row


def open_running_window(qtbot, monkeypatch):
    from integritas_gui.__main__ import open_window, parse_args

    monkeypatch.setenv("INTEGRITAS_SANDBOX_BLOCK_TIME", "0.2")
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # the window's crash handler is put back
    monkeypatch.setattr("threading.excepthook", __import__("threading").excepthook)
    _, window = open_window(parse_args(["--sandbox"]))
    qtbot.addWidget(window)
    return window


def test_second_launch_hands_its_file_over_and_exits(qtbot, tmp_path, data_dir, monkeypatch):
    window = open_running_window(qtbot, monkeypatch)
    try:
        server = window.instance_server
        assert server.listening and server.name == single_instance.server_name(data_dir)
        # Only this user may open it (on Unix the socket file is the user's alone).
        path = server.server.fullServerName()
        if os.path.exists(path):
            assert stat.S_IMODE(os.stat(path).st_mode) & 0o077 == 0
        assert server.server.socketOptions() == QLocalServer.SocketOption.UserAccessOption

        window.hide()
        contract = tmp_path / "contract.pdf"
        contract.write_bytes(b"%PDF-1.7 handed over")
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
        second = subprocess.Popen([sys.executable, "-m", "integritas_gui", "--stamp", str(contract)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        qtbot.waitUntil(lambda: second.poll() is not None, timeout=60_000)
        out, err = second.communicate()
        assert second.returncode == 0, err
        wait_row(qtbot, window, contract, {"confirmed"}, kind="stamp")
        assert window.isVisible()  # raised for the new files
    finally:
        window.instance_server.close()
        window.shutdown()


def test_no_running_window_means_no_hand_over(tmp_path, data_dir):
    name = single_instance.server_name(data_dir)
    assert not single_instance.hand_over(name, {"files": [str(tmp_path)]})
    other = single_instance.server_name(tmp_path / "elsewhere")
    assert other != name  # another data folder is another instance


def test_a_socket_left_by_a_crashed_app_is_taken_over(qtbot, data_dir):
    import socket

    name = single_instance.server_name(data_dir) + "-stale"
    probe = QLocalServer()
    assert probe.listen(name)
    path = probe.fullServerName()
    probe.close()
    stale = socket.socket(socket.AF_UNIX)  # bound and never unlinked, as after a crash
    stale.bind(path)
    stale.close()
    assert os.path.exists(path)

    server = single_instance.InstanceServer(name)
    try:
        assert server.listening
        got = []
        server.launched.connect(got.append)
        client = subprocess.Popen([sys.executable, "-c", (
            "import sys; from integritas_gui.gui.single_instance import hand_over; "
            f"sys.exit(0 if hand_over({name!r}, {{'files': ['/x']}}) else 1)")])
        qtbot.waitUntil(lambda: client.poll() is not None, timeout=WAIT_MS)
        assert client.returncode == 0 and got == [{"files": ["/x"]}]
    finally:
        server.close()
