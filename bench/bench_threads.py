"""Thread plan benchmark (issue 13): how the station's inference scales with the cores it is given.

    .venv/bin/python bench/bench_threads.py [--model models/synth-pcb/0.3.1] [--cores 1,2]
        [--precisions f32,int8] [--budget 1.0] [--out bench/results/threads.json]

For each core count N the measuring runs in its own process pinned to the first N CPUs
(``sched_setaffinity``, which OpenVINO reads to size its thread pool), so a big machine measures as a small
one. It needs only numpy, OpenCV and OpenVINO, so it runs on a machine without the station's other
dependencies. Measured, each for ``--budget`` seconds, through the station's own detector
(``inspect_app.detector``, frames 640x640 from the synthetic PCB generator, the release's imgsz):

* ``latency``: one part at a time (``detect``: letterbox, inference, NMS), median ms, with T threads;
* ``inflight2``: the detect stage's overlap (``pipeline.in_flight = 2``): begin part i+1, then finish part
  i; parts/s;
* ``streams``: ``detect_many`` with S OpenVINO streams sharing N threads (throughput mode: replays,
  evaluations), 2 requests per stream (the detector's default) so that every stream computes while Python
  prepares the next part; parts/s.

Beside them: what ``inspect_app.detector.threads.plan(N)`` picks. The CPU line comes first.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from cpuinfo import cpu_line, cpu_summary  # noqa: E402


def frames(n: int) -> list[np.ndarray]:
    from inspect_app.synth.generator import PartGenerator

    gen = PartGenerator("pcb", 640, 640, seed=42, defect_rate=0.5)
    return [gen.generate(i).image for i in range(n)]


def _timed(fn: Any, budget: float, min_n: int = 10) -> list[float]:
    """Call fn() until ``budget`` seconds have passed (at least ``min_n`` times); each call's ms."""
    out: list[float] = []
    start = time.perf_counter()
    while len(out) < min_n or time.perf_counter() - start < budget:
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def _rate(run: Any, budget: float) -> float:
    """Parts/s of ``run(n)`` (n parts), n grown until one run lasts ``budget`` seconds."""
    run(4)  # the requests' first inferences
    n = 8
    while True:
        t = time.perf_counter()
        run(n)
        dt = time.perf_counter() - t
        if dt >= budget or n >= 4096:
            return n / dt
        n = int(n * max(2.0, 1.2 * budget / max(dt, 1e-3)))


def measure(model: Path, cores: int, precisions: list[str], budget: float) -> dict[str, Any]:
    """Everything for one core count, in this (already pinned) process."""
    from inspect_app.detector.openvino_backend import OpenVinoDetector
    from inspect_app.detector.threads import plan
    from inspect_app.model_release import load_release

    rel = load_release(model, verify=[])
    imgs = frames(16)
    res: dict[str, Any] = {
        "cores": cores,
        "affinity": sorted(os.sched_getaffinity(0)),
        "plan": plan(cores).as_dict(),
    }
    conf, iou = 0.4, 0.7
    threads = sorted({cores, *([cores - 1] if cores >= 4 else []), *([4] if cores >= 8 else [])})[::-1]
    streams = sorted({s for s in (2, 4, cores // 2, cores) if 2 <= s <= cores})
    for p in precisions:
        if p not in rel.offered():
            continue
        file = rel.precision(p).file
        for t in threads:
            det = OpenVinoDetector(rel, t, file, precision=p)
            det.warmup()
            it = iter(range(1 << 30))
            lat = _timed(lambda det=det, it=it: det.detect(imgs[next(it) % len(imgs)], conf, iou), budget)
            x = det._prepare(imgs[0])[0]
            mo = _timed(lambda det=det, x=x: det._infer(x), budget / 2)

            def overlap(n: int, det: OpenVinoDetector = det) -> None:
                prev = None
                for i in range(n):
                    cur = det.begin(imgs[i % len(imgs)], conf, iou)
                    if prev is not None:
                        prev.result()
                    prev = cur
                assert prev is not None
                prev.result()

            res[f"{p}_t{t}"] = {
                "latency_ms": statistics.median(lat),
                "latency_p99_ms": float(np.percentile(lat, 99)),
                "model_only_ms": statistics.median(mo),
                "inflight2_per_s": _rate(overlap, budget),
            }
            det.close()
        for s in streams:
            det = OpenVinoDetector(rel, cores, file, precision=p, streams=s)
            det.warmup()
            rate = _rate(lambda n, det=det: sum(1 for _ in det.detect_many(
                (imgs[i % len(imgs)] for i in range(n)), conf, iou)), budget)  # fmt: skip
            res[f"{p}_streams{s}"] = {"per_s": rate, "threads_per_stream": cores / s}
            det.close()
    return res


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, default=REPO / "models" / "synth-pcb" / "0.3.1")
    p.add_argument("--cores", default="1,2")
    p.add_argument("--precisions", default="f32,int8")
    p.add_argument("--budget", type=float, default=1.0)
    p.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "threads.json")
    p.add_argument("--one", type=int, default=0, help=argparse.SUPPRESS)  # the pinned child
    args = p.parse_args()
    if args.one:
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[: args.one])
        print(json.dumps(measure(args.model, args.one, args.precisions.split(","), args.budget)))
        return 0
    print(cpu_line(), flush=True)
    avail = len(os.sched_getaffinity(0))
    out: dict[str, Any] = {"cpu": cpu_summary(), "cpu_line": cpu_line(), "model": str(args.model), "runs": []}
    for n in (int(c) for c in args.cores.split(",")):
        if n > avail:
            print(f"{n} cores: only {avail} available, skipped", flush=True)
            continue
        child = subprocess.run(
            [sys.executable, __file__, "--one", str(n), "--model", str(args.model), "--precisions",
             args.precisions, "--budget", str(args.budget)],
            check=True, capture_output=True, text=True, env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE"},
        )  # fmt: skip
        run = json.loads(child.stdout.strip().splitlines()[-1])
        out["runs"].append(run)
        print(report_one(run), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2))
    return 0


def report_one(run: dict[str, Any]) -> str:
    lines = [f"\n{run['cores']} cores; plan: {run['plan']}",
             "| variant | latency p50 ms | p99 | model-only ms | in-flight 2 parts/s | streams parts/s |",
             "|---|---|---|---|---|---|"]  # fmt: skip
    for k, v in run.items():
        if not isinstance(v, dict) or k == "plan":
            continue
        if "latency_ms" in v:
            lines.append(f"| {k} | {v['latency_ms']:.2f} | {v['latency_p99_ms']:.2f} "
                         f"| {v['model_only_ms']:.2f} | {v['inflight2_per_s']:.1f} | |")  # fmt: skip
        else:
            lines.append(f"| {k} | | | | | {v['per_s']:.1f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
