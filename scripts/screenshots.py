"""Screenshots of the real main window in its main states, driven against the in-process sandbox.

Run under a virtual display:

    xvfb-run -s "-screen 0 1400x900x24" python3 scripts/screenshots.py [--out docs/screenshots]

Everything happens in a throw-away data dir; no API key is involved (trial mode).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SIZE = (1400, 860)


def open_trial_window(settings):
    """The application and a shown main window in trial mode, as a first-run user has it (the
    sandbox and the engine in processes of their own); the data folder comes from the environment."""
    from integritas_gui.core.paths import app_dirs
    from integritas_gui.core.secrets import SecretStore
    from integritas_gui.gui.app import create_application
    from integritas_gui.gui.main_window import MainWindow
    from integritas_gui.session import Overrides, open_window_session, overrides_from_env

    app = create_application([sys.argv[0]])
    dirs = app_dirs().create()
    services = open_window_session(dirs, settings, SecretStore(dirs.config),
                                   overrides=overrides_from_env().merged(Overrides(force_sandbox=True)),
                                   settings_path=dirs.settings_file)
    window = MainWindow(services, force_sandbox=True)
    window.resize(*SIZE)
    window.show()
    return app, window


def pump(app, seconds: float) -> None:
    """Run the event loop for ``seconds`` (the engine's updates arrive meanwhile)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    work = Path(tempfile.mkdtemp(prefix="integritas-shots-"))
    os.environ["INTEGRITAS_DATA_DIR"] = str(work / "data")
    os.environ["INTEGRITAS_SANDBOX_BLOCK_TIME"] = "6"
    os.environ.setdefault("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    os.environ.pop("INTEGRITAS_API_KEY", None)

    from PySide6.QtWidgets import QApplication

    from integritas_gui.core.settings import Settings
    from integritas_gui.gui import watch_page
    from integritas_gui.gui.theme import dark_palette

    watch_page.WATCH_OPTIONS = {"settle": 0.5, "poll": 0.5}  # a dropped file is picked up at once
    app, window = open_trial_window(Settings(first_run_done=True, hash_workers=2))

    def wait_until(condition, timeout: float = 60.0, what: str = "") -> None:
        end = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > end:
                raise SystemExit(f"timed out waiting for {what or condition}")
            pump(app, 0.05)

    def shot(name: str) -> None:
        pump(app, 0.4)  # let the detail panel's history read and repaint land
        path = out / f"{name}.png"
        window.grab().save(str(path), "PNG", 9)
        print(f"{path} ({path.stat().st_size // 1024} KB)")

    def rows(**want):
        return [r for r in window.model.rows() if all(getattr(r, k) == v for k, v in want.items())]

    def show(job_id: int, state: str) -> None:
        window.queue_page.select_job(job_id)
        wait_until(lambda: window.queue_page.detail_panel.details is not None
                   and window.queue_page.detail_panel.details.job_id == job_id
                   and window.queue_page.detail_panel.details.state == state, what=f"details of {job_id}")

    files = work / "files"
    files.mkdir()

    def make(name: str, size: int, seed: int) -> Path:
        import random

        path = files / name
        path.write_bytes(random.Random(seed).randbytes(size))
        return path

    contract = make("Supply contract 2026 (signed).pdf", 1_400_000, 1)
    minutes = make("Board minutes Q4.docx", 86_000, 2)
    photos = make("Site survey photos.zip", 2_300_000, 3)
    invoice = make("Invoice 1042.pdf", 41_000, 4)
    footage = files / "Inspection footage.mov"
    with open(footage, "wb") as sparse:
        sparse.truncate(1536 * 1024**2)

    pump(app, 0.5)
    shot("empty")

    # Pending: the stamps wait for the next (simulated) block, with the time elapsed.
    window.add_paths([contract, minutes, photos, invoice], "stamp")
    wait_until(lambda: len(rows(state="pending")) >= 3, what="pending stamps")
    pending = rows(path=str(contract))[0]
    wait_until(lambda: pending.state == "pending", what="contract pending")
    show(pending.job_id, "pending")
    pump(app, 2.2)
    shot("pending")

    # Confirmed.
    wait_until(lambda: len(rows(kind="stamp", state="confirmed")) == 4, timeout=90, what="confirmation")
    show(pending.job_id, "confirmed")
    shot("confirmed")

    # Hashing: a large video takes a while; per-file and overall progress, throughput, time left.
    window.add_paths([footage], "stamp")
    wait_until(lambda: any(r.state == "hashing" and r.bytes_done > 0.2 * r.bytes_total
                           for r in rows(path=str(footage))), timeout=120, what="hashing the video")
    show(rows(path=str(footage))[0].job_id, "hashing")
    pump(app, 1.0)
    shot("hashing")
    window.queue_page.select_job(rows(path=str(footage))[0].job_id)
    window.queue_page.cancel_selected()
    wait_until(lambda: rows(path=str(footage))[0].state == "cancelled", what="cancel")
    window.queue_page.remove_selected()

    # Verify the contract: full match, with its record and segment map.
    window.add_paths([contract], "verify")
    wait_until(lambda: rows(path=str(contract), kind="verify", state="done"), what="verification")
    full = rows(path=str(contract), kind="verify")[0]
    show(full.job_id, "done")
    shot("verify-full-match")

    # Someone edits the photos archive: verification shows which segments changed.
    data = bytearray(photos.read_bytes())
    for offset in (700_000, 1_650_000, 1_660_000):
        data[offset] ^= 0x5A
    photos.write_bytes(bytes(data))
    window.add_paths([photos], "verify")
    wait_until(lambda: rows(path=str(photos), kind="verify", state="done"), what="changed verification")
    changed = rows(path=str(photos), kind="verify")[0]
    show(changed.job_id, "done")
    shot("verify-changed-segments")

    # The History tab beside the Queue: every stamp, check and verification so far.
    window.show_history()
    wait_until(lambda: window.history_view is not None and window.history_view.model.rowCount() > 0,
               what="history rows")
    shot("history")

    # Watched folders: one watching (its new file stamped), one paused, one whose drive is gone.
    page = window.watch_page
    notebook, scans, camera = (work / name for name in ("Lab notebook", "Scanned contracts", "Camera exports"))
    for folder in (notebook, scans, camera):
        folder.mkdir()
        page.add_folder(str(folder), recursive=folder is not scans,
                        exclude=("*.log",) if folder is notebook else (),
                        include=("*.pdf",) if folder is scans else ())

    def folder_state(folder) -> str:
        return next((f["state"] for f in page.model.folders() if f["path"] == str(folder)), "")

    wait_until(lambda: all(folder_state(f) == "watching" for f in (notebook, scans, camera)), what="watching")
    entry = notebook / "2026-03-14 assay results.xlsx"
    entry.write_bytes(b"assay results " * 4000)
    wait_until(lambda: rows(path=str(entry), state="pending"), what="the watched file's stamp")
    page.select_path(str(scans))
    page.toggle_pause()
    wait_until(lambda: folder_state(scans) == "paused", what="paused")
    camera.rename(work / "Camera exports (unplugged)")
    wait_until(lambda: folder_state(camera) == "missing", what="missing")
    window.show_watched()
    page.select_path(str(notebook))
    shot("watched-folders")
    window.show_queue()

    # Errors sit next to their file: a file that vanished, and the service going away.
    gone = files / "Draft (deleted).txt"
    window.add_paths([gone], "verify")
    window.services.sandbox.close()
    window.add_paths([invoice], "verify")
    wait_until(lambda: rows(path=str(invoice), kind="verify", state="failed"), timeout=120,
               what="service error")
    wait_until(lambda: rows(path=str(gone), state="failed"), what="missing file")
    show(rows(path=str(invoice), kind="verify")[0].job_id, "failed")
    shot("error")

    # Dark palette: the same evidence, for desktops in dark mode.
    app.setPalette(dark_palette())
    pump(app, 0.3)
    show(changed.job_id, "done")
    shot("dark-verify-changed-segments")

    window.close()
    window.shutdown()
    QApplication.processEvents()
    return 0


if __name__ == "__main__":
    sys.exit(main())
