"""Where an OpenVINO model's inference time goes, by layer kind (OpenVINO's own per-layer counters).

    .venv/bin/python bench/profile_layers.py models/synth-pcb/0.3.0/model-int8.xml [--threads 2] [--runs 50]

Compiles the model as the station does for one part at a time (CPU, f32 inference precision, latency hint,
``--threads``), runs a fixed random input ``--runs`` times after a warm-up, and prints the median time per
inference and each (layer type, kernel and precision) row's mean time per inference with its count: e.g.
``Subgraph jit_avx512_f32`` rows that are not fused into an int8 convolution. Prints the CPU first.
"""

from __future__ import annotations

import argparse
import collections
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cpuinfo import cpu_line


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model", type=Path)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--runs", type=int, default=50)
    p.add_argument("--rows", type=int, default=12)
    args = p.parse_args()
    import openvino as ov

    print(cpu_line(), flush=True)
    core = ov.Core()
    model = core.read_model(str(args.model))
    config = {"INFERENCE_PRECISION_HINT": "f32", "INFERENCE_NUM_THREADS": args.threads,
              "PERFORMANCE_HINT": "LATENCY", "PERF_COUNT": True}  # fmt: skip
    request = core.compile_model(model, "CPU", config).create_infer_request()
    shape = [d.get_length() for d in model.inputs[0].get_partial_shape()]
    x = np.random.default_rng(0).random(shape, dtype=np.float32)
    for _ in range(10):
        request.infer({0: x})
    times: list[float] = []
    per_kind: collections.Counter[tuple[str, str]] = collections.Counter()
    count: collections.Counter[tuple[str, str]] = collections.Counter()
    for _ in range(args.runs):
        t = time.perf_counter()
        request.infer({0: x})
        times.append(time.perf_counter() - t)
        for layer in request.profiling_info:
            key = (layer.node_type, layer.exec_type)
            per_kind[key] += layer.real_time.total_seconds() * 1000 / args.runs
            count[key] += 1
    print(f"{args.model}: median {statistics.median(times) * 1000:.2f} ms per inference (counters on)")
    print("| layer type | kernel | ms per inference | layers |\n|---|---|---|---|")
    for (node, kernel), ms in per_kind.most_common(args.rows):
        print(f"| {node} | {kernel} | {ms:.3f} | {count[(node, kernel)] // args.runs} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
