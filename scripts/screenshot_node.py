"""Screenshots of the verdict with the three verification levels, stamping with the simulated
Minima node of trial mode: docs/screenshots/node-levels-confirmed.png (stamped through the node,
verified) and node-levels-changed.png (the same file changed: local shows the bytes, the node has
no stamp of the new hash).

    xvfb-run -s "-screen 0 1400x900x24" python3 scripts/screenshot_node.py [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    out = Path(parser.parse_args().out)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="integritas-node-shots-"))
    os.environ["INTEGRITAS_DATA_DIR"] = str(work / "data")
    os.environ["INTEGRITAS_SANDBOX_BLOCK_TIME"] = "1"
    os.environ["INTEGRITAS_SANDBOX_NODE_SEND_TIME"] = "1.2"
    os.environ.setdefault("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    os.environ.pop("INTEGRITAS_API_KEY", None)

    from integritas_gui.core.settings import Settings
    from screenshots import open_trial_window, pump

    settings = Settings(first_run_done=True, hash_workers=2, stamp_with="node", node_confirmations=3)
    app, window = open_trial_window(settings)

    def wait_for(kind: str, state: str, path: Path):
        end = time.monotonic() + 90
        while time.monotonic() < end:
            rows = [r for r in window.model.rows() if r.path == str(path) and r.kind == kind and r.state == state]
            if rows:
                return rows[0]
            pump(app, 0.05)
        raise SystemExit(f"timed out waiting for the {kind} of {path.name}")

    def shot(job_id: int, state: str, name: str) -> None:
        window.queue_page.select_job(job_id)
        end = time.monotonic() + 30
        while not (window.queue_page.detail_panel.details and window.queue_page.detail_panel.details.job_id == job_id
                   and window.queue_page.detail_panel.details.state == state):
            if time.monotonic() > end:
                raise SystemExit("the detail panel did not show the job")
            pump(app, 0.05)
        pump(app, 0.5)
        path = out / f"{name}.png"
        window.grab().save(str(path), "PNG", 9)
        print(path)

    contract = work / "Supply contract 2026 (signed).pdf"
    contract.write_bytes(random.Random(7).randbytes(900_000))
    window.add_paths([contract], "stamp")
    wait_for("stamp", "confirmed", contract)
    window.add_paths([contract], "verify")
    shot(wait_for("verify", "done", contract).job_id, "done", "node-levels-confirmed")

    with open(contract, "r+b") as handle:
        handle.seek(300_000)
        handle.write(b"delivery: 2027")
    window.add_paths([contract], "verify")
    end = time.monotonic() + 60
    while len([r for r in window.model.rows() if r.kind == "verify" and r.state == "done"]) < 2:
        if time.monotonic() > end:
            raise SystemExit("the second verification did not finish")
        pump(app, 0.05)
    changed = [r for r in window.model.rows() if r.kind == "verify" and r.state == "done"]
    shot(max(changed, key=lambda r: r.job_id).job_id, "done", "node-levels-changed")
    window.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
