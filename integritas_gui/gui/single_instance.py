"""One instance per user and data folder: a second launch hands its files to the running app.

The running window listens on a local socket (a Unix socket or a named pipe) that only this user
can open (``QLocalServer.UserAccessOption``), named after the user and the data folder. A second
``integritas-gui FILE...`` / ``--stamp`` / ``--verify`` (also "Open with" and the file manager's
actions) connects, sends one JSON line with its files and waits for ``ok``; the running window
raises itself and queues them. No server (or no answer in time): the launch starts normally.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import logging
import os

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

from integritas_gui import APP_ID

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_MS = 500
ANSWER_TIMEOUT_MS = 5000
MAX_MESSAGE = 4 * 1024 * 1024  # a hand-over of many thousand paths still fits
ACK = b"ok\n"


def server_name(data_dir: str | os.PathLike) -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no user name for this uid
        user = str(os.getuid()) if hasattr(os, "getuid") else "user"
    digest = hashlib.sha256(f"{user}\0{os.path.abspath(os.fspath(data_dir))}".encode()).hexdigest()[:16]
    return f"{APP_ID}-{digest}"


def launch_message(args) -> dict:
    """What a launch asks for: its files (absolute, as this launch's working folder has them)."""
    def absolute(paths):
        return [os.path.abspath(p) for p in paths]

    return {"files": absolute(args.files), "stamp": absolute(args.stamp), "verify": absolute(args.verify),
            "show": not args.background}


def hand_over(name: str, message: dict) -> bool:
    """Give ``message`` to the instance listening on ``name``; True once it said it has it."""
    socket = QLocalSocket()
    socket.connectToServer(name)
    if not socket.waitForConnected(CONNECT_TIMEOUT_MS):
        return False
    socket.write(json.dumps(message).encode("utf-8") + b"\n")
    socket.flush()  # what is left goes out while waiting for the answer
    answer = b""
    while ACK not in answer and socket.waitForReadyRead(ANSWER_TIMEOUT_MS):
        answer += bytes(socket.readAll().data())
    socket.disconnectFromServer()
    return ACK in answer


class InstanceServer(QObject):
    """The running app's end: emits ``launched(message)`` for each later launch."""

    launched = Signal(dict)

    def __init__(self, name: str, parent: QObject | None = None):
        super().__init__(parent)
        self.name = name
        self.server = QLocalServer(self)
        self.server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self.server.newConnection.connect(self._accept)
        if not self.server.listen(name):
            # A socket file left by an app that did not end cleanly (a live one answered hand_over).
            QLocalServer.removeServer(name)
            if not self.server.listen(name):
                log.warning("Second launches cannot hand over their files: %s", self.server.errorString())
        self._buffers: dict[QLocalSocket, bytes] = {}

    @property
    def listening(self) -> bool:
        return self.server.isListening()

    def _accept(self) -> None:
        while (socket := self.server.nextPendingConnection()) is not None:
            self._buffers[socket] = b""
            socket.readyRead.connect(lambda s=socket: self._read(s))
            socket.disconnected.connect(lambda s=socket: self._gone(s))

    def _gone(self, socket: QLocalSocket) -> None:
        self._buffers.pop(socket, None)
        socket.deleteLater()

    def _read(self, socket: QLocalSocket) -> None:
        data = self._buffers.get(socket, b"") + bytes(socket.readAll().data())
        if b"\n" not in data:
            if len(data) > MAX_MESSAGE:
                socket.abort()
            else:
                self._buffers[socket] = data
            return
        line = data.split(b"\n", 1)[0]
        self._buffers[socket] = b""
        try:
            message = json.loads(line)
            if not isinstance(message, dict):
                raise ValueError("not an object")
        except ValueError:
            log.warning("Ignoring a hand-over that is not a JSON object")
            socket.abort()
            return
        socket.write(ACK)
        socket.flush()
        self.launched.emit(message)

    def close(self) -> None:
        self.server.close()


def queue_launch(window, message: dict) -> None:
    """A later launch's files, queued in the running window with their action."""
    if message.get("show", True):
        window.tray.show_window()
    if message.get("files"):
        window.add_paths([str(p) for p in message["files"]])
    for kind in ("stamp", "verify"):
        if message.get(kind):
            window.add_paths([str(p) for p in message[kind]], kind)


def serve(window, data_dir) -> InstanceServer:
    server = InstanceServer(server_name(data_dir), window)
    server.launched.connect(lambda message: queue_launch(window, message))
    return server
