#!/usr/bin/env python3
"""Regenerate docs/screenshots/certificate-{confirmed,changed,no-match}.png.

Runs the local sandbox and the real engine: stamps a file until it is confirmed, changes a few
bytes of it and verifies it again, verifies a file that was never stamped, renders the three
certificates from the history and turns their pages into PNG with ``pdftoppm -png -r 80``.
Page 1 is ``certificate-<case>.png``; later pages, if any, ``certificate-<case>-page<N>.png``.

    python3 scripts/render_certificates.py [--out docs/screenshots] [--keep-pdf]
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from integritas_gui.core.certificate import certificate_for_job  # noqa: E402
from integritas_gui.core.client import IntegritasClient  # noqa: E402
from integritas_gui.core.engine import ConfirmPolicy, Engine  # noqa: E402
from integritas_gui.core.history import History  # noqa: E402
from integritas_gui.sandbox.server import SandboxServer  # noqa: E402

BLOCK_TIME = 0.2
STAMPED_NAME = "Lease agreement \u2014 \u0414\u043e\u0433\u043e\u0432\u043e\u0440 \u0430\u0440\u0435\u043d\u0434\u044b.pdf"
UNKNOWN_NAME = "site-photos-2026-03.zip"


def deterministic_bytes(size: int, seed: str) -> bytes:
    block = hashlib.sha256(seed.encode()).digest()
    return (block * (size // len(block) + 1))[:size]


def run_engine(engine: Engine, kind: str, path: Path) -> int:
    [job_id] = engine.add_files(kind, [path])
    if not engine.wait_idle(60):
        raise SystemExit(f"The {kind} of {path.name} did not finish in 60 s.")
    return job_id


def stamp_through_node(server: SandboxServer, history: History, work: Path, out: Path) -> Path:
    """A stamp sent through a simulated Minima node on the sandbox's ledger (live shape: two ids)."""
    from integritas_gui.core.minima_node import MinimaNode
    from integritas_gui.core.node_stamp import NodeStampClient
    from integritas_gui.sandbox.node import SimulatedNode

    node = SimulatedNode(server.ledger, send_time=0, shape="live").start()
    submitter = NodeStampClient(MinimaNode(node.url), history, confirmations=3)
    engine = Engine(history, submitter, confirm=ConfirmPolicy.for_block_time(BLOCK_TIME))
    try:
        path = work / "Board minutes 2026-11.pdf"
        path.write_bytes(deterministic_bytes(180_000, "minutes"))
        job_id = run_engine(engine, "stamp", path)
        return certificate_for_job(history, job_id, out / "certificate-node.pdf")
    finally:
        engine.shutdown()
        submitter.close()
        node.stop()


def render_pdfs(work: Path, out: Path) -> dict[str, Path]:
    """Stamp, change, verify against the sandbox; return {case: certificate PDF}."""
    server = SandboxServer("127.0.0.1", 0, block_time=BLOCK_TIME)
    server.start()
    history = History(work / "history.db")
    client = IntegritasClient(server.base_url, server.api_key)
    engine = Engine(history, client, confirm=ConfirmPolicy.for_block_time(BLOCK_TIME))
    try:
        stamped = work / STAMPED_NAME
        stamped.write_bytes(deterministic_bytes(420_000, "lease"))
        stamp_id = run_engine(engine, "stamp", stamped)
        state = history.get_job(stamp_id).state
        if state != "confirmed":
            raise SystemExit(f"The stamp ended as {state!r}, not confirmed.")
        pdfs = {"confirmed": certificate_for_job(history, stamp_id, out / "certificate-confirmed.pdf")}

        with open(stamped, "r+b") as handle:  # two edits, in segments 1 and 5
            handle.seek(70_000)
            handle.write(b"rent: 9,999 per month")
            handle.seek(340_000)
            handle.write(b"signed")
        changed_id = run_engine(engine, "verify", stamped)
        pdfs["changed"] = certificate_for_job(history, changed_id, out / "certificate-changed.pdf")

        pdfs["node"] = stamp_through_node(server, history, work, out)

        unknown = work / UNKNOWN_NAME
        unknown.write_bytes(deterministic_bytes(150_000, "photos"))
        unknown_id = run_engine(engine, "verify", unknown)
        pdfs["no-match"] = certificate_for_job(history, unknown_id, out / "certificate-no-match.pdf")
        return pdfs
    finally:
        engine.shutdown()
        client.close()
        history.close()
        server.stop()


def to_png(pdf: Path, out: Path, case: str) -> list[Path]:
    prefix = out / f".{case}-render"
    subprocess.run(["pdftoppm", "-png", "-r", "80", str(pdf), str(prefix)], check=True)
    pages = sorted(out.glob(f".{case}-render-*.png"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))
    for old in out.glob(f"certificate-{case}-page*.png"):
        old.unlink()
    written = []
    for number, page in enumerate(pages, 1):
        target = out / (f"certificate-{case}.png" if number == 1 else f"certificate-{case}-page{number}.png")
        page.replace(target)
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    parser.add_argument("--keep-pdf", action="store_true", help="keep the PDFs next to the PNGs")
    args = parser.parse_args(argv)
    if shutil.which("pdftoppm") is None:
        raise SystemExit("pdftoppm (poppler-utils) is needed.")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="integritas-certs-") as temp:
        work = Path(temp)
        pdfs = render_pdfs(work, work if not args.keep_pdf else out)
        for case, pdf in pdfs.items():
            for png in to_png(pdf, out, case):
                print(png)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
