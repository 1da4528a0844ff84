"""What one call costs right after the idle between parts, against the same call warm (issue 13).

    nice -n -10 .venv/bin/python bench/bench_cold_calls.py [--gap-ms 20] [--calls 60]

A station that waits for its next part sleeps; on this project's machine (a virtual machine on a shared
host) everything the decision then touches first comes back slowly: code, data, the interpreter's own
state. This times a few calls of the kind a decision is made of (a Python no-op, a small numpy ufunc, a
reduction, a 640x640 -> 320x320 ``cv2.resize``, a copy of a 640x640 frame), each one ``--gap-ms`` after
the last one (median of ``--calls``), and then back to back. The ratio between the two is the price of
the idle, which no code change can take away; the fewer such calls a decision makes, the less it pays.

Prints the CPU first; JSON in bench/results/cold_calls.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))

from cpuinfo import cpu_line  # noqa: E402


def timed(fn: Callable[[], object], calls: int, gap_s: float) -> float:
    """Median microseconds of ``fn``, each call ``gap_s`` after the last one (0: back to back)."""
    ts = []
    for _ in range(calls):
        if gap_s:
            time.sleep(gap_s)
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts) * 1e6


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--gap-ms", type=float, default=20.0)
    p.add_argument("--calls", type=int, default=60)
    p.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "cold_calls.json")
    args = p.parse_args()
    print(cpu_line(), flush=True)
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (640, 640, 3), dtype=np.uint8)
    small = np.zeros((320, 320, 3), np.uint8)
    row = np.zeros(2100, np.float32)
    rows = rng.random((4, 2100), dtype=np.float32)
    calls: dict[str, Callable[[], object]] = {
        "python no-op": lambda: None,
        "np.add, 2100 floats": lambda: np.add(row, 1, out=row),
        "max over 4x2100 floats": lambda: rows.max(axis=0),
        "cv2.resize 640x640 -> 320x320": lambda: cv2.resize(frame, (320, 320), dst=small),
        "copy of a 640x640x3 frame": lambda: frame.copy(),
    }
    res: dict[str, dict[str, float]] = {}
    for name, fn in calls.items():
        cold = timed(fn, args.calls, args.gap_ms / 1000)
        warm = timed(fn, args.calls * 5, 0.0)
        res[name] = {"after_idle_us": cold, "warm_us": warm, "ratio": cold / warm}
        line = f"after {args.gap_ms:.0f} ms idle {cold:8.1f} us, warm {warm:7.2f} us: {cold / warm:5.1f}x"
        print(f"{name:32s} {line}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"cpu_line": cpu_line(), "gap_ms": args.gap_ms, "calls": res}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
