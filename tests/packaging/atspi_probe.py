"""What a screen reader sees of a frozen build: run under `dbus-run-session`, this starts Xvfb, the
AT-SPI bus (at-spi-bus-launcher, as a desktop session does) and BUNDLE/integritas-gui, then asks the
AT-SPI registry for the applications and their windows, the way Orca does. Prints one JSON object:

    {"apps": [{"name": ..., "windows": [{"name": ..., "role": ...}]}], "atk_loaded": [...], ...}

    dbus-run-session -- python tests/packaging/atspi_probe.py dist/integritas [TIMEOUT_SECONDS]

Only the standard D-Bus calls of the AT-SPI protocol (org.a11y.Bus.GetAddress, Accessible.GetChildren,
GetRoleName, the Name property), through jeepney (keyring's own D-Bus library).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from jeepney import DBusAddress, Properties, new_method_call
from jeepney.io.blocking import open_dbus_connection

BUS_LAUNCHER = "/usr/libexec/at-spi-bus-launcher"
ROOT_PATH = "/org/a11y/atspi/accessible/root"
ACCESSIBLE = "org.a11y.atspi.Accessible"


def call(conn, bus: str, path: str, interface: str, method: str, signature: str = "", body: tuple = ()):
    address = DBusAddress(path, bus_name=bus, interface=interface)
    return conn.send_and_get_reply(new_method_call(address, method, signature, body), timeout=5).body


def name_of(conn, bus: str, path: str) -> str:
    msg = Properties(DBusAddress(path, bus_name=bus, interface=ACCESSIBLE)).get("Name")
    return conn.send_and_get_reply(msg, timeout=5).body[0][1]


def snapshot(a11y_address: str) -> list[dict]:
    conn = open_dbus_connection(bus=a11y_address)
    try:
        apps = []
        for bus, path in call(conn, "org.a11y.atspi.Registry", ROOT_PATH, ACCESSIBLE, "GetChildren")[0]:
            windows = [{"name": name_of(conn, bus, child),
                        "role": call(conn, bus, child, ACCESSIBLE, "GetRoleName")[0]}
                       for _bus, child in call(conn, bus, path, ACCESSIBLE, "GetChildren")[0]]
            apps.append({"name": name_of(conn, bus, path), "windows": windows})
        return apps
    finally:
        conn.close()


def main(bundle: Path, timeout: float = 60.0) -> int:
    scratch = Path(tempfile.mkdtemp(prefix="atspi-probe-"))
    display = f":{50 + os.getpid() % 200}"
    env = dict(os.environ, DISPLAY=display, HOME=str(scratch), XDG_CONFIG_HOME=str(scratch / ".config"),
               XDG_CACHE_HOME=str(scratch / ".cache"), INTEGRITAS_DATA_DIR=str(scratch / "data"),
               QT_QPA_PLATFORM="xcb", QT_LINUX_ACCESSIBILITY_ALWAYS_ON="1")
    procs = [subprocess.Popen(["Xvfb", display, "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    result: dict = {"apps": []}
    try:
        time.sleep(1)
        procs.append(subprocess.Popen([BUS_LAUNCHER, "--launch-immediately"], env=env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        session = open_dbus_connection(bus="SESSION")
        a11y = None
        deadline = time.monotonic() + timeout
        while a11y is None and time.monotonic() < deadline:
            try:
                a11y = call(session, "org.a11y.Bus", "/org/a11y/bus", "org.a11y.Bus", "GetAddress")[0]
            except Exception:  # the launcher is not on the bus yet
                time.sleep(0.3)
        session.close()
        app = subprocess.Popen([str(bundle / "integritas-gui")], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
        procs.append(app)
        while time.monotonic() < deadline and a11y:
            try:
                result["apps"] = snapshot(a11y)
            except Exception as exc:  # registry still starting
                result["error"] = f"{type(exc).__name__}: {exc}"
            if any(w["role"] == "frame" for a in result["apps"] for w in a["windows"]):
                break
            time.sleep(0.5)
        maps = Path(f"/proc/{app.pid}/maps").read_text(encoding="utf-8", errors="replace")
        loaded = {line.split()[-1] for line in maps.splitlines() if "/" in line}
        result["atk_loaded"] = sorted(p for p in loaded if "atk" in Path(p).name or "atspi" in Path(p).name)
        result["dbus_loaded"] = sorted(p for p in loaded if "dbus" in Path(p).name.lower())
    finally:
        for proc in reversed(procs):
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), *(float(a) for a in sys.argv[2:3])))
