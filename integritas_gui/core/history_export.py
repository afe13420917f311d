"""Export the history as CSV or JSON, and import exports, receipts, legacy v1 proof files and
Edge Studio export ZIPs (a v1 proof with its source file).

Everything streams: an export reads the history a page at a time and writes row by row, and an
import of our own export reads one job per line, so 100,000 entries never sit in memory at once.
No Qt here; the history window runs these on a worker thread.

A file that cannot be used (corrupt, a v1 proof whose root does not match) imports nothing and
gives one plain message; the other files of the same import go on.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, TextIO

from integritas_gui.core.display import iso_utc
from integritas_gui.core.errors import BadInput, Cancelled, IntegritasError
from integritas_gui.core.hexhash import is_hex, normalise_hash_lenient
from integritas_gui.core.history import History, Job, utc_now
from integritas_gui.core.model import RECORD_FIELDS, ChainRecord

EXPORT_FORMAT = "integritas-history-export"
EXPORT_VERSION = 1
EXPORT_FIELDS = (
    "id", "kind", "name", "path", "size", "mtime_ns", "sha3_256", "blake3", "segment_size",
    "segment_count", "segments_root", "state", "outcome", "error", "error_kind", "created_at",
    "updated_at", "submitted_at", "confirmed_at", "block_number", "block_date", "report_path",
    "receipt_path", "base_url", "segments", "records",
)
# Columns read straight from the jobs table; "segments" (the BLAKE3 of each segment, concatenated
# hex) and "records" (a JSON list) come from their own tables.
JOB_FIELDS = tuple(name for name in EXPORT_FIELDS if name not in ("segments", "records"))
INT_FIELDS = {"id", "size", "mtime_ns", "segment_size", "segment_count", "block_number"}
_BLOCK_DATE = JOB_FIELDS.index("block_date")
BATCH = 1000
MAX_JSON_IMPORT_BYTES = 64 * 1024 * 1024  # for JSON that is not in our line-per-job layout

ProgressFn = Callable[[int], None]  # rows done so far


@dataclass(frozen=True)
class JobFilter:
    """The history window's current search; all None means every job."""

    text: str | None = None
    kind: str | None = None
    outcome: str | None = None
    since: str | None = None
    until: str | None = None

    @property
    def is_empty(self) -> bool:
        return not any((self.text, self.kind, self.outcome, self.since, self.until))

    def as_kwargs(self) -> dict[str, Any]:
        return dict(kind=self.kind, outcome=self.outcome, since=self.since, until=self.until)


@dataclass(frozen=True)
class ImportResult:
    path: str
    what: str  # "receipt" | "v1 proof" | "Edge Studio export" | "export" | "unknown"
    imported: int = 0
    skipped: int = 0  # already in the history
    error: str | None = None  # set when nothing was imported from this file
    failed_at_service: int = 0  # v1 proofs whose stamp the service could not make ("[ERROR]")

    @property
    def message(self) -> str:
        name = os.path.basename(self.path) or self.path
        if self.error:
            return f"{name}: {self.error}"
        text = f"{name}: imported {self.imported} {self.what} entr{'y' if self.imported == 1 else 'ies'}"
        if self.skipped:
            text += f", {self.skipped} already in the history"
        if self.failed_at_service:
            which = "its stamp" if self.failed_at_service == self.imported + self.skipped else (
                f"{self.failed_at_service} of the stamps")
            text += (f"; {which} failed at the Integritas service (the proof says [ERROR]), so "
                     "nothing was anchored: stamp the file again")
        return text + "."


# ---- reading the history ------------------------------------------------------------------------

def iter_jobs(history: History, *, job_ids: Iterable[int] | None = None,
              job_filter: JobFilter | None = None, batch: int = BATCH) -> Iterator[Job]:
    """Jobs newest first: the given ids, or those matching the filter, a page at a time."""
    for page in _id_pages(history, job_ids=job_ids, job_filter=job_filter, batch=batch):
        yield from history.jobs(page)


def _id_pages(history: History, *, job_ids: Iterable[int] | None, job_filter: JobFilter | None,
              batch: int) -> Iterator[list[int]]:
    """The chosen job ids, newest first, a page at a time (keyset paging, never OFFSET)."""
    if job_ids is not None:
        ids = sorted(set(job_ids), reverse=True)
        for start in range(0, len(ids), batch):
            yield ids[start:start + batch]
        return
    job_filter = job_filter or JobFilter()
    before: int | None = None
    while True:
        if job_filter.is_empty:
            ids = history.job_ids_before(before, batch)
        else:
            ids = [job.id for job in history.page(job_filter.text, **job_filter.as_kwargs(),
                                                  before_id=before, limit=batch)]
        if not ids:
            return
        yield ids
        before = ids[-1]


def _record_from_export(entry: dict[str, Any]) -> ChainRecord:
    """One entry of an export's ``records`` list (a date without a zone is UTC)."""
    fields = {name: entry.get(name) for name in RECORD_FIELDS}
    fields["block_date"] = iso_utc(fields["block_date"])
    fields["matched_hash"] = normalise_hash_lenient(fields["matched_hash"])
    return ChainRecord(**fields)


def records_for_jobs(history: History, job_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """On-chain records of many jobs, as export dicts."""
    return {job_id: [record.as_dict() for record in records]
            for job_id, records in history.records_of_jobs(job_ids).items()}


def iter_export_tuples(history: History, *, job_ids: Iterable[int] | None = None,
                       job_filter: JobFilter | None = None, batch: int = BATCH) -> Iterator[tuple]:
    """The chosen jobs newest first as tuples in EXPORT_FIELDS order (``records`` a list of dicts)."""
    for ids in _id_pages(history, job_ids=job_ids, job_filter=job_filter, batch=batch):
        rows = history.job_tuples(ids, JOB_FIELDS)
        records = records_for_jobs(history, ids)
        segments = history.segments_hex_of_jobs(ids)
        for row in rows:
            found = records.get(row[0], [])
            if isinstance(row[_BLOCK_DATE], str) and not row[_BLOCK_DATE].endswith("Z"):  # stored before dates were normalised
                row = row[:_BLOCK_DATE] + (iso_utc(row[_BLOCK_DATE]),) + row[_BLOCK_DATE + 1:]
            for record in found:
                if isinstance(record["block_date"], str) and not record["block_date"].endswith("Z"):
                    record["block_date"] = iso_utc(record["block_date"])
            yield row + (segments.get(row[0]), found)


def iter_export_rows(history: History, **kwargs: Any) -> Iterator[dict[str, Any]]:
    """As ``iter_export_tuples``, as dicts keyed by EXPORT_FIELDS."""
    for values in iter_export_tuples(history, **kwargs):
        yield dict(zip(EXPORT_FIELDS, values))


# ---- writing exports ----------------------------------------------------------------------------

def _tick(count: int, progress: ProgressFn | None, cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise Cancelled("Export cancelled.")
    if progress is not None and count % 500 == 0:
        progress(count)


def write_csv(rows: Iterable[tuple], out: TextIO, *, progress: ProgressFn | None = None,
              cancel: threading.Event | None = None) -> int:
    """CSV with a header; ``records`` is a JSON list in its cell. Returns the row count.

    ``rows`` are tuples in EXPORT_FIELDS order (``iter_export_tuples``)."""
    writer = csv.writer(out, lineterminator="\n")  # writes None as an empty cell
    writer.writerow(EXPORT_FIELDS)
    encode = json.JSONEncoder(separators=(",", ":")).encode
    count = 0
    for row in rows:
        records = row[-1]
        writer.writerow(row[:-1] + (encode(records) if records else "[]",))
        count += 1
        _tick(count, progress, cancel)
    return count


def write_json(rows: Iterable[tuple], out: TextIO, *, progress: ProgressFn | None = None,
               cancel: threading.Event | None = None) -> int:
    """A JSON object with one job per line in ``jobs``: valid JSON that also reads back line by line."""
    header = {"format": EXPORT_FORMAT, "version": EXPORT_VERSION, "exported_at": utc_now()}
    out.write(json.dumps(header, separators=(", ", ": "))[:-1] + ', "jobs": [\n')
    encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    count = 0
    for row in rows:
        if count:
            out.write(",\n")
        out.write(encode(dict(zip(EXPORT_FIELDS, row))))
        count += 1
        _tick(count, progress, cancel)
    out.write("\n]}\n")
    return count


def export_history(history: History, destination: str | os.PathLike, fmt: str, *,
                   job_ids: Iterable[int] | None = None, job_filter: JobFilter | None = None,
                   progress: ProgressFn | None = None, cancel: threading.Event | None = None) -> int:
    """Write the chosen jobs (or all matching ``job_filter``) to ``destination`` as "csv" or "json".

    The file appears complete or not at all (written beside it, then renamed).
    """
    if fmt not in ("csv", "json"):
        raise ValueError(f"unknown export format {fmt!r}")
    destination = Path(destination)
    rows = iter_export_tuples(history, job_ids=job_ids, job_filter=job_filter)
    fd, tmp = tempfile.mkstemp(prefix=".export-", suffix="." + fmt, dir=destination.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            writer = write_csv if fmt == "csv" else write_json
            count = writer(rows, out, progress=progress, cancel=cancel)
        os.replace(tmp, destination)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return count


# ---- reading exports back -----------------------------------------------------------------------

def _clean_row(raw: dict[str, Any], where: str) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for name in EXPORT_FIELDS:
        value = raw.get(name)
        if value == "" and name != "records":
            value = None
        if name in INT_FIELDS and value is not None:
            try:
                value = int(value)
            except (TypeError, ValueError):
                raise BadInput(f"This export is damaged: {where} has a non-number {name}.") from None
        row[name] = value
    records = row.get("records") or []
    if isinstance(records, str):
        try:
            records = json.loads(records) if records.strip() else []
        except ValueError:
            raise BadInput(f"This export is damaged: {where} has unreadable records.") from None
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise BadInput(f"This export is damaged: {where} has unreadable records.")
    row["block_date"] = iso_utc(row.get("block_date"))  # a date without a zone is UTC
    row["records"] = [_record_from_export(record) for record in records]
    segments = row.get("segments")
    if isinstance(segments, str):
        text = normalise_hash_lenient(segments) or ""
        if len(text) % 64 or (text and not is_hex(text)):
            raise BadInput(f"This export is damaged: {where} has unreadable segment hashes.")
        segments = tuple(text[i:i + 64] for i in range(0, len(text), 64))
    elif segments is not None:
        raise BadInput(f"This export is damaged: {where} has unreadable segment hashes.")
    row["segments"] = segments or None
    if row.get("kind") not in ("stamp", "check", "verify"):
        raise BadInput(f"This export is damaged: {where} has no kind (stamp, check or verify).")
    if not row.get("state") or not row.get("created_at"):
        raise BadInput(f"This export is damaged: {where} lacks its state or date.")
    return row


def read_csv_export(text_stream: TextIO) -> Iterator[dict[str, Any]]:
    reader = csv.DictReader(text_stream)
    if not reader.fieldnames or "kind" not in reader.fieldnames or "sha3_256" not in reader.fieldnames:
        raise BadInput("This CSV file is not an Integritas history export.")
    for number, raw in enumerate(reader, start=2):
        yield _clean_row(raw, f"line {number}")


def read_json_export(text_stream: TextIO) -> Iterator[dict[str, Any]]:
    """Our own layout line by line; any other JSON export shape is read whole (size-limited)."""
    first = text_stream.readline()
    stripped = first.strip()
    if stripped.startswith("{") and stripped.endswith('"jobs": ['):
        header = json.loads(stripped[:-len(', "jobs": [')] + "}")
        if header.get("format") != EXPORT_FORMAT:
            raise BadInput("This JSON file is not an Integritas history export.")
        for number, line in enumerate(text_stream, start=2):
            line = line.strip()
            if line in ("]}", ""):
                continue
            try:
                raw = json.loads(line.rstrip(","))
            except ValueError:
                raise BadInput(f"This export is damaged: line {number} is not valid JSON.") from None
            if not isinstance(raw, dict):
                raise BadInput(f"This export is damaged: line {number} is not a job.")
            yield _clean_row(raw, f"line {number}")
        return
    rest = text_stream.read(MAX_JSON_IMPORT_BYTES)
    try:
        document = json.loads(first + rest)
    except ValueError:
        raise BadInput("This export is damaged: it is not valid JSON.") from None
    jobs = document.get("jobs") if isinstance(document, dict) else None
    if not isinstance(jobs, list) or document.get("format") != EXPORT_FORMAT:
        raise BadInput("This JSON file is not an Integritas history export.")
    for number, raw in enumerate(jobs, start=1):
        if not isinstance(raw, dict):
            raise BadInput(f"This export is damaged: job {number} is not an object.")
        yield _clean_row(raw, f"job {number}")


# ---- writing imported jobs ----------------------------------------------------------------------

def insert_imported_jobs(history: History, rows: Iterable[dict[str, Any]], *,
                         cancel: threading.Event | None = None,
                         progress: ProgressFn | None = None) -> tuple[int, int]:
    """Insert rows (EXPORT_FIELDS; ``records`` a list of ChainRecords, optional ``segments`` tuple) through
    ``History.import_jobs``: original dates kept, oldest first, rows already present skipped, a
    damaged row anywhere imports nothing. Returns (imported, skipped)."""
    return history.import_jobs(rows, cancel=cancel, progress=progress)


# ---- receipts and v1 proofs ---------------------------------------------------------------------

def rows_from_receipt(receipt: Any, receipt_path: str) -> list[dict[str, Any]]:
    """A stamp job for a receipt: confirmed with its records when the receipt says so."""
    records = list(receipt.records)
    first = min(records, key=lambda r: r.block_number or 0) if records else ChainRecord()
    stamped_at = receipt.stamp_request.time if receipt.stamp_request else receipt.created
    confirmed = bool(receipt.is_confirmed)
    return [{
        "kind": "stamp",
        "name": receipt.file_name,
        "path": receipt.file_path,
        "size": receipt.size,
        "sha3_256": receipt.sha3_256,
        "blake3": receipt.blake3,
        "segment_size": receipt.segment_size,
        "segment_count": len(receipt.segments),
        "segments_root": receipt.segments_root,
        "segments": receipt.segments,
        "mtime_ns": receipt.mtime_ns,
        "state": "confirmed" if confirmed else "done",
        "outcome": None if confirmed else "imported receipt (not confirmed)",
        "created_at": stamped_at,
        "updated_at": receipt.updated,
        "confirmed_at": receipt.confirmed_at,
        "block_number": first.block_number,
        "block_date": first.block_date,
        "receipt_path": receipt_path,
        "base_url": receipt.stamp_request.base_url if receipt.stamp_request else None,
        "records": records,
    }]


def rows_from_v1_proofs(proofs: list[Any], proof_path: str, *, name: str | None = None,
                        size: int | None = None) -> list[dict[str, Any]]:
    """Stamp jobs for a v1 proof file. Any wrong root rejects the whole file (BadInput); a stamp the
    service could not make ("[ERROR]") is kept as a failed stamp that says so."""
    from integritas_gui.core.v1proof import FAILED_AT_SERVICE, ROOT_MISMATCH, UNCHECKED

    bad = [index for index, proof in enumerate(proofs, start=1) if proof.status == ROOT_MISMATCH]
    if bad:
        which = "entry " + ", ".join(str(i) for i in bad[:5]) if len(proofs) > 1 else "its proof"
        raise BadInput(
            f"Rejected: {which} does not match the proven hash (the root is wrong), so this proof "
            "file was altered or belongs to another hash. Nothing was imported from it."
        )
    try:
        when = iso_utc(os.path.getmtime(proof_path))
    except OSError:
        when = utc_now()
    rows = []
    for proof in proofs:
        row = {
            "kind": "stamp",
            "name": name or f"{os.path.basename(proof_path)} (v1 proof)",
            "path": None,
            "size": size,
            "sha3_256": proof.hash or None,
            "created_at": when,
            "receipt_path": proof_path,
            "records": [],
        }
        if proof.status == FAILED_AT_SERVICE:
            row.update(state="failed", error=proof.message, error_kind="service")
        else:
            checked = proof.status != UNCHECKED
            row.update(state="confirmed" if checked else "done",
                       outcome="v1 proof checked offline" if checked else "v1 proof (not checkable offline)")
        rows.append(row)
    return rows


def rows_from_proof_zip(bundle: Any, zip_path: str) -> list[dict[str, Any]]:
    """Stamp jobs for an Edge Studio export; a source file that is not the proven one rejects it."""
    if bundle.source_matches is False:
        raise BadInput(
            f"Rejected: the file {bundle.source_name} in this ZIP is not the one its proof is for (its "
            "SHA3-256 differs), so the export was altered or mixed up. Nothing was imported from it.")
    label = f"{bundle.source_name or os.path.basename(zip_path)} (Edge Studio export)"
    return rows_from_v1_proofs(bundle.proofs, zip_path, name=label, size=bundle.source_size)


def _sniff(path: Path) -> tuple[str, Any]:
    """("export-csv" | "export-json" | "v1" | "zip" | "receipt", what was parsed or None)."""
    if path.suffix.lower() == ".csv":
        return "export-csv", None
    with open(path, "rb") as handle:
        head = handle.read(4096)
    if head.startswith(b"PK\x03\x04") or path.suffix.lower() == ".zip":
        from integritas_gui.core.v1proof import read_proof_zip

        return "zip", read_proof_zip(path)
    text = head.decode("utf-8-sig", errors="replace").lstrip()
    if text.startswith("{") and EXPORT_FORMAT in text.split("\n", 1)[0]:
        return "export-json", None
    if text.startswith("[") or ('"proof"' in text and '"root"' in text):
        from integritas_gui.core.v1proof import parse_v1_proofs

        return "v1", parse_v1_proofs(path)
    from integritas_gui.core.receipts import read_receipt

    return "receipt", read_receipt(path)


def import_file(history: History, path: str | os.PathLike, *,
                cancel: threading.Event | None = None, progress: ProgressFn | None = None) -> ImportResult:
    """Import one receipt, v1 proof file or history export. Never raises for a bad file."""
    path = Path(path)
    what = "unknown"
    try:
        kind, parsed = _sniff(path)
        if kind == "export-csv":
            what = "export"
            with open(path, encoding="utf-8-sig", newline="") as stream:
                imported, skipped = insert_imported_jobs(history, read_csv_export(stream),
                                                         cancel=cancel, progress=progress)
        elif kind == "export-json":
            what = "export"
            with open(path, encoding="utf-8-sig") as stream:
                imported, skipped = insert_imported_jobs(history, read_json_export(stream),
                                                         cancel=cancel, progress=progress)
        elif kind in ("v1", "zip"):
            what = "v1 proof" if kind == "v1" else "Edge Studio export"
            rows = (rows_from_v1_proofs(parsed, str(path)) if kind == "v1"
                    else rows_from_proof_zip(parsed, str(path)))
            imported, skipped = insert_imported_jobs(history, rows)
            failed = sum(1 for row in rows if row["state"] == "failed")
            return ImportResult(str(path), what, imported=imported, skipped=skipped,
                                failed_at_service=failed)
        else:
            what = "receipt"
            imported, skipped = insert_imported_jobs(history, rows_from_receipt(parsed, str(path)))
    except Cancelled:
        raise
    except IntegritasError as exc:
        return ImportResult(str(path), what, error=exc.message)
    except UnicodeDecodeError:
        return ImportResult(str(path), what, error="This file is not text, so it cannot be imported.")
    except OSError as exc:
        return ImportResult(str(path), what, error=f"The file cannot be read: {exc.strerror or exc}.")
    except csv.Error as exc:
        return ImportResult(str(path), what, error=f"This CSV file is damaged: {exc}.")
    return ImportResult(str(path), what, imported=imported, skipped=skipped)


def import_files(history: History, paths: Iterable[str | os.PathLike], *,
                 cancel: threading.Event | None = None) -> list[ImportResult]:
    results = []
    for path in paths:
        if cancel is not None and cancel.is_set():
            break
        results.append(import_file(history, path, cancel=cancel))
    return results


def export_to_string(history: History, fmt: str, **kwargs: Any) -> str:
    """Small exports in memory (tests, clipboard)."""
    buffer = io.StringIO()
    rows = iter_export_tuples(history, **kwargs)
    (write_csv if fmt == "csv" else write_json)(rows, buffer)
    return buffer.getvalue()
