"""Many files: `integritas hash FOLDER` on 4,000 files of 256 KiB against `integritas hash` on one
file of the same total size, interleaved in the same run. Target: >= 1.6 x the single-file
throughput (one file is one SHA3 stream; many files can use both cores for SHA3).
"""

from __future__ import annotations

import os
import sys

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(__file__))
import common as c

TITLE = "many files"
FIGURES = ("many files throughput",)
FILE_SIZE = 256 << 10


def make_files(folder, count: int) -> None:
    block = os.urandom(FILE_SIZE + 4096)
    for n in range(count):
        sub = folder / f"d{n // 500:02d}"
        sub.mkdir(exist_ok=True)
        cut = (n * 97) % 4096
        (sub / f"f{n:05d}.bin").write_bytes(block[cut:cut + FILE_SIZE])


def work_ceiling(paths: list) -> tuple[float, dict[str, float]]:
    """The most any scheduling of the many-files work can gain on 2 cores over one big file, from
    the bare CPU cost of that work on this machine (one thread, files in page cache, no per-file
    overhead): one file is bound by its SHA3 stream, many files must fit SHA3, both BLAKE3 passes
    and the reads onto 2 cores. Returns (ceiling ratio, CPU seconds per part)."""
    import hashlib
    import time

    import blake3

    from integritas_gui.core.hashing import segment_size_for

    def cpu(work) -> float:
        start = time.process_time()
        work()
        return time.process_time() - start

    buffer = memoryview(bytearray(FILE_SIZE))

    def read_all() -> None:  # the cheapest read: one reused buffer, as the app reads
        for path in paths:
            with open(path, "rb", buffering=0) as file:
                file.readinto(buffer)

    costs = {"read": cpu(read_all)}
    contents = [path.read_bytes() for path in paths]
    costs["sha3"] = cpu(lambda: [hashlib.sha3_256(data).digest() for data in contents])
    costs["blake3"] = cpu(lambda: [blake3.blake3(data).digest() for data in contents])
    step = segment_size_for(FILE_SIZE)
    costs["segments"] = cpu(lambda: [blake3.blake3(memoryview(data)[i:i + step]).digest()
                                     for data in contents for i in range(0, len(data), step)])
    return 2 * costs["sha3"] / sum(costs.values()), costs


def run(quick: bool) -> list[c.Row]:
    count = 100 if quick else 4000
    repeats = 1 if quick else 3
    total = count * FILE_SIZE
    with c.scratch_dir("many") as folder:
        many = folder / "many"
        many.mkdir()
        make_files(many, count)
        single = c.write_file(folder / "single.bin", total)
        for path in sorted(many.rglob("*.bin")):
            c.warm(path)
        c.warm(single)
        env = c.cli_env(folder / "data")
        subjects = {
            "single": lambda: c.run_measured([*c.integritas_cmd(), "hash", str(single)], env=env),
            "many": lambda: c.run_measured([*c.integritas_cmd(), "hash", str(many)], env=env),
        }
        results = c.interleaved(subjects, repeats)
        ceiling, costs = work_ceiling(sorted(many.rglob("*.bin")))
    for name, runs in results.items():
        if any(r.returncode for r in runs):
            raise RuntimeError(f"{name} failed (exit {[r.returncode for r in runs]})")
    single_rate = total / c.median([r.wall for r in results["single"]])
    many_rate = total / c.median([r.wall for r in results["many"]])
    ratio = many_rate / single_rate
    cpu_many = c.median([r.cpu for r in results["many"]])
    cpu_single = c.median([r.cpu for r in results["single"]])
    return [
        c.Row(FIGURES[0], f"{c.fmt_rate(many_rate)} ({count} x 256 KiB)",
              f"{c.fmt_rate(single_rate)} (1 file, {total >> 20} MiB)", f"{ratio:.2f}x", ">= 1.60x",
              c.verdict(ratio >= 1.6)),
        c.Row("many files CPU time (info)", f"{cpu_many:.2f} s", f"{cpu_single:.2f} s (1 file)",
              f"{cpu_many / cpu_single:.2f}x"),
        c.Row("many files ceiling on 2 cores (info)",
              f"{ceiling:.2f}x at most: 2 x SHA3 / (SHA3 + BLAKE3 + segment BLAKE3 + reads)",
              "bare CPU s: " + ", ".join(f"{name} {seconds:.2f}" for name, seconds in costs.items()),
              f"{ceiling:.2f}x", ">= 1.60x", "INFO"),
    ]


if __name__ == "__main__":
    sys.exit(c.main(TITLE, run))
