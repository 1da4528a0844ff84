"""Train the default model with the Lightning pipeline; release it as ``models/synth-pcb/<version>``.

The training data is rendered from ``datasets/synth-pcb.toml`` (the generator spec: every image is a pure
function of its seed and index), the test set is a fresh one from another seed, never seen in training.
The release's manifest carries the val metrics, the fresh test metrics, the generator spec and the full run
config; ``--promote`` then points ``models/default.json`` at it. ``--int8`` adds an int8 model (NNCF,
calibrated on the training split, kept only within 0.5 point val mAP50 and 1 point mAP50-95 of f32);
``--int8-of 0.2.0`` does that for an existing release without training again, as a new version with the
same f32 files. Reproduce with::

    .venv/bin/python -m training.default_model --version 0.2.0 --promote
    .venv/bin/python -m training.default_model --version 0.3.1 --int8-of 0.2.0 --promote

Everything besides the release (datasets, the run folder, evaluation plots) stays under ``var/``.
"""

from __future__ import annotations

import argparse
import json
import tomllib
from pathlib import Path

from training.cli import passive_openmp, promote_through_gate

REPO = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--spec", type=Path, default=REPO / "datasets" / "synth-pcb.toml")
    p.add_argument("--n", type=int, default=None, help="override the spec's image count")
    p.add_argument("--test-n", type=int, default=310, help="images of the fresh test set")
    p.add_argument("--test-seed", type=int, default=999)
    p.add_argument("--model", default="yolo11n.yaml")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--imgsz", type=int, default=320, help="the demo camera's 640 px frames, shrunk 2x")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--nbs", type=int, default=16, help="one optimizer step per batch (64: 19 steps/epoch)")
    p.add_argument("--scale", type=float, default=0.25, help="scale augmentation (defects are small)")
    p.add_argument("--close-mosaic", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--accelerator", default="cpu")
    p.add_argument("--name", default="synth-pcb")
    p.add_argument("--version", required=True)
    p.add_argument("--openvino", action="store_true", help="also ship OpenVINO IR")
    p.add_argument("--int8", action="store_true", help="also ship an int8 model that passed its gate")
    p.add_argument(
        "--int8-of", metavar="VERSION", default=None,
        help="no training: VERSION's f32 files plus an int8 model, released as --version",
    )  # fmt: skip
    p.add_argument("--promote", action="store_true", help="and make it the default if the gate passes")
    p.add_argument("--models", type=Path, default=REPO / "models")
    p.add_argument("--state-dir", type=Path, default=REPO / "var")
    args = p.parse_args(argv)

    passive_openmp()
    from inspect_app.offline import configure_offline

    configure_offline(args.state_dir)
    from inspect_app.synth.dataset import write_dataset
    from training.export import release_model
    from training.run import TrainConfig, train

    spec = tomllib.loads(args.spec.read_text())
    if args.n:
        spec["n"] = args.n
    spec["splits"] = tuple(spec.get("splits", (0.8, 0.1, 0.1)))
    data_root = args.state_dir / "datasets"
    data = write_dataset(data_root / f"{args.spec.stem}-s{spec['seed']}-n{spec['n']}", overwrite=True, **spec)
    test_spec = {**spec, "seed": args.test_seed, "n": args.test_n, "splits": (0.02, 0.02, 0.96)}
    test = write_dataset(data_root / f"{args.spec.stem}-s{args.test_seed}-test", overwrite=True, **test_spec)
    print(data.line())
    print(test.line())
    if args.int8_of:
        return _int8_of(args, data.data_yaml, test.data_yaml)

    out = args.state_dir / "runs" / "train" / f"{args.name}-{args.version}"
    result = train(
        TrainConfig(
            data=str(data.data_yaml),
            out=str(out),
            model=args.model,
            hyp={
                "epochs": args.epochs,
                "imgsz": args.imgsz,
                "batch": args.batch,
                "nbs": args.nbs,
                "scale": args.scale,
                "close_mosaic": args.close_mosaic,
                "seed": args.seed,
            },
            accelerator=args.accelerator,
            devices=1,
            threads=args.threads,
        )
    )
    release = release_model(
        result.out,
        args.models,
        args.name,
        args.version,
        test_data=test.data_yaml,
        openvino=args.openvino,
        int8=args.int8,
        threads=args.threads,
        out_eval=args.state_dir / "runs" / "evaluate" / f"{args.name}-{args.version}",
        extra={
            "generator": {**spec, "spec": args.spec.name},
            "test_set": {**test_spec, "images": test.images},
        },
    )
    metrics = json.loads((release / "manifest.json").read_text())["metrics"]
    print(f"release written: {release}")
    for split in ("val", "test"):
        m = metrics.get(split, {})
        print(f"  {split}: mAP50 {m.get('mAP50')}  mAP50-95 {m.get('mAP50-95')}")
    if args.promote:
        return promote_through_gate(args.models, f"{args.name}/{args.version}", args.state_dir)
    return 0


def _int8_of(args: argparse.Namespace, data_yaml: Path, test_yaml: Path) -> int:
    from training.data_yaml import load_data_yaml
    from training.quantize_release import derive_int8_release

    release = derive_int8_release(
        args.models / args.name / args.int8_of,
        args.models,
        args.version,
        load_data_yaml(data_yaml),
        load_data_yaml(test_yaml, labelled=("test",)),
        threads=args.threads,
    )
    precisions = json.loads((release / "manifest.json").read_text())["precisions"]
    print(f"release written: {release}")
    for name, entry in precisions.items():
        for split, m in entry.get("metrics", {}).items():
            print(f"  {name} {split}: mAP50 {m['mAP50']}  mAP50-95 {m['mAP50-95']}")
    if args.promote:
        return promote_through_gate(args.models, f"{args.name}/{args.version}", args.state_dir)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
