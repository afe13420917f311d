"""The receipt inside a certificate: written as the PDF's ``integritas-receipt.json`` attachment
(``/EmbeddedFiles`` name tree), and read back from any PDF without a PDF library."""

from __future__ import annotations

import base64
import json
import os
import re
import zlib
from datetime import timezone
from pathlib import Path
from typing import Any, Iterable, Mapping

from reportlab.pdfbase.pdfdoc import (
    PDFArray,
    PDFDictionary,
    PDFName,
    PDFObject,
    PDFStream,
    PDFString,
    PDFZCompress,
)

from integritas_gui.core.errors import BadInput, FileProblem
from integritas_gui.core.receipts import Receipt, parse_iso_utc

RECEIPT_ATTACHMENT_NAME = "integritas-receipt.json"
MAX_PDF_BYTES = 256 * 1024 * 1024


class _RawName(PDFObject):
    """A PDF name written exactly as given (reportlab would escape the ``#`` of ``#2F``)."""

    def __init__(self, raw: bytes):
        self.raw = raw

    def format(self, document):  # noqa: A003 - reportlab's interface
        return self.raw


def _pdf_date(iso: str) -> str:
    moment = parse_iso_utc(iso).astimezone(timezone.utc)
    return moment.strftime("D:%Y%m%d%H%M%S+00'00'")


def attach_file(canvas, name: str, data: bytes, description: str, modified: str) -> None:
    """Attach ``data`` as an embedded file in the document's ``/EmbeddedFiles`` name tree."""
    document = canvas._doc
    stream = PDFStream(
        PDFDictionary({
            "Type": PDFName("EmbeddedFile"),
            "Subtype": _RawName(b"/application#2Fjson"),
            "Params": PDFDictionary({"Size": len(data), "ModDate": PDFString(_pdf_date(modified))}),
        }),
        content=data,
        filters=[PDFZCompress],
    )
    filespec = PDFDictionary({
        "Type": PDFName("Filespec"),
        "F": PDFString(name),
        "UF": PDFString(name),
        "Desc": PDFString(description),
        "AFRelationship": PDFName("Data"),
        "EF": PDFDictionary({"F": document.Reference(stream), "UF": document.Reference(stream)}),
    })
    reference = document.Reference(filespec)
    canvas.setCatalogEntry("Names", PDFDictionary({
        "EmbeddedFiles": PDFDictionary({"Names": PDFArray([PDFString(name), reference])}),
    }))


def receipt_payload(receipt: Any, include_paths: bool) -> tuple[Receipt, bytes]:
    if isinstance(receipt, Receipt):
        data = receipt.to_dict()
    elif isinstance(receipt, Mapping):
        data = json.loads(json.dumps(receipt))
    else:
        raise BadInput("A certificate needs a receipt (a dict in the receipt format).")
    parsed = Receipt.from_dict(data)  # strict: a damaged receipt gives no certificate
    if not include_paths:
        if isinstance(data.get("file"), dict):
            data["file"].pop("path", None)
        for report in data.get("reports") or []:
            if isinstance(report, dict):
                report.pop("saved_path", None)
    return parsed, (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


# ---------------------------------------------------------------------------------------------
# Reading the receipt back


_OBJ_HEADER = re.compile(rb"(\d+)\s+(\d+)\s+obj\b")


def _skip_string(data: bytes, index: int) -> int:
    """Index just past the literal string that starts at ``data[index] == b'('``."""
    depth = 0
    while index < len(data):
        byte = data[index]
        if byte == 0x5C:  # backslash escapes the next byte
            index += 2
            continue
        if byte == 0x28:
            depth += 1
        elif byte == 0x29:
            depth -= 1
            if depth == 0:
                return index + 1
        index += 1
    raise ValueError("unterminated string")


def _dictionary_end(data: bytes, start: int) -> int:
    """Index just past the ``>>`` closing the dictionary that opens at ``start``."""
    depth = 0
    index = start
    while index < len(data):
        if data.startswith(b"<<", index):
            depth += 1
            index += 2
        elif data.startswith(b">>", index):
            depth -= 1
            index += 2
            if depth == 0:
                return index
        elif data[index] == 0x28:
            index = _skip_string(data, index)
        else:
            index += 1
    raise ValueError("unterminated dictionary")


def _stream_length(dictionary: bytes, data: bytes) -> int | None:
    match = re.search(rb"/Length\s+(\d+)(\s+(\d+)\s+R)?", dictionary)
    if not match:
        return None
    if not match.group(2):
        return int(match.group(1))
    target = re.search(rb"(?<!\d)%s\s+%s\s+obj\s*(\d+)\s*endobj" % (match.group(1), match.group(3)), data)
    return int(target.group(1)) if target else None


def _decode(dictionary: bytes, raw: bytes) -> bytes:
    filters_match = re.search(rb"/Filter\s*(\[[^\]]*\]|/[A-Za-z0-9]+)", dictionary)
    names = re.findall(rb"/([A-Za-z0-9]+)", filters_match.group(1)) if filters_match else []
    for name in names:
        if name in (b"FlateDecode", b"Fl"):
            raw = zlib.decompressobj().decompress(raw)
        elif name in (b"ASCII85Decode", b"A85"):
            text = re.sub(rb"\s", b"", raw)
            text = text[2:] if text.startswith(b"<~") else text
            text = text[:-2] if text.endswith(b"~>") else text
            raw = base64.a85decode(text)
        elif name in (b"ASCIIHexDecode", b"AHx"):
            text = re.sub(rb"[\s>]", b"", raw)
            raw = bytes.fromhex((text + b"0" * (len(text) % 2)).decode("ascii"))
        else:
            raise ValueError(f"unsupported filter {name!r}")
    return raw


def _embedded_files(data: bytes) -> Iterable[bytes]:
    """Contents of every ``/Type /EmbeddedFile`` stream in a PDF, in file order."""
    position = 0
    while True:
        header = _OBJ_HEADER.search(data, position)
        if header is None:
            return
        position = header.end()
        start = header.end()
        while start < len(data) and data[start] in b" \t\r\n\f\x00":
            start += 1
        if not data.startswith(b"<<", start):
            continue
        try:
            end = _dictionary_end(data, start)
        except ValueError:
            continue
        dictionary = data[start:end]
        after = re.match(rb"\s*stream(\r\n|\n|\r)", data[end:end + 16])
        if after is None:
            continue
        body = end + after.end()
        length = _stream_length(dictionary, data)
        if length is None or body + length > len(data):
            stop = data.find(b"endstream", body)
            if stop < 0:
                continue
            length = stop - body
        position = body + length
        if not re.search(rb"/Type\s*/EmbeddedFile\b", dictionary):
            continue
        try:
            yield _decode(dictionary, data[body:body + length])
        except (ValueError, zlib.error):
            continue


def extract_receipt(pdf_path: str | os.PathLike) -> dict:
    """The receipt attached to a certificate, as a dict (checked strictly like any receipt).

    Raises FileProblem when the PDF cannot be read, BadInput when it carries no valid receipt.
    """
    path = Path(pdf_path)
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_PDF_BYTES + 1)
    except OSError as exc:
        raise FileProblem(f"The certificate {path} cannot be read: {exc.strerror or exc}.", str(path)) from None
    if not data.startswith(b"%PDF-"):
        raise BadInput(f"{path.name} is not a PDF.")
    if len(data) > MAX_PDF_BYTES:
        raise BadInput(f"{path.name} is too large to be a certificate.")
    if re.search(rb"/Encrypt\s", data):
        raise BadInput(f"{path.name} is encrypted; save an unencrypted copy and try again.")
    problem = None
    for content in _embedded_files(data):
        try:
            candidate = json.loads(content.decode("utf-8-sig"))
        except (UnicodeDecodeError, ValueError):
            continue
        if not isinstance(candidate, dict) or candidate.get("format") != "integritas-receipt":
            continue
        try:
            Receipt.from_dict(candidate)
        except BadInput as exc:
            problem = exc
            continue
        return candidate
    if problem is not None:
        raise problem
    raise BadInput(f"{path.name} carries no Integritas receipt (it is not an Integritas certificate, "
                   "or the attachment was removed).")

