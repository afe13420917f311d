"""Single file: `integritas hash` wall time on one 2 GiB file (page cache) against
`openssl dgst -sha3-256` and a bare `hashlib.sha3_256` read loop, interleaved in the same run.

`integritas hash` does the full work (SHA3-256 + BLAKE3 + BLAKE3 segments); the references do
SHA3-256 only. Targets: <= 0.95 x openssl, <= 1.10 x hashlib.
"""

from __future__ import annotations

import shutil
import sys

if __package__ in (None, ""):
    sys.path.insert(0, __import__("os").path.dirname(__file__))
import common as c

TITLE = "single file"
FIGURES = ("single file vs openssl", "single file vs hashlib")
FULL_SIZE = 2 << 30
QUICK_SIZE = 32 << 20

HASHLIB_LOOP = """
import hashlib, sys
h = hashlib.sha3_256(); buf = bytearray(1 << 20); view = memoryview(buf)
with open(sys.argv[1], 'rb', buffering=0) as f:
    while n := f.readinto(buf):
        h.update(view[:n])
print(h.hexdigest())
"""


def run(quick: bool) -> list[c.Row]:
    size = QUICK_SIZE if quick else FULL_SIZE
    repeats = 2 if quick else 3
    if not shutil.which("openssl"):
        return [c.not_measured(FIGURES[0], "openssl not installed", "<= 0.95x"),
                c.not_measured(FIGURES[1], "openssl not installed", "<= 1.10x")]
    with c.scratch_dir("single") as folder:
        path = c.write_file(folder / "one.bin", size)
        c.warm(path)
        subjects = {
            "openssl": lambda: c.run_measured(["openssl", "dgst", "-sha3-256", str(path)]),
            "hashlib": lambda: c.run_measured([sys.executable, "-c", HASHLIB_LOOP, str(path)]),
            "integritas": lambda: c.run_measured([*c.integritas_cmd(), "hash", str(path)],
                                                 env=c.cli_env(folder / "data")),
        }
        results = c.interleaved(subjects, repeats)
    for name, runs in results.items():
        if any(r.returncode for r in runs):
            raise RuntimeError(f"{name} failed (exit {[r.returncode for r in runs]})")
    wall = {n: c.median([r.wall for r in runs]) for n, runs in results.items()}
    cpu = {n: c.median([r.cpu for r in runs]) for n, runs in results.items()}
    ours = wall["integritas"]
    rows = []
    for figure, ref, limit in ((FIGURES[0], "openssl", 0.95), (FIGURES[1], "hashlib", 1.10)):
        ratio = ours / wall[ref]
        rows.append(c.Row(figure, f"{c.fmt_s(ours)} ({c.fmt_rate(size / ours)})",
                          f"{c.fmt_s(wall[ref])} ({c.fmt_rate(size / wall[ref])})",
                          f"{ratio:.3f}x", f"<= {limit:.2f}x", c.verdict(ratio <= limit)))
    rows.append(c.Row("single file CPU time (info)", f"integritas {cpu['integritas']:.2f} s",
                      f"openssl {cpu['openssl']:.2f} s, hashlib {cpu['hashlib']:.2f} s",
                      f"{cpu['integritas'] / cpu['hashlib']:.2f}x hashlib"))
    spread = ", ".join(f"{n} {min(r.wall for r in runs):.2f}-{max(r.wall for r in runs):.2f} s"
                       for n, runs in results.items())
    rows.append(c.Row("single file spread (info)", spread, f"{repeats} runs each, {size >> 20} MiB"))
    return rows


if __name__ == "__main__":
    sys.exit(c.main(TITLE, run))
