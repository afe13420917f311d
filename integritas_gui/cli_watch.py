"""`integritas watch`: stamp what appears or changes in folders, in the foreground until interrupted.

    integritas watch DIR... [--recursive] [--include GLOB] [--exclude GLOB] [--hidden] [--no-restamp]
    integritas watch                       every stored folder
    integritas watch --list | --pause DIR | --resume DIR | --remove DIR

Folders given are stored (with the options given, replacing earlier ones) and watched; a running
`integritas watch` (or the app) follows --pause, --resume and --remove within a few seconds.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from typing import Any

from integritas_gui import cli
from integritas_gui.core.watch import (DEFAULT_RESCAN, DEFAULT_SETTLE, FolderWatcher, WatchFolder,
                                       add_folder, list_folders, remove_folder, set_paused)

PRINTED_STATES = ("pending", "confirmed", "failed", "cancelled")


def add_watch_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("watch", parents=[common], help="stamp new and changed files in folders until interrupted",
                       description="Stamp new and changed files in folders, in the foreground until "
                                   "interrupted (Ctrl-C). Without DIR, every stored folder is watched.")
    p.add_argument("paths", nargs="*", metavar="DIR")
    p.add_argument("-r", "--recursive", action="store_true", help="include sub-folders")
    p.add_argument("--include", action="append", default=[], metavar="GLOB",
                   help="only files matching GLOB (name or path under DIR; repeatable)")
    p.add_argument("--exclude", action="append", default=[], metavar="GLOB",
                   help="skip files and folders matching GLOB (repeatable)")
    p.add_argument("--hidden", action="store_true", help="watch hidden files and folders too")
    p.add_argument("--no-restamp", action="store_true",
                   help="stamp each file once; do not stamp it again when it changes")
    p.add_argument("--settle", type=float, default=DEFAULT_SETTLE, metavar="SECONDS",
                   help=f"stamp a file once its size and time held still this long (default {DEFAULT_SETTLE:g})")
    p.add_argument("--rescan", type=float, default=DEFAULT_RESCAN, metavar="SECONDS",
                   help=f"look through every folder this often, as a safety net (default {DEFAULT_RESCAN:g})")
    p.add_argument("--poll-only", action="store_true",
                   help="no change notifications (e.g. network shares): rescan every --rescan seconds")
    actions = p.add_mutually_exclusive_group()
    actions.add_argument("--list", action="store_true", help="list the watched folders and exit")
    actions.add_argument("--pause", metavar="DIR", help="stop stamping in DIR until --resume")
    actions.add_argument("--resume", metavar="DIR", help="resume DIR (changes made meanwhile are stamped)")
    actions.add_argument("--remove", metavar="DIR", help="stop watching DIR (its history stays)")
    p.set_defaults(func=cmd_watch)


def folder_record(folder: WatchFolder, known: int | None = None) -> dict[str, Any]:
    record = {"event": "folder", "path": folder.path, "state": folder.state, "message": folder.message,
              "recursive": folder.recursive, "include": list(folder.include), "exclude": list(folder.exclude),
              "hidden": folder.hidden, "restamp_changed": folder.restamp_changed, "paused": folder.paused}
    if known is not None:
        record["files_known"] = known
    return record


def folder_line(folder: WatchFolder, known: int | None = None) -> str:
    options = ["recursive" if folder.recursive else "top level only"]
    options += [f"include {g}" for g in folder.include] + [f"exclude {g}" for g in folder.exclude]
    if folder.hidden:
        options.append("hidden files too")
    if not folder.restamp_changed:
        options.append("changed files not stamped again")
    line = f"{folder.path}: {folder.state} ({', '.join(options)})"
    if known is not None:
        line += f", {known} files known"
    return line + (f"\n    {folder.message}" if folder.message else "")


def cmd_watch(args: argparse.Namespace, out: cli.Output) -> int:
    history, _dirs = cli._history(args)
    if args.list:
        folders = list_folders(history)
        if not folders:
            print("No watched folders. `integritas watch DIR` adds one.", file=sys.stderr)
        for folder in folders:
            known = len(history.watched_files(folder.id))
            out.result(folder_record(folder, known), folder_line(folder, known))
        return cli.EXIT_OK
    for path, change in ((args.pause, "pause"), (args.resume, "resume"), (args.remove, "remove")):
        if path:
            if change == "remove":
                folder = remove_folder(history, path)
            else:
                folder = set_paused(history, path, change == "pause")
            record = folder_record(folder)
            if change == "remove":
                record["state"] = "removed"
            out.result(record, f"{folder.path}: {'no longer watched' if change == 'remove' else record['state']}")
            return cli.EXIT_OK
    history.close()
    session = cli._session(args, out)  # no key: say so before storing anything
    history = session.history
    try:
        if args.paths:
            for path in args.paths:
                add_folder(history, path, recursive=args.recursive, include=args.include,
                           exclude=args.exclude, hidden=args.hidden, restamp_changed=not args.no_restamp)
        elif not list_folders(history):
            raise cli.CliError("Give the folders to watch: integritas watch DIR...", cli.EXIT_BAD_INPUT)
    except BaseException:
        session.shutdown()
        raise
    try:  # the engine, client and sandbox stop first; the history stays open for the last lines
        return _watch(args, out, history, session.engine, lambda: session.shutdown(keep_history=True))
    finally:
        history.close()


def _watch(args: argparse.Namespace, out: cli.Output, history, engine, close) -> int:
    printed: set[tuple[int, str]] = set()
    lock = threading.Lock()

    def on_update(update) -> None:
        if update.kind != "stamp" or update.state not in PRINTED_STATES:
            return
        with lock:
            if (update.job_id, update.state) in printed:
                return
            printed.add((update.job_id, update.state))
        job = history.get_job(update.job_id)
        if job is None:
            return
        record = {"event": "stamp", **cli.job_record(job)}
        if job.outcome == "already stamped":
            out.result(record, f"{job.path}: {job.error}")
        else:
            out.result(record, cli.job_line(job))

    def on_folder(folder: WatchFolder) -> None:
        out.result(folder_record(folder), folder_line(folder))

    def on_scan(folder: WatchFolder, files: int, changed: int, seconds: float) -> None:
        record = {"event": "scan", "path": folder.path, "files": files, "changed": changed,
                  "seconds": round(seconds, 3)}
        out.result(record, f"{folder.path}: looked at {files} files in {seconds:.1f} s, "
                           f"{changed} new or changed")

    engine.subscribe(on_update)
    only = [p for p in args.paths] or None
    watcher = FolderWatcher(history, engine, settle=args.settle, rescan=args.rescan,
                            fallback_rescan=args.rescan, notifications=not args.poll_only, only=only,
                            on_folder=on_folder, on_scan=on_scan)
    engine.resume_unfinished()
    watcher.start()
    # SIGINT too: a shell that starts a command in the background without job control hands it
    # SIGINT ignored, and Python then never turns Ctrl-C into KeyboardInterrupt.
    previous = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGTERM, signal.SIGINT)}
    print("integritas: watching; Ctrl-C stops.", file=sys.stderr, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        watcher.stop()
        close()
    print("integritas: stopped watching. Stamps still pending are followed by the next "
          "`integritas watch` or `integritas resume --wait`.", file=sys.stderr)
    return cli.EXIT_OK


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt
