"""`integritas`: the same core as the window, from a terminal. Never imports Qt.

Exit codes: 0 success / full match, 1 no match or not found, 2 bad input, 3 service or network
failure. Errors go to stderr as one plain line. A batch interrupted with Ctrl-C (or killed) resumes
when the same command is run again: files already submitted are not stamped twice.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterable, TextIO

from integritas_gui import __version__

EXIT_OK, EXIT_NOT_FOUND, EXIT_BAD_INPUT, EXIT_SERVICE = 0, 1, 2, 3
INTERRUPTED = 130


class CliError(Exception):
    def __init__(self, message: str, code: int):
        super().__init__(message)
        self.message = message
        self.code = code


# ---- output ------------------------------------------------------------------------------------
class Output:
    """Results on stdout (text or one JSON object per line), progress on stderr (terminals only)."""

    def __init__(self, as_json: bool, stream: TextIO | None = None, err: TextIO | None = None):
        self.as_json = as_json
        self.stream = stream or sys.stdout
        self.err = err or sys.stderr
        self.lock = threading.Lock()
        self.show_progress = self.err.isatty() and not as_json
        self._progress_line = ""
        self.sandbox: bool | None = None  # results of a command that talked to a service say which

    def result(self, record: dict[str, Any], text: str) -> None:
        if self.sandbox is not None:
            record = {**record, "sandbox": self.sandbox}
            text = SANDBOX_PREFIX + text if self.sandbox else text
        with self.lock:
            self._clear_progress()
            self.stream.write(self._encodable(record, text) + "\n")
            self.stream.flush()
            self._draw_progress()

    def _encodable(self, record: dict[str, Any], text: str) -> str:
        """The line to print; a file name that is not valid text (invalid UTF-8 bytes) is escaped
        instead of crashing the output."""
        line = json.dumps(record, ensure_ascii=False) if self.as_json else text
        encoding = getattr(self.stream, "encoding", None) or "utf-8"
        try:
            line.encode(encoding)
        except (UnicodeEncodeError, LookupError):
            if self.as_json:
                return json.dumps(record)
            return line.encode(encoding, "backslashreplace").decode(encoding, "replace")
        return line

    def progress(self, line: str) -> None:
        if not self.show_progress:
            return
        with self.lock:
            self._clear_progress()
            self._progress_line = line[: max(20, shutil.get_terminal_size().columns - 1)]
            self._draw_progress()

    def end_progress(self) -> None:
        with self.lock:
            self._clear_progress()
            self._progress_line = ""

    def _clear_progress(self) -> None:
        if self._progress_line:
            self.err.write("\r" + " " * len(self._progress_line) + "\r")
            self.err.flush()

    def _draw_progress(self) -> None:
        if self._progress_line:
            self.err.write(self._progress_line)
            self.err.flush()


def human_size(size: int | None) -> str:
    from integritas_gui.core.display import format_size

    return format_size(size) or "?"


def local_time(iso: str | None) -> str:
    """A service or history date in this computer's zone (a date without a zone is UTC)."""
    from integritas_gui.core.display import format_local

    return format_local(iso)


def progress_bar(done: int, total: int, width: int = 24) -> str:
    filled = int(width * done / total) if total else width
    return "[" + "#" * filled + "." * (width - filled) + "]"


# ---- set-up ------------------------------------------------------------------------------------
SANDBOX_PREFIX = "[sandbox] "


def _overrides(args: argparse.Namespace):
    """This run's settings: the environment's, then the command line's (see session.py)."""
    from integritas_gui.session import Overrides, overrides_from_env, setting_override

    values: dict[str, Any] = {}
    for option, name in (("base_url", "service"), ("proxy", "proxy"), ("workers", "hash-workers"),
                         ("request_timeout", "request-timeout"), ("confirmations", "node-confirmations")):
        text = getattr(args, option, None)
        if text is not None:
            values.update(setting_override(name, str(text)))
    return overrides_from_env().merged(Overrides(
        settings=values, api_key=getattr(args, "api_key", None),
        force_sandbox=getattr(args, "sandbox", False), max_retries=getattr(args, "retries", None)))


def _session(args: argparse.Namespace, out: Output, *, stamp_client=None):
    """History, client and engine for a command that talks to the service (trial sandbox included),
    or, with ``stamp_client`` (see open_session), to the user's own node."""
    from integritas_gui.core.client import ServiceError
    from integritas_gui.core.secrets import SecretStore
    from integritas_gui.core.settings import load_settings
    from integritas_gui.session import open_session

    overrides = _overrides(args)
    _, dirs = _history(args, open_store=False)
    try:
        session = open_session(dirs, load_settings(dirs.settings_file), SecretStore(dirs.config),
                               overrides=overrides, stamp_client=stamp_client)
    except ServiceError as exc:
        raise CliError(exc.message, EXIT_BAD_INPUT) from None
    if stamp_client is not None:
        return session  # the node, not a service, answers: its results carry no sandbox mark
    out.sandbox = session.trial
    if session.trial:
        print(f"integritas: trial mode: the local sandbox on this computer, not a real blockchain "
              f"(a block every {session.block_time:g} s). To use Integritas, store your API key: "
              "integritas config set api-key -", file=sys.stderr)
    return session


def _history(args: argparse.Namespace, *, open_store: bool = True):
    from integritas_gui.core.history import History
    from integritas_gui.core.logsetup import setup_logging
    from integritas_gui.core.paths import app_dirs

    dirs = app_dirs(args.data_dir).create()
    setup_logging(dirs.logs)
    return (History(dirs.history_db) if open_store else None), dirs


# ---- job result lines ---------------------------------------------------------------------------
def job_record(job) -> dict[str, Any]:
    record = {
        "id": job.id, "kind": job.kind, "path": job.path, "name": job.name, "size": job.size,
        "state": job.state, "outcome": job.outcome, "sha3_256": job.sha3_256, "blake3": job.blake3,
        "block_number": job.block_number, "block_date": job.block_date, "error": job.error,
    }
    if job.records:
        record["blockchain_data"] = [r.__dict__ for r in job.records]
    if job.report_path:
        record["report_path"] = job.report_path
    if job.receipt_check:
        record["receipt_check"] = job.receipt_check
    return record


def job_line(job) -> str:
    name = job.path or job.sha3_256 or f"job {job.id}"
    if job.state == "failed":
        return f"{name}: failed: {job.error}"
    if job.state == "cancelled":
        return f"{name}: cancelled"
    if job.state == "pending":
        status = ("found, waiting for the block details" if job.error_kind == "awaiting_block"
                  else "submitted, pending on chain")
        return f"{name}: {status}  sha3_256={job.sha3_256}"
    if job.state == "confirmed":
        when = local_time(job.block_date)
        return f"{name}: confirmed in block {job.block_number} at {when}  sha3_256={job.sha3_256}"
    line = f"{name}: {job.outcome or job.state}  sha3_256={job.sha3_256}"
    for rec in job.records:
        line += f"\n    block {rec.block_number} at {local_time(rec.block_date)}  txpow {rec.txpow_id}  tx {rec.transaction_id}"
    check = job.receipt_check
    if check and check.get("status") == "changed":
        ranges = ", ".join(f"{o}-{o + n - 1}" for o, n in check.get("changed", []))
        line += f"\n    changed since it was stamped: bytes {ranges or '(size differs)'}"
    if job.report_path:
        line += f"\n    report saved: {job.report_path}"
    if job.error:
        line += f"\n    note: {job.error}"
    return line


def job_exit_code(job) -> int:
    if job.state == "failed":
        return EXIT_BAD_INPUT if job.error_kind in ("file", "file_changed", "bad_input") else EXIT_SERVICE
    if job.state == "cancelled":
        return EXIT_SERVICE
    if job.kind == "check" and job.outcome != "found":
        return EXIT_NOT_FOUND
    if job.kind == "verify" and job.outcome != "full match":
        return EXIT_NOT_FOUND
    return EXIT_OK


def worst(codes: Iterable[int]) -> int:
    order = [EXIT_OK, EXIT_NOT_FOUND, EXIT_BAD_INPUT, EXIT_SERVICE]
    return max(codes, key=order.index, default=EXIT_OK)


# ---- commands ----------------------------------------------------------------------------------
def cmd_hash(args: argparse.Namespace, out: Output) -> int:
    from integritas_gui.core.errors import IntegritasError
    from integritas_gui.core.hashing import hash_many
    from integritas_gui.core.walk import expand_paths

    codes: list[int] = []
    done = [0, 0]  # files, bytes
    started = time.monotonic()

    def on_result(path: str, result: Any) -> None:
        if isinstance(result, IntegritasError):
            codes.append(EXIT_BAD_INPUT)
            out.result({"path": path, "error": result.message}, f"{path}: error: {result.message}")
            return
        codes.append(EXIT_OK)
        record = {
            "path": result.path, "size": result.size, "sha3_256": result.sha3_256,
            "blake3": result.blake3, "segment_size": result.segment_size,
            "segment_count": result.segment_count, "segments_root": result.segments_root,
        }
        if args.segments:
            record["segments"] = list(result.segments)
        text = ""
        if not out.as_json:
            text = "\n".join(f"{k}: {v}" for k, v in record.items() if k != "segments")
            if args.segments:
                text += "\nsegments:\n" + "\n".join(
                    f"  {i} {result.segment_range(i)[0]}+{result.segment_range(i)[1]} {s}"
                    for i, s in enumerate(result.segments))
        out.result(record, text + "\n")
        done[0] += 1
        done[1] += result.size
        if out.show_progress:
            rate = done[1] / max(1e-6, time.monotonic() - started)
            out.progress(f"{done[0]} files hashed  {human_size(int(rate))}/s")

    def files() -> Iterable[str]:
        for item in expand_paths(args.paths):
            if item.error:
                codes.append(EXIT_BAD_INPUT)
                out.result({"path": item.path, "error": item.error}, f"{item.path}: error: {item.error}")
            else:
                yield item.path

    from integritas_gui.core.paths import app_dirs
    from integritas_gui.core.settings import load_settings
    from integritas_gui.session import effective_settings

    settings = load_settings(app_dirs(args.data_dir).settings_file)  # hashing writes nothing there
    effective = effective_settings(settings, _overrides(args))
    segment_size = None if effective.segment_size == "auto" else int(effective.segment_size)
    hash_many(files(), workers=effective.hash_workers, segment_size=segment_size, on_result=on_result)
    out.end_progress()
    return worst(codes)


class BatchWatcher:
    """Prints each job once it settles for this command, and a progress line on terminals."""

    def __init__(self, history, out: Output, settle_states: set[str], note: Callable[[dict[str, int]], str] | None = None):
        self.history = history
        self.note = note  # from the jobs' states, more for the progress line (sends through a node)
        self.out = out
        self.settle_states = settle_states
        self.printed: set[int] = set()
        self.ids: set[int] = set()
        self.states: dict[int, str] = {}
        self.bytes: dict[int, tuple[int, int]] = {}
        self.lock = threading.Lock()
        self.started = time.monotonic()
        self.last_draw = 0.0

    def watch(self, ids: Iterable[int]) -> None:
        with self.lock:
            self.ids.update(ids)
        for job in self.history.jobs(list(ids)):
            self.on_update_state(job.id, job.state)

    def on_update(self, update) -> None:
        with self.lock:
            self.bytes[update.job_id] = (update.bytes_done, update.bytes_total)
        self.on_update_state(update.job_id, update.state)

    def on_update_state(self, job_id: int, state: str) -> None:
        with self.lock:
            self.states[job_id] = state
            settle = job_id in self.ids and state in self.settle_states and job_id not in self.printed
            if settle:
                self.printed.add(job_id)
        if settle:
            job = self.history.get_job(job_id)
            self.out.result(job_record(job), job_line(job))
        self.draw()

    def draw(self, force: bool = False) -> None:
        if not self.out.show_progress:
            return
        now = time.monotonic()
        if not force and now - self.last_draw < 0.1:
            return
        self.last_draw = now
        with self.lock:
            total = len(self.ids)
            settled = len(self.printed)
            counts: dict[str, int] = {}
            for job_id in self.ids:
                state = self.states.get(job_id, "queued")
                counts[state] = counts.get(state, 0) + 1
            hashed_bytes = sum(d for d, _ in self.bytes.values())
        rate = hashed_bytes / max(1e-6, now - self.started)
        detail = "  ".join(f"{n} {s}" for s, n in sorted(counts.items()) if s not in self.settle_states)
        note = self.note(counts) if self.note else ""  # first after the count: the line is cut to the terminal
        parts = [f"{progress_bar(settled, total, 10 if note else 24)} {settled}/{total} done", note,
                 f"{human_size(int(rate))}/s", detail]
        self.out.progress("  ".join(part for part in parts if part))


def _run_batch(args: argparse.Namespace, out: Output, kind: str, *, wait: bool = True,
               report: bool = False, session: Any = None, note: Callable[[dict[str, int]], str] | None = None
               ) -> tuple[int, list[int], Any]:
    session = session or _session(args, out)
    history, engine = session.history, session.engine
    settle = {"done", "failed", "cancelled", "confirmed"} | ({"pending"} if not wait else set())
    watcher = BatchWatcher(history, out, settle, note)
    engine.subscribe(watcher.on_update)
    ids: list[int] = []
    try:
        if getattr(args, "hash", None):
            ids.append(engine.add_hash(kind, args.hash, report=report))
        if args.paths:
            ids.extend(engine.add_files(kind, args.paths, report=report,
                                        send_file_details=(getattr(args, "send_file_details", False)
                                                           or session.effective.send_file_details),
                                        restamp=getattr(args, "again", False)))
        watcher.watch(ids)
        timeout = getattr(args, "timeout", None)
        if not engine.wait_idle(timeout, include_pending=wait):
            out.end_progress()
            print(f"integritas: gave up waiting after {timeout:.0f} s; stamps stay pending and "
                  "`integritas resume --wait` follows them again.", file=sys.stderr)
        watcher.draw(force=True)
    except KeyboardInterrupt:
        out.end_progress()
        engine.shutdown(wait=False)
        print("integritas: interrupted. Run the same command again to resume; nothing is stamped twice.",
              file=sys.stderr)
        raise SystemExit(INTERRUPTED) from None
    out.end_progress()
    engine.shutdown()
    jobs = history.jobs(ids)
    _print_unprinted(watcher, jobs, settle | {"pending"})
    code = worst(job_exit_code(j) for j in jobs if j.state in settle)
    if any(j.state not in settle for j in jobs):
        code = worst([code, EXIT_SERVICE])
    session.shutdown(keep_history=True)  # the service is done with; the caller reads the history
    return code, ids, history


def _print_unprinted(watcher: BatchWatcher, jobs, states: set[str]) -> None:
    """Lines for jobs that settled without an update reaching the watcher, and for stamps still
    pending when the wait ended."""
    for job in jobs:
        if job.id not in watcher.printed and job.state in states:
            watcher.printed.add(job.id)
            full = watcher.history.get_job(job.id)
            watcher.out.result(job_record(full), job_line(full))


def cmd_stamp(args: argparse.Namespace, out: Output) -> int:
    if args.node:
        from integritas_gui.cli_node import run_stamp

        return run_stamp(args, out)
    return _run_batch(args, out, "stamp", wait=args.wait)[0]


def cmd_check(args: argparse.Namespace, out: Output) -> int:
    if not args.paths and not args.hash:
        raise CliError("Give files to check, or --hash HEX.", EXIT_BAD_INPUT)
    if args.node:
        from integritas_gui.cli_node import run_verify

        return run_verify(args, out, "check")
    return _run_batch(args, out, "check")[0]


def cmd_verify(args: argparse.Namespace, out: Output) -> int:
    if not args.paths and not args.hash:
        raise CliError("Give files to verify, or --hash HEX.", EXIT_BAD_INPUT)
    if args.node:
        from integritas_gui.cli_node import run_verify

        return run_verify(args, out, "verify")
    code, ids, history = _run_batch(args, out, "verify", report=bool(args.report))
    if args.report:
        target = Path(args.report)
        reports = [j.report_path for j in history.jobs(ids) if j.report_path]
        several = len(ids) > 1 or target.is_dir() or args.report.endswith(("/", os.sep))
        for saved in reports:
            dest = target / Path(saved).name if several else target
            try:
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(saved, dest)
            except OSError as exc:
                if dest.is_file():
                    dest.unlink(missing_ok=True)  # no half-written report left behind
                print(f"integritas: the report could not be saved to {dest} "
                      f"({exc.strerror or type(exc).__name__}); a copy is kept at {saved}.",
                      file=sys.stderr)
                code = worst([code, EXIT_BAD_INPUT])
                continue
            print(f"Report saved to {dest}", file=sys.stderr)
        for job in history.jobs(ids):
            if not job.report_path and job.state in ("done", "failed"):
                name = job.path or job.sha3_256
                print(f"integritas: no report for {name}: {job.error or 'the service sent none.'}",
                      file=sys.stderr)
        if len(reports) < len(ids):
            code = worst([code, EXIT_SERVICE])
    return code


def cmd_resume(args: argparse.Namespace, out: Output) -> int:
    stamp_client = None
    if args.node:
        from integritas_gui.cli_node import node_submitter

        stamp_client = lambda history, settings: node_submitter(args, history, settings)  # noqa: E731
    session = _session(args, out, stamp_client=stamp_client)
    history, engine = session.history, session.engine
    settle = {"done", "failed", "cancelled", "confirmed"} | ({"pending"} if not args.wait else set())
    watcher = BatchWatcher(history, out, settle)
    engine.subscribe(watcher.on_update)
    ids = engine.resume_unfinished()
    watcher.watch(ids)
    engine.wait_idle(args.timeout, include_pending=args.wait)
    engine.shutdown()
    out.end_progress()
    if not ids:
        print("Nothing to resume.", file=sys.stderr)
    jobs = history.jobs(ids)
    _print_unprinted(watcher, jobs, settle | {"pending"})
    code = worst(job_exit_code(j) for j in jobs if j.state in settle)
    session.shutdown()
    return worst([code, EXIT_SERVICE]) if any(j.state not in settle for j in jobs) else code


def cmd_history(args: argparse.Namespace, out: Output) -> int:
    history, _ = _history(args)
    jobs = history.search(args.search, kind=args.kind, limit=args.limit)
    for job in jobs:
        status = job.outcome or job.state
        block = f"block {job.block_number}" if job.block_number else ""
        text = (f"{job.id:>6}  {local_time(job.created_at)}  {job.kind:<6}  {status:<13}  "
                f"{block:<14}  {(job.sha3_256 or '')[:12]:<12}  {job.path or ''}")
        out.result(job_record(job), text)
    if not jobs and not out.as_json:
        print("No history yet." if not args.search else "Nothing matches.", file=sys.stderr)
    return EXIT_OK


def cmd_import(args: argparse.Namespace, out: Output) -> int:
    from integritas_gui.core.history_export import import_files

    history, _ = _history(args)
    codes = []
    for result in import_files(history, args.paths):
        record = {"path": result.path, "what": result.what, "imported": result.imported,
                  "skipped": result.skipped, "failed_at_service": result.failed_at_service,
                  "error": result.error}
        out.result(record, result.message)
        codes.append(EXIT_BAD_INPUT if result.error else EXIT_OK)
    return worst(codes)


def cmd_receipt(args: argparse.Namespace, out: Output) -> int:
    from integritas_gui.core.job_receipts import receipt_for_job
    from integritas_gui.core.receipt_verify import verify_file_against_receipt
    from integritas_gui.core.receipts import read_receipt, sidecar_path, write_receipt

    path = os.path.abspath(args.path)
    if args.verify is not None:
        receipt_file = args.verify or str(sidecar_path(path))
        if not os.path.exists(receipt_file):
            raise CliError(f"No receipt at {receipt_file}: give its path with --verify RECEIPT.", EXIT_BAD_INPUT)
        receipt = read_receipt(receipt_file)
        check = verify_file_against_receipt(path, receipt)
        record = {"path": path, "receipt": receipt_file, "status": check.status, "message": check.message,
                  "changed": [[o, n] for _, o, n in check.changed_segments]}
        text = f"{path}: {check.status}: {check.message}"
        if check.changed_segments:
            text += "\n    changed bytes: " + ", ".join(f"{o}-{o + n - 1}" for _, o, n in check.changed_segments)
        out.result(record, text)
        return EXIT_OK if check.is_match else EXIT_NOT_FOUND
    history, _ = _history(args)
    job = history.latest_for_path(path, "stamp", states=("pending", "confirmed"))
    if job is None:
        raise CliError(f"{path} has not been stamped with this history; run `integritas stamp` first.",
                       EXIT_NOT_FOUND)
    receipt = receipt_for_job(history, job.id)
    target = Path(args.out) if args.out else sidecar_path(path)
    write_receipt(receipt, target)
    history.update(job.id, receipt_path=str(target))
    out.result({"path": path, "receipt": str(target), "confirmed": receipt.is_confirmed},
               f"{path}: receipt written to {target}" + ("" if receipt.is_confirmed else " (not confirmed yet)"))
    return EXIT_OK


def cmd_node(args: argparse.Namespace, out: Output) -> int:
    from integritas_gui.cli_node import run_status

    return run_status(args, out)


# ---- parser ------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="one JSON object per line")
    common.add_argument("--base-url", metavar="URL", help="service address, or `sandbox` (default: "
                        "INTEGRITAS_SERVICE, then `integritas config get service`)")
    common.add_argument("--api-key", help="API key (default: INTEGRITAS_API_KEY, then the keyring)")
    common.add_argument("--data-dir", help="keep history and settings here (default: INTEGRITAS_DATA_DIR, "
                                           "then the user data folder)")
    common.add_argument("--workers", type=int, default=None, help="files hashed in parallel")
    common.add_argument("--retries", type=int, default=None,
                        help="retries of a request the service could not answer (default 5)")
    service = argparse.ArgumentParser(add_help=False)
    service.add_argument("--request-timeout", metavar="SECONDS",
                         help="give up on an answer after SECONDS (default: `integritas config get "
                              "request-timeout`; verifications wait 4x as long)")
    service.add_argument("--proxy", metavar="URL", help="proxy for this run, or `none` (default: "
                         "INTEGRITAS_PROXY, then `integritas config get proxy`)")
    service.add_argument("--sandbox", action="store_true",
                         help="trial mode: the local sandbox, whatever the settings")

    parser = argparse.ArgumentParser(
        prog="integritas",
        description="Timestamp files on the Minima blockchain through Integritas, and verify them.",
    )
    parser.add_argument("--version", action="version", version=f"integritas {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("hash", parents=[common], help="hash files locally (nothing is sent)")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--segments", action="store_true", help="list every segment hash")
    p.set_defaults(func=cmd_hash)

    p = sub.add_parser("stamp", parents=[common, service], help="stamp files' hashes on chain")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--wait", action="store_true", help="follow each stamp until it is confirmed")
    p.add_argument("--again", action="store_true", help="stamp files this history already stamped")
    p.add_argument("--timeout", type=float, default=None, help="stop waiting after SECONDS")
    _node_options(p)
    p.add_argument("--confirmations", metavar="BLOCKS",
                   help="blocks deep a stamp sent from your node must be (default: "
                        "`integritas config get node-confirmations`)")
    p.set_defaults(func=cmd_stamp)

    p = sub.add_parser("check", parents=[common, service], help="is a file's hash on chain?")
    p.add_argument("paths", nargs="*", metavar="PATH")
    p.add_argument("--hash", help="check this SHA3-256 hash instead of a file")
    _node_options(p)
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("verify", parents=[common, service], help="verify files against the chain")
    p.add_argument("paths", nargs="*", metavar="PATH")
    p.add_argument("--hash", help="verify this SHA3-256 hash instead of a file")
    p.add_argument("--report", metavar="OUT.pdf", help="ask for the service's PDF report and save it here")
    p.add_argument("--send-file-details", action="store_true",
                   help="send the file name and size with the verification (printed in the report)")
    _node_options(p)
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("resume", parents=[common, service], help="continue what an interrupted run left")
    p.add_argument("--wait", action="store_true", help="follow pending stamps until confirmed")
    p.add_argument("--timeout", type=float, default=None)
    _node_options(p)
    p.set_defaults(func=cmd_resume)

    p = sub.add_parser("history", parents=[common], help="list what was done, newest first")
    p.add_argument("--search", help="name, path or hash prefix")
    p.add_argument("--kind", choices=["stamp", "check", "verify"])
    p.add_argument("--limit", type=int, default=50)
    p.set_defaults(func=cmd_history)

    p = sub.add_parser("import", parents=[common],
                       help="import receipts, v1 proof files, Edge Studio export ZIPs or history exports")
    p.add_argument("paths", nargs="+", metavar="FILE")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("receipt", parents=[common], help="write a file's receipt, or verify a file against one")
    p.add_argument("path", metavar="PATH")
    p.add_argument("--out", help="where to write the receipt (default: next to the file)")
    p.add_argument("--verify", nargs="?", const="", metavar="RECEIPT",
                   help="verify PATH against a receipt (default: the one next to it)")
    p.set_defaults(func=cmd_receipt)

    from integritas_gui.config_command import add_config_parser

    add_config_parser(sub, common)
    p = sub.add_parser("node", parents=[common], help="your own Minima node: can the app reach it?")
    p.add_argument("action", choices=["status"])
    p.add_argument("--node", metavar="URL",
                   help="the node's RPC address (default: `integritas config get node-url`)")
    p.set_defaults(func=cmd_node)
    from integritas_gui.reverify_command import add_reverify_parser

    add_reverify_parser(sub, common)
    from integritas_gui.cli_watch import add_watch_parser

    add_watch_parser(sub, common)
    return parser


def _node_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--node", metavar="URL", help="use your own Minima node's RPC (e.g. http://127.0.0.1:9005; "
                   "password: INTEGRITAS_NODE_PASSWORD or the keyring), no API key needed")


def main(argv: list[str] | None = None) -> int:
    from integritas_gui.core.errors import IntegritasError

    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_BAD_INPUT
    out = Output(args.json)
    try:
        return args.func(args, out)
    except CliError as exc:
        out.end_progress()
        print(f"integritas: {exc.message}", file=sys.stderr)
        return exc.code
    except IntegritasError as exc:
        out.end_progress()
        print(f"integritas: {exc.message}", file=sys.stderr)
        return EXIT_SERVICE if getattr(exc, "kind", "") in {"store"} or type(exc).__name__ == "ServiceError" else EXIT_BAD_INPUT
    except KeyboardInterrupt:
        out.end_progress()
        print("integritas: interrupted.", file=sys.stderr)
        return INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
