"""One yolo11n training step (loss forward + backward) in NCHW vs channels-last (NHWC) on this CPU.

    .venv/bin/python bench/bench_memory_format.py [--imgsz 640] [--batch 16] [--threads 2] [--steps 3]

Alternates the two formats twice (the machine drifts); prints seconds per step. Used to choose
``TrainConfig.channels_last`` (docs/performance.md, "Training on DeepPCB").
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def step(model: Any, batch: dict[str, Any], fmt: Any) -> None:
    loss, _ = model.loss({**batch, "img": batch["img"].contiguous(memory_format=fmt)})
    loss.sum().backward()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--imgsz", type=int, default=640)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=3)
    args = p.parse_args()
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from inspect_app.offline import configure_offline

    configure_offline(REPO / "var")
    import torch

    from training.module import YoloDetector

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    n, names = args.batch, {i: f"c{i}" for i in range(6)}
    batch = {"img": torch.rand(n, 3, args.imgsz, args.imgsz), "batch_idx": torch.arange(n).float(),
             "cls": torch.zeros(n, 1), "bboxes": torch.tensor([[0.5, 0.5, 0.2, 0.2]]).repeat(n, 1)}
    for channels_last in (False, True, False, True):
        model = YoloDetector("yolo11n.yaml", names, {"imgsz": args.imgsz, "batch": n}).model.train()
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        model.to(memory_format=fmt)

        step(model, batch, fmt)  # warm-up
        t0 = time.perf_counter()
        for _ in range(args.steps):
            step(model, batch, fmt)
        label = "channels-last (NHWC)" if channels_last else "NCHW"
        print(f"{label:22s} {(time.perf_counter() - t0) / args.steps:.3f} s/step")


if __name__ == "__main__":
    main()
