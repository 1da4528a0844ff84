"""Train the bootstrap default model with ultralytics' own trainer on synthetic parts.

This is the stop-gap model for the demo until the Lightning pipeline (``inspect-app train``) trains the
default release. It writes ``models/<name>/<version>/`` with its manifest and points
``models/default.json`` at it. Reproduce with::

    .venv/bin/python -m training.bootstrap_default --epochs 30 --n 2000

Everything it writes besides the release (datasets, runs, caches) stays under ``var/``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from inspect_app.offline import configure_offline

REPO = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--spec",
        type=Path,
        default=REPO / "datasets" / "synth-pcb.toml",
        help="generator spec of the training data (write_dataset's arguments)",
    )
    p.add_argument("--n", type=int, default=None, help="override the spec's image count")
    p.add_argument("--test-n", type=int, default=310, help="fresh test images (different seed)")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--imgsz", type=int, default=320)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument(
        "--nbs",
        type=int,
        default=None,
        help="nominal batch size (default: --batch: one optimizer step per batch; ultralytics' "
        "64 leaves a 1,200-image set with 19 steps per epoch)",
    )
    p.add_argument("--scale", type=float, default=0.25, help="scale augmentation (defects are small)")
    p.add_argument("--close-mosaic", type=int, default=10)
    p.add_argument("--seed", type=int, default=0, help="training seed")
    p.add_argument("--test-seed", type=int, default=999)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--name", default="synth-pcb")
    p.add_argument("--version", default="0.1.0")
    p.add_argument("--state-dir", type=Path, default=REPO / "var")
    p.add_argument(
        "--from-weights",
        type=Path,
        default=None,
        help="skip training: evaluate and release these weights (e.g. an interrupted run's best.pt)",
    )
    args = p.parse_args(argv)

    configure_offline(args.state_dir)
    import tomllib

    from inspect_app.synth.dataset import write_dataset

    spec = tomllib.loads(args.spec.read_text())
    if args.n:
        spec["n"] = args.n
    spec["splits"] = tuple(spec.get("splits", (0.8, 0.1, 0.1)))
    data_root = args.state_dir / "datasets"
    train = write_dataset(
        data_root / f"{args.spec.stem}-s{spec['seed']}-n{spec['n']}", overwrite=True, **spec
    )
    # the same generator settings (style, size, zoom, defect rate), another seed: boards never trained on
    test_spec = {**spec, "seed": args.test_seed, "n": args.test_n, "splits": (0.02, 0.02, 0.96)}
    test = write_dataset(data_root / f"{args.spec.stem}-s{args.test_seed}-test", overwrite=True, **test_spec)
    print(train.line())
    print(test.line())

    import torch
    from ultralytics import YOLO

    def _threads(_trainer: object) -> None:
        torch.set_num_threads(args.threads)  # ultralytics drops to 1 thread on small machines

    if args.from_weights:
        best, train_s = args.from_weights.resolve(), None
    else:
        model = YOLO("yolo11n.yaml")
        model.add_callback("on_pretrain_routine_start", _threads)
        model.add_callback("on_train_epoch_start", _threads)
        started = time.time()
        model.train(
            data=str(train.data_yaml),
            imgsz=args.imgsz,
            epochs=args.epochs,
            batch=args.batch,
            workers=1,
            device="cpu",
            seed=args.seed,
            deterministic=True,
            plots=False,
            amp=False,
            project=str(args.state_dir / "runs"),
            name=f"bootstrap-{args.name}-{args.version}",
            exist_ok=True,
            close_mosaic=args.close_mosaic,
            nbs=args.nbs or args.batch,
            scale=args.scale,
            patience=1000,
            verbose=False,
        )
        train_s = round(time.time() - started)
        best = Path(model.trainer.best)
    torch.set_num_threads(args.threads)
    metrics = YOLO(str(best)).val(
        data=str(test.data_yaml),
        split="test",
        imgsz=args.imgsz,
        batch=16,
        plots=False,
        device="cpu",
        verbose=False,
    )
    test_metrics = {
        "map50": round(float(metrics.box.map50), 4),
        "map50_95": round(float(metrics.box.map), 4),
        "precision": round(float(metrics.box.mp), 4),
        "recall": round(float(metrics.box.mr), 4),
        "images": test.images["test"],
        "seed": args.test_seed,
    }
    print(f"test split (seed {args.test_seed}): {test_metrics}")

    from training.release import write_release

    release = write_release(
        best,
        REPO / "models",
        args.name,
        args.version,
        args.imgsz,
        metrics={"test": test_metrics},
        train={
            "trainer": "ultralytics (bootstrap)",
            "model": "yolo11n.yaml",
            "epochs_planned": args.epochs,
            "imgsz": args.imgsz,
            "batch": args.batch,
            "seed": args.seed,
            "images": train.images,
            "generator": {**spec, "spec": args.spec.name},
            "epochs_trained": int(torch.load(best, map_location="cpu", weights_only=False).get("epoch", -2))
            + 1,
            "train_seconds": train_s,
            "weights": best.name,
        },
    )
    (REPO / "models" / "default.json").write_text(
        json.dumps({"release": f"{args.name}/{args.version}"}, indent=2) + "\n"
    )
    print(f"release written: {release}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
