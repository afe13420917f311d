"""Local PDF certificates: rendered from real stamps against the sandbox, receipt read back and used."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import zlib

import pytest

from integritas_gui.core.certificate import (
    SANDBOX_WARNING,
    certificate_for_job,
    explorer_links,
    extract_receipt,
    render_certificate,
    verification_from_check,
)
from integritas_gui.core.certificate_attachment import RECEIPT_ATTACHMENT_NAME
from integritas_gui.core.certificate_text import visual_order
from integritas_gui.core.answers import record_from_service
from integritas_gui.core.engine import ConfirmPolicy, Engine
from integritas_gui.core.errors import BadInput
from integritas_gui.core.hashing import hash_file
from integritas_gui.core.history import History
from integritas_gui.core.receipt_verify import verify_file_against_receipt
from integritas_gui.core.receipts import Receipt, read_receipt
from tests.sandbox_fixture import TEST_API_KEY

SEG = 64 * 1024
A4_WIDTH_PT = 595.27
RECORD = {
    "blockNumber": 1906787,
    "blockDate": "2026-01-21T09:55:48.726Z",
    "txpowId": "0x" + "3A5E57F0" * 8,
    "transactionId": "0x" + "C91F48E0" * 8,
}

needs_poppler = pytest.mark.skipif(
    not (shutil.which("pdftotext") and shutil.which("pdfdetach")), reason="poppler-utils not installed"
)


def make_file(path, size=5 * SEG + 123, seed="1"):
    block = hashlib.sha256(seed.encode()).digest()
    path.write_bytes((block * (size // len(block) + 1))[:size])
    return path


def pdf_text(pdf) -> str:
    return subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"], capture_output=True, check=True,
                          text=True).stdout


def flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def decoded_streams(pdf) -> bytes:
    """Every stream of the PDF, inflated where it is compressed, joined."""
    data = pdf.read_bytes()
    parts = []
    for match in re.finditer(rb"stream\r?\n", data):
        end = data.find(b"endstream", match.end())
        raw = data[match.end():end]
        try:
            parts.append(zlib.decompressobj().decompress(raw))
        except zlib.error:
            parts.append(raw)
    return b"\n".join(parts)


def synthetic_receipt(path, *, base_url="https://integritas.technology/core", records=(RECORD,)):
    receipt = Receipt.from_digest(hash_file(path, segment_size=SEG), base_url=base_url)
    return receipt.with_confirmation([record_from_service(r) for r in records]) if records else receipt


@pytest.fixture
def engine(sandbox, sandbox_client, data_dir):
    history = History(data_dir / "history.db")
    runner = Engine(history, sandbox_client, confirm=ConfirmPolicy.for_block_time(sandbox.ledger.block_time))
    yield runner
    runner.shutdown()
    history.close()


def run_job(engine, kind, path) -> int:
    [job_id] = engine.add_files(kind, [path])
    assert engine.wait_idle(30)
    return job_id


# -- the whole story against the sandbox ---------------------------------------------------------


@needs_poppler
def test_stamped_file_certificate_carries_a_receipt_that_reverifies_the_file(engine, sandbox, tmp_path):
    original = make_file(tmp_path / "contract.pdf")
    stamp_id = run_job(engine, "stamp", original)
    job = engine.history.get_job(stamp_id)
    assert job.state == "confirmed" and job.records

    (tmp_path / "out").mkdir()
    pdf = certificate_for_job(engine.history, stamp_id, tmp_path / "out")
    assert pdf == tmp_path / "out" / "contract.pdf.certificate.pdf"
    assert pdf.read_bytes().startswith(b"%PDF-")

    # The embedded receipt is the job's receipt, without the local path, and poppler sees the same file.
    embedded = extract_receipt(pdf)
    assert embedded["hashes"]["sha3_256"] == job.sha3_256 == hashlib.sha3_256(original.read_bytes()).hexdigest()
    assert "path" not in embedded["file"]
    listing = subprocess.run(["pdfdetach", "-list", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert RECEIPT_ATTACHMENT_NAME in listing
    saved = tmp_path / "detached.json"
    subprocess.run(["pdfdetach", "-save", "1", "-o", str(saved), str(pdf)], check=True)
    assert json.loads(saved.read_text("utf-8")) == embedded

    receipt = Receipt.from_dict(embedded)
    assert [r.transaction_id for r in receipt.records] == [r.transaction_id for r in job.records]
    assert verify_file_against_receipt(original, receipt).is_match

    # What the page says: the hashes, the block, explorer links, the sandbox warning; never the key.
    text = pdf_text(pdf)
    assert job.sha3_256 in text and job.blake3 in text and job.segments_root in text
    assert "Confirmed" in text and f"{job.records[0].block_number:,}" in text
    assert SANDBOX_WARNING in flat(text)
    data = pdf.read_bytes()
    assert explorer_links(job.records[0])["transaction"].encode() in data
    assert TEST_API_KEY.encode() not in data
    assert TEST_API_KEY.encode() not in decoded_streams(pdf)
    assert TEST_API_KEY not in text

    # Change two bytes in the third segment: the receipt from the PDF says which range changed.
    with open(original, "r+b") as handle:
        handle.seek(2 * SEG + 10)
        handle.write(b"XY")
    check = verify_file_against_receipt(original, receipt)
    assert check.status == "changed"
    assert check.changed_ranges == [(2 * SEG, SEG)]

    # The engine's verification of the changed file gives a "changed" certificate with that range,
    # still carrying the receipt of the stamped version.
    verify_id = run_job(engine, "verify", original)
    assert engine.history.get_job(verify_id).receipt_check["status"] == "changed"
    changed_pdf = certificate_for_job(engine.history, verify_id, tmp_path / "changed.pdf")
    changed_text = flat(pdf_text(changed_pdf))
    assert "Changed" in changed_text
    assert f"bytes {2 * SEG:,} to {3 * SEG - 1:,}" in changed_text
    assert extract_receipt(changed_pdf)["hashes"]["sha3_256"] == job.sha3_256


@needs_poppler
def test_unknown_file_gives_a_no_match_certificate(engine, tmp_path):
    stranger = make_file(tmp_path / "never stamped.bin", size=70_000, seed="stranger")
    verify_id = run_job(engine, "verify", stranger)
    assert engine.history.get_job(verify_id).outcome == "no match"
    pdf = certificate_for_job(engine.history, verify_id, tmp_path / "no-match.pdf")
    text = flat(pdf_text(pdf))
    assert "No match" in text and "Confirmed" not in text
    embedded = extract_receipt(pdf)
    assert embedded["hashes"]["sha3_256"] == hashlib.sha3_256(stranger.read_bytes()).hexdigest()
    assert embedded.get("confirmation") is None
    assert verify_file_against_receipt(stranger, Receipt.from_dict(embedded)).is_match


# -- rendering details (no service needed) ----------------------------------------------------------


@needs_poppler
@pytest.mark.parametrize("name", [
    "Договор аренды — Σύμβαση.pdf",
    "חוזה שכירות.pdf",
    "عقد الإيجار.pdf",
    "契約書 2026.pdf",
    "naïve café ☕ ñ.txt",
])
def test_non_ascii_file_names_render_and_round_trip(tmp_path, name):
    path = make_file(tmp_path / name, size=1000)
    pdf = render_certificate(synthetic_receipt(path).to_dict(), tmp_path / "c.pdf")
    assert extract_receipt(pdf)["file"]["name"] == name
    text = pdf_text(pdf)
    if name.startswith("Договор") or name.startswith("naïve"):
        assert name in text


@needs_poppler
def test_long_names_and_many_records_stay_on_the_page(tmp_path):
    name = "x" * 40 + "-" + "ВеryLongNameWithoutSpaces" * 8 + ".pdf"
    path = make_file(tmp_path / name[:200], size=3000)
    records = [dict(RECORD, blockNumber=1_000_000 + i, txpowId=f"0x{i:064X}", transactionId=f"0x{i + 7:064X}")
               for i in range(12)]
    pdf = render_certificate(synthetic_receipt(path, records=records), tmp_path / "c.pdf")
    bbox = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    right_edges = [float(x) for x in re.findall(r'xMax="([\d.]+)"', bbox)]
    assert right_edges and max(right_edges) <= A4_WIDTH_PT - 15 * 72 / 25.4
    text = pdf_text(pdf)
    assert "Record 12" in text and f"{1_000_011:,}" in text
    assert len(re.findall(r"\f", text)) >= 2  # several pages


@needs_poppler
def test_sandbox_warning_only_for_a_service_on_this_computer(tmp_path):
    path = make_file(tmp_path / "a.bin", size=5000)
    real = render_certificate(synthetic_receipt(path), tmp_path / "real.pdf")
    assert SANDBOX_WARNING not in flat(pdf_text(real))
    sandboxed = render_certificate(synthetic_receipt(path, base_url="http://127.0.0.1:8765/core"),
                                   tmp_path / "sandbox.pdf")
    assert SANDBOX_WARNING in flat(pdf_text(sandboxed))


@needs_poppler
def test_no_secret_from_a_service_address_reaches_the_pdf(tmp_path):
    path = make_file(tmp_path / "a.bin", size=5000)
    receipt = synthetic_receipt(path)
    check = verify_file_against_receipt(path, receipt)
    leaky = f"https://user:{TEST_API_KEY}@integritas.technology/core?api_key={TEST_API_KEY}#{TEST_API_KEY}"
    pdf = render_certificate(receipt, tmp_path / "c.pdf",
                             verification=verification_from_check(check, base_url=leaky))
    assert TEST_API_KEY.encode() not in pdf.read_bytes()
    assert TEST_API_KEY.encode() not in decoded_streams(pdf)
    text = pdf_text(pdf)
    assert TEST_API_KEY not in text and "https://integritas.technology/core" in text
    assert "matches" in text


def test_paths_are_kept_out_unless_asked(tmp_path):
    path = make_file(tmp_path / "a.bin", size=5000)
    receipt = synthetic_receipt(path).with_report(saved_path=tmp_path / "report.pdf", result="full match")
    without = extract_receipt(render_certificate(receipt, tmp_path / "1.pdf"))
    assert "path" not in without["file"] and "saved_path" not in without["reports"][0]
    assert str(tmp_path).encode() not in (tmp_path / "1.pdf").read_bytes()
    with_paths = extract_receipt(render_certificate(receipt, tmp_path / "2.pdf", include_paths=True))
    assert with_paths["file"]["path"] == str(path)
    assert read_receipt(json.dumps(with_paths)).sha3_256 == receipt.sha3_256


def test_damaged_receipt_gives_no_certificate(tmp_path):
    path = make_file(tmp_path / "a.bin", size=5000)
    data = synthetic_receipt(path).to_dict()
    data["segments"]["root"] = "0" * 64
    with pytest.raises(BadInput):
        render_certificate(data, tmp_path / "c.pdf")
    assert not any(tmp_path.glob("*.pdf")) and not any(tmp_path.glob(".certificate-*"))


def test_extract_refuses_what_is_not_a_certificate(tmp_path):
    from integritas_gui.sandbox.report_pdf import render_report

    report = tmp_path / "report.pdf"
    report.write_bytes(render_report(file_hash="ab" * 32, result="no match", records=[],
                                     generated_at="2026-01-01T00:00:00Z"))
    with pytest.raises(BadInput, match="no Integritas receipt"):
        extract_receipt(report)
    text = tmp_path / "note.txt"
    text.write_text("hello")
    with pytest.raises(BadInput, match="not a PDF"):
        extract_receipt(text)


def test_right_to_left_runs_are_laid_out_for_a_left_to_right_line():
    assert visual_order("שלום עולם.txt") == "םלוע םולש.txt"
    assert visual_order("report 2026.pdf") == "report 2026.pdf"
    assert visual_order("חוזה 2026.pdf") == "2026 הזוח.pdf"
    assert visual_order("2026 חוזה") == "2026 הזוח"


@pytest.mark.skipif(not shutil.which("pdftoppm"), reason="poppler-utils not installed")
def test_qr_code_on_the_page_encodes_the_explorer_link(tmp_path):
    import qrcode
    from PIL import Image

    path = make_file(tmp_path / "a.bin", size=5000)
    pdf = render_certificate(synthetic_receipt(path), tmp_path / "c.pdf")
    link = explorer_links(record_from_service(RECORD))["transaction"]
    # The QR code is also a link: its square annotation tells where it is drawn.
    squares = []
    for match in re.finditer(rb"/URI \(([^)]*)\).{0,200}?/Rect \[([^\]]*)\]", pdf.read_bytes(), re.S):
        x1, y1, x2, y2 = map(float, match.group(2).split())
        if match.group(1).decode() == link and abs((x2 - x1) - (y2 - y1)) < 0.5:
            squares.append((x1, y1, x2, y2))
    assert len(squares) == 1
    x1, y1, x2, y2 = squares[0]

    dpi = 144
    subprocess.run(["pdftoppm", "-png", "-gray", "-r", str(dpi), "-singlefile", str(pdf), str(tmp_path / "page")],
                   check=True)
    page = Image.open(tmp_path / "page.png").convert("L")
    scale = dpi / 72
    page_height = page.height / scale

    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=0)
    code.add_data(link)
    code.make(fit=True)
    expected = code.get_matrix()
    count, border = len(expected), 2
    module = (x2 - x1) / (count + 2 * border)
    seen = [[page.getpixel((int((x1 + (border + c + 0.5) * module) * scale),
                            int((page_height - y2 + (border + r + 0.5) * module) * scale))) < 128
             for c in range(count)] for r in range(count)]
    assert seen == expected


@needs_poppler
def test_quick_check_jobs_get_a_certificate_too(engine, tmp_path):
    stamped = make_file(tmp_path / "stamped.bin", size=9000, seed="s")
    run_job(engine, "stamp", stamped)
    found_id = run_job(engine, "check", stamped)
    assert engine.history.get_job(found_id).outcome == "found"
    assert "On the blockchain" in flat(pdf_text(certificate_for_job(engine.history, found_id, tmp_path / "f.pdf")))
    stranger = make_file(tmp_path / "stranger.bin", size=9000, seed="x")
    missing_id = run_job(engine, "check", stranger)
    assert engine.history.get_job(missing_id).outcome == "not found"
    assert "No match" in flat(pdf_text(certificate_for_job(engine.history, missing_id, tmp_path / "n.pdf")))
