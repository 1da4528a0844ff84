"""What it costs to hand an item to a thread asleep on a queue (issue 13): a triggered part crosses two
such hand-offs (trigger -> acquire thread -> detect thread) before its verdict.

    .venv/bin/python bench/bench_handoff.py [--items 300] [--gap-ms 20] [--rounds 3]

Per kind of queue: an item stamped with ``perf_counter`` is put every ``--gap-ms`` (the reader has gone
to sleep by then, as the station's threads between parts) and the reader notes how long it took to get
it. Kinds in turns over ``--rounds``: ``queue.Queue`` (what the station used), ``queue.SimpleQueue``, and
``inspect_app.handoff.Handoff`` bounded (what it uses now), each read with a timeout as the station's
loops do. Prints the CPU first and the medians in microseconds; JSON in bench/results/handoff.json.
"""

from __future__ import annotations

import argparse
import json
import queue
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from cpuinfo import cpu_line  # noqa: E402

from inspect_app.handoff import Handoff  # noqa: E402

KINDS: dict[str, Any] = {
    "queue.Queue(4)": lambda: queue.Queue(maxsize=4),
    "queue.SimpleQueue": queue.SimpleQueue,
    "Handoff(4)": lambda: Handoff(4),
}


def hand_offs(make: Any, items: int, gap_s: float) -> list[float]:
    q = make()
    waits: list[float] = []

    def reader() -> None:
        while True:
            try:
                sent = q.get(timeout=0.1)
            except queue.Empty:
                continue
            if sent is None:
                return
            waits.append(time.perf_counter() - sent)

    t = threading.Thread(target=reader)
    t.start()
    for _ in range(items):
        time.sleep(gap_s)
        q.put(time.perf_counter())
    q.put(None)
    t.join()
    return waits


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--items", type=int, default=300)
    p.add_argument("--gap-ms", type=float, default=20.0)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "handoff.json")
    args = p.parse_args()
    print(cpu_line(), flush=True)
    waits: dict[str, list[float]] = {k: [] for k in KINDS}
    names = list(KINDS)
    for r in range(args.rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            waits[name] += hand_offs(KINDS[name], args.items // args.rounds, args.gap_ms / 1000)
    us = {k: statistics.median(v) * 1e6 for k, v in waits.items()}
    for k, v in us.items():
        print(f"{k}: median {v:.1f} us ({len(waits[k])} hand-offs)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    result = {"cpu_line": cpu_line(), "median_us": us, "gap_ms": args.gap_ms}
    args.out.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
