"""DeepPCB benchmark (issue 5): our Lightning pipeline vs ultralytics' own trainer, in one run.

    .venv/bin/python bench/bench_deeppcb.py [--epochs 10] [--imgsz 640] [--batch 16] [--threads 2]
    .venv/bin/python bench/bench_deeppcb.py --epochs 1 --fraction 0.05   # smoke test, a few minutes

Both trainers get the same model yaml, imgsz, epochs, batch, nbs, seed, workers and thread count, on the
data read in place from ``../shared/datasets/deeppcb/data.yaml`` (no label cache is written there). Per
trainer: seconds per epoch (training batches only, and with validation), training images/s, val mAP50 and
mAP50-95 (best epoch and last epoch), and test-split mAP50/mAP50-95 of each best checkpoint, evaluated the
same way (ultralytics' validator). Prints a markdown table and writes bench/results/deeppcb.json.
Exits 0 with a message when the dataset is absent.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
DEFAULT_DATA = REPO.parent / "shared" / "datasets" / "deeppcb" / "data.yaml"


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--model", default="yolo11n.yaml")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--imgsz", type=int, default=640)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--nbs", type=int, default=64, help="ultralytics' default nominal batch size")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--workers", type=int, default=0, help="ultralytics uses 0 on CPU whatever you pass")
    p.add_argument("--close-mosaic", type=int, default=None, help="default: ultralytics' 10")
    p.add_argument(
        "--no-deterministic",
        dest="deterministic",
        action="store_false",
        help="let cuDNN pick its fastest (non-deterministic) kernels: accuracy pushes on a GPU",
    )
    p.add_argument("--accelerator", default="cpu", choices=["cpu", "gpu"])
    p.add_argument(
        "--fraction", type=float, default=1.0, help="use this fraction of every split (train, val, test)"
    )
    p.add_argument("--only", choices=["ours", "ultralytics"], default=None, help="run one trainer only")
    p.add_argument(
        "--first",
        choices=["ours", "ultralytics"],
        default="ultralytics",
        help="which trainer runs first (the second finds the page cache warm)",
    )
    p.add_argument("--out", type=Path, default=REPO / "var" / "bench" / "deeppcb")
    p.add_argument("--json", type=Path, default=REPO / "bench" / "results" / "deeppcb.json")
    return p.parse_args(argv)


def hyp(args: argparse.Namespace) -> dict[str, Any]:
    h: dict[str, Any] = {
        "epochs": args.epochs,
        "imgsz": args.imgsz,
        "batch": args.batch,
        "nbs": args.nbs,
        "seed": args.seed,
        "deterministic": args.deterministic,
    }
    if args.fraction < 1.0:
        h["fraction"] = [args.fraction] * 3  # per split: ultralytics applies a scalar to train only
    if args.close_mosaic is not None:
        h["close_mosaic"] = args.close_mosaic
    return h


def run_ours(args: argparse.Namespace, spec: Any, out: Path) -> dict[str, Any]:
    from training.run import TrainConfig, train

    cfg = TrainConfig(
        data=str(spec.yaml_path),
        out=str(out),
        model=args.model,
        hyp=hyp(args),
        accelerator=args.accelerator,
        devices=1,
        threads=args.threads,
        workers=args.workers,
    )
    started = time.perf_counter()
    result = train(cfg, spec=spec)
    s = result.summary
    rows = _csv_rows(out / "csv" / "metrics.csv", "val/mAP50", "val/mAP50-95")
    return {
        "wall_s": time.perf_counter() - started,
        "epoch_train_s": s["epoch_train_s"],
        "epoch_total_s": s["epoch_total_s"],
        "train_images": s["train_images"],
        "val_best": {k: s["best"].get(k) for k in ("mAP50", "mAP50-95")},
        "val_best_epoch": s["best_epoch"],
        "val_last": rows[-1] if rows else {},
        "best_pt": str(result.best_pt),
    }


def _patch_for_lean_machines(gpu: bool) -> None:
    """Two ultralytics calls the lent GPU machine's image cannot make: its AMP self-check loads yolo26n.pt
    from the hub (answered True, what it answers on a healthy GPU; our pipeline trains 16-mixed on GPUs
    too), and save_model() reads its results CSV with polars, which that image lacks (read with csv)."""
    import ultralytics.engine.trainer as ul_trainer

    if gpu:
        ul_trainer.check_amp = lambda model: True
    try:
        import polars  # noqa: F401
    except ImportError:

        def read_results_csv(trainer: Any) -> dict[str, list[str]]:
            with open(trainer.csv) as f:
                rows = [{k.strip(): v for k, v in r.items()} for r in csv.DictReader(f)]
            return {k: [r[k] for r in rows] for k in (rows[0] if rows else {})}

        ul_trainer.BaseTrainer.read_results_csv = read_results_csv


def run_ultralytics(args: argparse.Namespace, data_yaml: Path, out: Path) -> dict[str, Any]:
    import torch
    from ultralytics import YOLO

    timing: dict[str, Any] = {"train": [], "total": [], "t0": 0.0, "epochs_seen": set()}

    def epoch_start(trainer: Any) -> None:
        torch.set_num_threads(args.threads)  # ultralytics drops to 1 thread on small machines
        timing["t0"] = time.perf_counter()

    def epoch_end(trainer: Any) -> None:  # before validation
        timing["train"].append(time.perf_counter() - timing["t0"])

    def fit_epoch_end(trainer: Any) -> None:  # after validation; final_eval calls it once more: skip that
        if trainer.epoch not in timing["epochs_seen"] and len(timing["total"]) < len(timing["train"]):
            timing["epochs_seen"].add(trainer.epoch)
            timing["total"].append(time.perf_counter() - timing["t0"])

    _patch_for_lean_machines(gpu=args.accelerator == "gpu")
    model = YOLO(args.model)
    model.add_callback("on_pretrain_routine_start", lambda t: torch.set_num_threads(args.threads))
    model.add_callback("on_train_epoch_start", epoch_start)
    model.add_callback("on_train_epoch_end", epoch_end)
    model.add_callback("on_fit_epoch_end", fit_epoch_end)
    h = hyp(args)
    started = time.perf_counter()
    model.train(
        data=str(data_yaml),
        **h,
        workers=args.workers,
        device="cpu" if args.accelerator == "cpu" else 0,
        plots=False,
        project=str(out.parent.resolve()),  # a relative one lands under ultralytics' runs/detect/
        name=out.name,
        exist_ok=True,
        verbose=False,
    )
    wall = time.perf_counter() - started
    trainer = model.trainer
    rows = _csv_rows(Path(trainer.save_dir) / "results.csv", "metrics/mAP50(B)", "metrics/mAP50-95(B)")
    best = max(rows, key=lambda r: r["mAP50-95"]) if rows else {}
    return {
        "wall_s": wall,
        "epoch_train_s": timing["train"],
        "epoch_total_s": timing["total"],
        "train_images": len(trainer.train_loader.dataset),
        "val_best": {k: best.get(k) for k in ("mAP50", "mAP50-95")},
        "val_best_epoch": best.get("epoch"),
        "val_last": rows[-1] if rows else {},
        "best_pt": str(trainer.best),
    }


def _csv_rows(path: Path, map50: str, map5095: str) -> list[dict[str, Any]]:
    """Per-epoch val mAPs from our metrics.csv or ultralytics' results.csv (keys stripped of spaces)."""
    if not path.is_file():
        return []
    out: dict[int, dict[str, Any]] = {}
    with open(path) as f:
        for row in csv.DictReader(f):
            row = {k.strip(): v.strip() for k, v in row.items() if k}
            if row.get(map50):
                epoch = int(float(row["epoch"]))
                epoch = epoch + 1 if "step" in row else epoch  # ours counts from 0, ultralytics from 1
                out[epoch] = {"epoch": epoch, "mAP50": float(row[map50]), "mAP50-95": float(row[map5095])}
    return [out[k] for k in sorted(out)]


def summarize(r: dict[str, Any]) -> dict[str, Any]:
    train = r["epoch_train_s"]
    mean_train = sum(train) / len(train) if train else float("nan")
    total = r["epoch_total_s"]
    r["mean_epoch_train_s"] = mean_train
    r["mean_epoch_total_s"] = sum(total) / len(total) if total else float("nan")
    r["images_per_s"] = r["train_images"] / mean_train if train else float("nan")
    return r


def table(results: dict[str, dict[str, Any]]) -> str:
    def f(v: Any, d: int = 3) -> str:
        return "-" if v is None else f"{v:.{d}f}"

    lines = [
        "| trainer | s/epoch (train) | s/epoch (with val) | images/s | val mAP50 (best) "
        "| val mAP50-95 (best) "
        "| val mAP50 (last) | test mAP50 | test mAP50-95 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in sorted(results.items()):
        t = r.get("test", {})
        lines.append(
            f"| {name} | {f(r['mean_epoch_train_s'], 1)} | {f(r['mean_epoch_total_s'], 1)} | "
            f"{f(r['images_per_s'], 2)} | {f(r['val_best']['mAP50'])} | {f(r['val_best']['mAP50-95'])} | "
            f"{f(r['val_last'].get('mAP50'))} | {f(t.get('mAP50'))} | {f(t.get('mAP50-95'))} |"
        )
    if {"ours", "ultralytics"} <= results.keys():
        ratio = results["ours"]["images_per_s"] / results["ultralytics"]["images_per_s"]
        lines.append(f"\nthroughput ours / ultralytics: {ratio:.3f}x")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if not args.data.is_file():
        print(
            f"bench_deeppcb: skipped, {args.data} not found (the DeepPCB data lives in ../shared/datasets/)"
        )
        return 0
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see training.cli.passive_openmp; before torch
    from inspect_app.offline import configure_offline

    configure_offline(REPO / "var")
    import torch

    from training.data_yaml import load_data_yaml
    from training.datamodule import label_cache_not_written
    from training.evaluate import evaluate

    torch.set_num_threads(args.threads)
    spec = load_data_yaml(args.data)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    resolved = args.out / f"data-{stamp}.yaml"  # absolute paths: the same files for both trainers
    import yaml

    data = spec.ultralytics_dict()
    data.pop("yaml_file")
    resolved.write_text(yaml.safe_dump(data, sort_keys=False))
    print(
        f"data {spec.yaml_path} ({spec.fingerprint}): {spec.summary()['images']} images; "
        f"fraction {args.fraction}, {args.epochs} epochs, imgsz {args.imgsz}, batch {args.batch}, "
        f"nbs {args.nbs}, {args.threads} threads, {args.accelerator}"
    )

    results: dict[str, dict[str, Any]] = {}
    fraction = [args.fraction] * 3 if args.fraction < 1.0 else None
    with label_cache_not_written(spec.root):
        order = ("ours", "ultralytics") if args.first == "ours" else ("ultralytics", "ours")
        for name in order:
            if args.only and name != args.only:
                continue
            out = args.out / f"{name}-{stamp}"
            r = run_ours(args, spec, out) if name == "ours" else run_ultralytics(args, resolved, out)
            torch.set_num_threads(args.threads)
            if "test" in spec.sources and Path(r["best_pt"]).is_file():
                ev = evaluate(
                    r["best_pt"],
                    spec.yaml_path,
                    "test",
                    out / "test",
                    args.imgsz,
                    threads=args.threads,
                    plots=False,
                    fraction=fraction,
                    spec=spec,
                )
                r["test"] = ev["metrics"]
            results[name] = summarize(r)

    report = table(results)
    print("\n" + report)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            {
                "command": " ".join(sys.argv),
                "date": stamp,
                "machine": {
                    "cpus": os.cpu_count(),
                    "platform": platform.platform(),
                    "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
                },
                "settings": {
                    **hyp(args),
                    "threads": args.threads,
                    "workers": args.workers,
                    "model": args.model,
                    "accelerator": args.accelerator,
                    "data": str(spec.yaml_path),
                    "data_fingerprint": spec.fingerprint,
                },
                "results": results,
                "table": report,
            },
            indent=2,
            default=str,
        )
        + "\n"
    )
    print(f"\nwritten: {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
