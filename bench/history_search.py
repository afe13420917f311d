"""History of 100,000 entries: `History.search` / `History.count` (core/history.py, what the CLI and
the GUI history view call) answer in under 100 ms. Each query runs several times, interleaved; the
figure is the slowest query's median. The reference is a raw SQLite full-table LIKE scan of the
same database (the floor for a substring search no index can serve).
"""

from __future__ import annotations

import os
import random
import sqlite3
import sys
import time

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(__file__))
import common as c

TITLE = "history search"
FIGURES = ("history search 100,000 entries",)
WORDS = ("invoice", "contract", "photo", "scan", "report", "thesis", "deed", "minutes", "backup", "logo")
OUTCOMES = {"check": ("found", "not found"), "verify": ("full match", "partial match", "no match")}


def fill(history, count: int, rng: random.Random) -> None:
    kinds = ("stamp",) * 6 + ("check",) * 2 + ("verify",) * 2
    batch = 10_000
    for start in range(0, count, batch):
        entries = []
        for n in range(start, min(count, start + batch)):
            name = f"{rng.choice(WORDS)}_{n:06d}.pdf"
            entries.append({"path": f"/home/user/Documents/{rng.choice(WORDS)}/{name}", "name": name,
                            "size": rng.randrange(1, 1 << 30), "sha3_256": rng.randbytes(32).hex(),
                            "state": "confirmed"})
        kind = kinds[(start // batch) % len(kinds)]
        ids = history.add_jobs(kind, entries)
        if kind != "stamp":
            history.db.executemany("UPDATE jobs SET state = 'done', outcome = ? WHERE id = ?",
                                   [(rng.choice(OUTCOMES[kind]), i) for i in ids])
        else:
            history.db.executemany("UPDATE jobs SET outcome = 'confirmed', block_number = ? WHERE id = ?",
                                   [(100_000 + i, i) for i in ids])
    history.db.commit() if history.db.in_transaction else None


def run(quick: bool) -> list[c.Row]:
    from integritas_gui.core.history import History

    count = 3_000 if quick else 100_000
    repeats = 3 if quick else 7
    rng = random.Random(7)
    with c.scratch_dir("history") as folder:
        path = folder / "history.sqlite3"
        history = History(path)
        try:
            started = time.perf_counter()
            fill(history, count, rng)
            filled = time.perf_counter() - started
            some_hash = history.search(limit=1, offset=count // 2)[0].sha3_256
            queries = {
                "name word": lambda: history.search("contract"),
                "exact name": lambda: history.search(f"_{count // 3:06d}.pdf"),
                "no match": lambda: history.search("no-such-file"),
                "hash prefix": lambda: history.search(some_hash[:10]),
                "kind+outcome": lambda: history.search(kind="verify", outcome="full match"),
                "count word": lambda: history.count("invoice"),
                "count all": lambda: history.count(),
                "newest page": lambda: history.search(limit=200),
            }
            raw = sqlite3.connect(path)
            queries["raw LIKE scan"] = lambda: raw.execute(
                "SELECT count(*) FROM jobs WHERE name LIKE '%no-such-file%' OR path LIKE '%no-such-file%'"
            ).fetchall()
            times: dict[str, list[float]] = {name: [] for name in queries}
            for round_ in range(repeats):
                names = list(queries)
                shift = round_ % len(names)
                for name in names[shift:] + names[:shift]:
                    t = time.perf_counter()
                    queries[name]()
                    times[name].append(time.perf_counter() - t)
            raw.close()
        finally:
            history.close()
    reference = c.median(times.pop("raw LIKE scan"))
    medians = {name: c.median(values) for name, values in times.items()}
    slowest = max(medians, key=medians.get)
    worst = medians[slowest]
    return [
        c.Row(FIGURES[0], f"{c.fmt_s(worst)} (slowest: {slowest}, {count:,} entries)",
              f"{c.fmt_s(reference)} (raw SQLite LIKE scan)", f"{worst / reference:.2f}x", "< 100 ms",
              c.verdict(worst < 0.1)),
        c.Row("history queries (info)", ", ".join(f"{n} {v * 1000:.1f}" for n, v in medians.items()) + " ms",
              f"filled in {filled:.1f} s"),
    ]


if __name__ == "__main__":
    sys.exit(c.main(TITLE, run))
