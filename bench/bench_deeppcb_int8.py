"""What int8 costs on real defects (issue 13): a small DeepPCB model trained on this CPU, released --int8.

    .venv/bin/python bench/bench_deeppcb_int8.py [--epochs 25] [--imgsz 320] [--threads 2]

1. ``inspect-app train`` on ``../shared/datasets/deeppcb/data.yaml`` (read in place): yolo11n.yaml from
   scratch, imgsz 320, batch 16, nbs 16, close_mosaic 8, into var/runs/train/deeppcb-<imgsz>-int8 (skipped
   when that run has finished already);
2. ``inspect-app models release RUN --name deeppcb --version 0.1.0 --int8 --root var/int8/models``: val/test
   metrics of the PyTorch model (``YOLO.val``), the int8 model through its gate, each precision's val and
   test metrics through the station's detector, the int8-vs-f32 release check (skipped when that release
   exists).

Nothing of it is kept in the repository (var/ is ignored; DeepPCB is for research use only). Prints the CPU
and a table and writes bench/results/deeppcb_int8.json (numbers only). Exits 0 with a message when the
dataset is absent.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
DATA = REPO.parent / "shared" / "datasets" / "deeppcb" / "data.yaml"

from cpuinfo import cpu_line  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=DATA)
    p.add_argument("--epochs", type=int, default=25)
    p.add_argument("--imgsz", type=int, default=320)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json", type=Path, default=REPO / "bench" / "results" / "deeppcb_int8.json")
    args = p.parse_args(argv)
    print(cpu_line(), flush=True)
    if not args.data.is_file():
        print(f"DeepPCB not found at {args.data}; nothing to measure")
        return 0
    cli = [sys.executable, "-m", "inspect_app.cli"]
    run = REPO / "var" / "runs" / "train" / f"deeppcb-{args.imgsz}-int8"
    if not (run / "summary.json").is_file():
        subprocess.run(
            [*cli, "train", "--data", str(args.data), "--model", "yolo11n.yaml", "--epochs", str(args.epochs),
             "--close-mosaic", "8", "--imgsz", str(args.imgsz), "--batch", "16", "--nbs", "16", "--threads",
             str(args.threads), "--accelerator", "cpu", "--out", str(run)],
            check=True, cwd=REPO,
        )  # fmt: skip
    root = REPO / "var" / "int8" / "models"
    release = root / "deeppcb" / "0.1.0"
    if not release.is_dir():
        subprocess.run(
            [*cli, "models", "release", str(run), "--name", "deeppcb", "--version", "0.1.0", "--int8",
             "--root", str(root), "--threads", str(args.threads)],
            check=True, cwd=REPO,
        )  # fmt: skip
    summary = json.loads((run / "summary.json").read_text())
    m = json.loads((release / "manifest.json").read_text())
    out = {
        "cpu": cpu_line(),
        "train": {
            "epochs": len(summary["epoch_train_s"]), "imgsz": args.imgsz, "best_epoch": summary["best_epoch"],
            "train_s": round(sum(summary["epoch_train_s"]), 1),
        },
        "pytorch_yolo_val": {s: _pick(m["metrics"][s], "mAP50", "mAP50-95") for s in ("val", "test")},
        "station": {
            prec: {s: _pick(e["metrics"][s], "mAP50", "mAP50-95", "images") for s in ("val", "test")}
            for prec, e in m["precisions"].items()
        },
        "gate": m["precisions"]["int8"]["gate"],
        "check_int8": m["check"]["int8"],
        "quantize_s": m["precisions"]["int8"].get("seconds"),
    }  # fmt: skip
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(out, indent=2) + "\n")
    st = out["station"]
    print("| split | f32 mAP50 | int8 mAP50 | drop | f32 mAP50-95 | int8 mAP50-95 | drop |")
    print("|---|---|---|---|---|---|---|")
    for s in ("val", "test"):
        a, b = st["f32"][s], st["int8"][s]
        print(
            f"| {s} ({a['images']}) | {a['mAP50']:.4f} | {b['mAP50']:.4f} | {a['mAP50'] - b['mAP50']:+.4f} | "
            f"{a['mAP50-95']:.4f} | {b['mAP50-95']:.4f} | {a['mAP50-95'] - b['mAP50-95']:+.4f} |"
        )
    return 0


def _pick(d: dict, *keys: str) -> dict:
    return {k: d[k] for k in keys}


if __name__ == "__main__":
    raise SystemExit(main())
