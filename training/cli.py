"""The training commands of ``inspect-app`` (an ``inspect_app.commands`` entry point):

* ``train``    - train a detector with the Lightning pipeline; every run folder holds its resolved config;
* ``evaluate`` - metrics JSON, PR curve and confusion matrix of a model on a dataset split;
* ``models release`` - export a trained run as a release (``models list/show/promote/rollback`` are the
  station's own, in ``inspect_app.cli_models``, and work without Lightning; ``release`` joins that group).

The station imports this module to build its command line, so nothing heavy is imported here: torch,
Lightning and ultralytics load when a command runs, after ``configure_offline``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from inspect_app.cli_parser import ENVIRONMENT, UserError

OUT_ENV = (
    "INSPECT_APP_TRAIN_OUT"  # DDP child processes re-run the command line; they must reuse rank 0's folder
)

# flag -> ultralytics hyperparameter (the rest via --hyp KEY=VALUE)
_HYP_FLAGS = {
    "epochs": int,
    "imgsz": int,
    "batch": int,
    "nbs": int,
    "seed": int,
    "close_mosaic": int,
    "scale": float,
    "lr0": float,
    "optimizer": str,
    "patience": int,
    "fraction": float,
}


def add_arguments(sub: argparse._SubParsersAction) -> None:
    tr = sub.add_parser("train", help="train a YOLO detector (PyTorch Lightning; see docs/training.md)")
    tr.add_argument("--data", type=Path, help="ultralytics data.yaml (train/val[/test] and names)")
    tr.add_argument(
        "--model", default=None, help="yolo11n.yaml, yolo11s.yaml, yolov8n.yaml, ... or a .pt to fine-tune"
    )
    tr.add_argument("--epochs", type=int, help="default 100")
    tr.add_argument("--imgsz", type=int, help="train/val image size, default 640")
    tr.add_argument("--batch", type=int, help="total batch over all devices, default 16")
    tr.add_argument("--nbs", type=int, help="nominal batch size: gradients accumulate to it (default 64)")
    tr.add_argument("--seed", type=int, help="default 0")
    tr.add_argument("--close-mosaic", type=int, help="epochs at the end without mosaic (default 10)")
    tr.add_argument("--scale", type=float, help="scale augmentation gain (default 0.5)")
    tr.add_argument("--lr0", type=float, help="initial lr (ignored with optimizer auto)")
    tr.add_argument("--optimizer", help="auto (default), SGD, AdamW, MuSGD, ...")
    tr.add_argument("--patience", type=int, help="stop after N epochs without a better val fitness (100)")
    tr.add_argument("--fraction", type=float, help="use this fraction of the train split (default 1.0)")
    tr.add_argument(
        "--hyp",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any other ultralytics hyperparameter, e.g. --hyp mosaic=0.5 --hyp fliplr=0.0",
    )
    tr.add_argument("--accelerator", default=None, help="cpu, gpu, auto (default)")
    tr.add_argument("--devices", default=None, help="auto, N, or a list like 0,1 (Lightning)")
    tr.add_argument("--strategy", default=None, help="auto, ddp, ddp_spawn, ... (Lightning; DDP: docs)")
    tr.add_argument("--num-nodes", type=int, default=None, help="nodes for multi-node DDP")
    tr.add_argument(
        "--precision", default=None, help="32-true, 16-mixed, bf16-mixed (default: 16-mixed on GPU)"
    )
    tr.add_argument("--threads", type=int, default=None, help="torch threads on CPU (default: all cores)")
    tr.add_argument(
        "--channels-last", action=argparse.BooleanOptionalAction, default=None,
        help="train in NHWC memory format (default: on; 20-30 %% faster steps on CPU)",
    )
    tr.add_argument(
        "--workers", type=int, default=None, help="dataloader workers (default: 0 on CPU, 8 on GPU)"
    )
    tr.add_argument("--save-period", type=int, default=None, help="also keep a checkpoint every N epochs")
    tr.add_argument(
        "--out", type=Path, default=None, help="run folder (default <state-dir>/runs/train/<data>-<model>)"
    )
    tr.add_argument(
        "--config", type=Path, default=None, help="start from a run's config.yaml; flags override"
    )
    tr.add_argument(
        "--resume", type=Path, default=None,
        help="continue a run folder (or its .ckpt); with --epochs N, extend it to N epochs",
    )
    tr.add_argument(
        "--print-config", action="store_true",
        help="print the resolved config (every hyperparameter, trainer options) and exit without training",
    )
    tr.add_argument("--state-dir", type=Path, default=Path("var"), help="caches and settings (default var/)")
    tr.set_defaults(func=cmd_train)

    ev = sub.add_parser("evaluate", help="metrics, PR curve and confusion matrix of a model on a split",
                        epilog=ENVIRONMENT)
    ev.add_argument(
        "--model", required=True,
        help="a release as NAME/VERSION (under $INSPECT_APP_MODELS) or its folder, a run folder, or a .pt",
    )
    ev.add_argument("--data", type=Path, required=True, help="data.yaml")
    ev.add_argument("--split", default="test", choices=["train", "val", "test"])
    ev.add_argument(
        "--out", type=Path, default=None, help="default <state-dir>/runs/evaluate/<model>-<split>"
    )
    ev.add_argument("--imgsz", type=int, default=None, help="default: the model's")
    ev.add_argument("--batch", type=int, default=16)
    ev.add_argument("--threads", type=int, default=None)
    ev.add_argument("--state-dir", type=Path, default=Path("var"))
    ev.set_defaults(func=cmd_evaluate)

    msub = _models_group(sub)
    rel = msub.add_parser(
        "release",
        help="export a trained run as models/NAME/VERSION; with --int8 and a release, add its int8 model",
    )
    rel.add_argument(
        "run", type=Path,
        help="a run folder (weights/best.pt) or a .pt written by train; with --int8 also a release folder "
        "(its f32 files and an int8 model become VERSION)",
    )  # fmt: skip
    rel.add_argument("--name", default=None, help="required for a run; a release keeps its name")
    rel.add_argument("--version", required=True)
    rel.add_argument(
        "--int8", action="store_true",
        help="also an int8 model (NNCF, calibrated on the training split), kept only if its val mAP50 is "
        "within 0.5 point of f32 and mAP50-95 within 1 point",
    )  # fmt: skip
    rel.add_argument(
        "--data", type=Path, default=None,
        help="with --int8 and a release: the data.yaml it was trained on (default: the manifest's)",
    )  # fmt: skip
    rel.add_argument("--test-data", type=Path, default=None, help="data.yaml whose test split is reported")
    rel.add_argument("--val-data", type=Path, default=None, help="default: the run's own data")
    rel.add_argument("--openvino", action="store_true", help="also export OpenVINO IR (model.xml/.bin)")
    rel.add_argument(
        "--promote", action="store_true",
        help="and make it the default model if it passes the station's gate (as `models promote`; refused: "
        "the release stays written, exit status 1)",
    )  # fmt: skip
    rel.add_argument(
        "--config", type=Path, default=None,
        help="with --promote: the station's config the gate judges by (default: the config of the station "
        "running on --state-dir, else the demo's)",
    )  # fmt: skip
    rel.add_argument("--threads", type=int, default=None)
    rel.add_argument(
        "--root", type=Path, default=None, help="models folder (default: $INSPECT_APP_MODELS, else models/)",
    )  # fmt: skip
    rel.add_argument(
        "--state-dir", type=Path, default=None,
        help="caches, evaluations and, with --promote, the station's results.db (default: --config's, else "
        "var/)",
    )  # fmt: skip
    rel.set_defaults(func=cmd_models_release)

    from training.retrain import add_retrain_arguments

    add_retrain_arguments(sub)


def _models_group(sub: argparse._SubParsersAction) -> argparse._SubParsersAction:
    """The station's ``models`` group (``inspect_app.cli_models``), to which ``release`` is added."""
    models = sub.choices.get("models")
    if models is None:
        from inspect_app.cli_models import add_models_arguments

        return add_models_arguments(sub)
    group = getattr(models, "_group", None)
    assert group is not None, "the models command has no actions group"
    return group


def passive_openmp() -> None:
    """Idle OpenMP threads sleep instead of spinning. With more torch threads than free cores (a shared
    training box), spinning workers wait for descheduled ones on every op: a 30-step yolo11n run at imgsz 64
    took 200 s with 2 threads next to another training, 3.4 s with this (and 2.1 s with 1 thread). Must be
    set before torch loads; an explicit OMP_WAIT_POLICY wins."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def _prepare(state_dir: Path) -> None:
    """Before torch, ultralytics or Lightning load: offline, passive OpenMP, and no INFO line from
    matplotlib's font cache (ultralytics imports it; "generated new fontManager" means nothing to a user)."""
    passive_openmp()
    from inspect_app.offline import configure_offline

    configure_offline(state_dir)
    logging.getLogger("matplotlib").setLevel(logging.WARNING)


def _fail(command: str, exc: BaseException) -> int:
    print(f"inspect-app {command}: {exc}", file=sys.stderr)
    return 2


def _parse_hyp(items: list[str]) -> dict[str, Any]:
    import yaml

    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--hyp expects KEY=VALUE, got {item!r}")
        out[key.strip()] = yaml.safe_load(value)  # 0.5 -> float, [1, 2] -> list, true -> bool
    return out


def _default_out(data: Path, model: str, state_dir: Path) -> Path:
    if os.environ.get(OUT_ENV):
        return Path(os.environ[OUT_ENV])
    base = state_dir / "runs" / "train" / f"{data.resolve().parent.name}-{Path(model).stem}"
    out, n = base, 2
    while out.exists():
        out, n = base.with_name(f"{base.name}-{n}"), n + 1
    return out


def train_config_from_args(args: argparse.Namespace) -> Any:
    """TrainConfig from --config (if any), then the flags that were given."""
    from training.run import TrainConfig, read_config

    if args.config is not None:
        cfg = read_config(args.config)
        cfg.out = ""
    else:
        if args.data is None:
            raise ValueError("--data is required (or --config / --resume)")
        cfg = TrainConfig(data=str(args.data), out="")
    if args.data is not None:
        cfg.data = str(args.data)
    if args.model is not None:
        cfg.model = args.model
    for flag in _HYP_FLAGS:
        value = getattr(args, flag)
        if value is not None:
            cfg.hyp[flag] = value
    cfg.hyp.update(_parse_hyp(args.hyp))
    for opt in (
        "accelerator",
        "devices",
        "strategy",
        "num_nodes",
        "precision",
        "threads",
        "workers",
        "save_period",
        "channels_last",
    ):
        value = getattr(args, opt)
        if value is not None:
            setattr(cfg, opt, int(value) if opt == "devices" and str(value).isdigit() else value)
    cfg.out = str(args.out or _default_out(Path(cfg.data), cfg.model, args.state_dir))
    return cfg


def cmd_train(args: argparse.Namespace) -> int:
    _prepare(args.state_dir)
    from training.data_yaml import DataError, load_data_yaml

    try:
        from training.run import RESUME_OVERRIDES, check_hyp, load_run_config, resume_plan, train

        resume = None
        if args.resume is not None:
            cfg, resume = load_run_config(args.resume)
            for opt in RESUME_OVERRIDES:
                value = getattr(args, opt, None)
                if value is not None:
                    setattr(cfg, opt, value)
            cfg = resume_plan(cfg, resume, args.epochs, args.patience)
        else:
            cfg = train_config_from_args(args)
        hyp = check_hyp(cfg)  # before anything is read or made: a typo leaves nothing behind
        if args.print_config:
            print_config(cfg, hyp)
            return 0
        spec = load_data_yaml(cfg.data)
        s = spec.summary()
        print(
            f"data {spec.yaml_path}: images {s['images']}, instances {s['instances']}, "
            f"background images {s['backgrounds']}, fingerprint {spec.fingerprint}"
        )
        inherited = os.environ.get(OUT_ENV)
        os.environ[OUT_ENV] = cfg.out  # for the DDP ranks Lightning starts from this command line
        try:
            result = train(cfg, resume=resume, spec=spec)
        finally:
            if inherited is None:
                os.environ.pop(OUT_ENV, None)
    except (DataError, FileNotFoundError, FileExistsError, ValueError) as exc:
        return _fail("train", exc)
    if not result.is_global_zero:
        return 0  # DDP: rank 0 reports
    best = result.summary.get("best") or {}
    if result.summary.get("stopped_early"):
        print(result.summary["stopped_early"])
    print(
        f"run {result.out}: best epoch {result.summary.get('best_epoch')}, "
        f"val mAP50 {best.get('mAP50', 0):.4f}, "
        f"mAP50-95 {best.get('mAP50-95', 0):.4f}; weights {result.best_pt}\n"
        f"release it with: inspect-app models release {result.out} --name NAME --version VERSION"
    )
    return 0


def print_config(cfg: Any, hyp: dict[str, Any]) -> None:
    """The config this run would use, in the layout of its config.yaml; "auto" choices that need the data
    (batch, optimizer) are resolved when training starts and are written to the run's config.yaml."""
    import yaml

    from training.module import _plain
    from training.run import resolve_trainer_options

    trainer = resolve_trainer_options(cfg)
    skip = ("data", "model", "workers")  # workers: a trainer option here, as in config.yaml
    resolved = {
        "data": str(cfg.data),
        "model": cfg.model,
        "out": cfg.out,
        "hyp": {k: _plain(v) for k, v in hyp.items() if k not in skip},
        "trainer": {**trainer, "save_period": cfg.save_period},
    }
    print(yaml.safe_dump(resolved, sort_keys=False), end="")


def release_ref(model: str) -> Path:
    """``--model`` of evaluate: a path as given, else a release NAME/VERSION under the models folder."""
    p = Path(model)
    if p.exists():
        return p
    from inspect_app.demo import models_root

    under_root = models_root() / model
    return under_root if (under_root / "manifest.json").is_file() else p


def cmd_evaluate(args: argparse.Namespace) -> int:
    _prepare(args.state_dir)
    from inspect_app.model_release import ModelError
    from training.data_yaml import DataError
    from training.evaluate import evaluate

    try:
        result = evaluate(
            release_ref(args.model),
            args.data,
            args.split,
            args.out,
            args.imgsz,
            args.batch,
            args.threads,
            root=args.state_dir / "runs" / "evaluate",
        )
    except (DataError, ModelError, FileNotFoundError) as exc:
        return _fail("evaluate", exc)
    m = result["metrics"]
    print(json.dumps({k: result[k] for k in ("model", "split", "images")} | {"metrics": m}, indent=2))
    print(f"metrics, PR curve and confusion matrix in {Path(result['plots']['pr_curve']).parent}")
    return 0


def _root(args: argparse.Namespace, must_exist: bool = True) -> Path:
    if args.root is not None:
        if must_exist and not args.root.is_dir():  # a typo must not list "no releases" and succeed
            raise UserError(f"--root {args.root}: no such folder")
        return args.root
    from inspect_app.demo import models_root

    return models_root()


def promote_through_gate(
    root: Path, model_id: str, state_dir: Path | None, config: Path | None = None, who: str | None = None
) -> int:
    """``--promote`` of a release just written: the station's gate and audit, as ``inspect-app models
    promote`` runs them (``config``, by default the running station's or the demo's, and its results.db: test
    metrics against the live model's, and whatever the station's history can judge). Refused, the release
    stays written, the default stays as it was, and the exit status is 1; ``models promote --force
    --reason`` overrides."""
    from inspect_app.cli_models import promote
    from inspect_app.config import ConfigError
    from inspect_app.releases import ReleaseRegistry

    try:
        return promote(
            ReleaseRegistry(root), model_id, state_dir=state_dir, config=config,
            who=who or os.environ.get("USER", "training"), reason="released with --promote",
        )  # fmt: skip
    except (UserError, ConfigError) as exc:  # e.g. the station's recipes name a class the release lacks
        print(f"{model_id} written, NOT promoted: {exc}", file=sys.stderr)
        return 2


def release_state_dirs(args: argparse.Namespace) -> tuple[Path, Path | None]:
    """``models release``: (where its caches and evaluations go, the state dir ``--promote``'s gate reads:
    None for the config's, else var/). A ``--config`` that ``--promote`` will judge by is read now, the way
    ``models promote`` reads it, so a bad one stops the command before the release is built, not after."""
    config_state = None
    if args.promote and args.config:
        from inspect_app.cli_models import station_config
        from inspect_app.config import ConfigError

        try:
            config_state = station_config(args.config, None)[1]
        except ConfigError as exc:
            raise UserError(str(exc)) from None
    return args.state_dir or config_state or Path("var"), args.state_dir


def cmd_models_release(args: argparse.Namespace) -> int:
    args.state_dir, station_state_dir = release_state_dirs(args)
    _prepare(args.state_dir)
    from inspect_app.model_release import ModelError
    from training.data_yaml import DataError
    from training.export import release_model
    from training.release_check import ReleaseCheckError

    root = _root(args, must_exist=False)  # a release may start a new models folder
    is_release = (args.run / "manifest.json").is_file()
    try:
        if is_release and args.int8:
            d = _derive_int8(args, root)
        elif args.name is None:
            raise ValueError("--name is required to release a run")
        else:
            d = release_model(
                args.run,
                root,
                args.name,
                args.version,
                test_data=args.test_data,
                val_data=args.val_data,
                openvino=args.openvino,
                threads=args.threads,
                out_eval=args.state_dir / "runs" / "evaluate" / f"{args.name}-{args.version}",
                int8=args.int8,
            )
    except (DataError, ModelError, ReleaseCheckError, FileNotFoundError, FileExistsError, ValueError) as exc:
        return _fail("models release", exc)
    manifest = json.loads((d / "manifest.json").read_text())
    print(
        f"release written: {d}\nmetrics: "
        + json.dumps(
            {k: {m: v.get(m) for m in ("mAP50", "mAP50-95")} for k, v in manifest["metrics"].items()}
        )
    )
    for precision, entry in (manifest.get("precisions") or {}).items():
        gate = entry.get("gate", {})
        shown = {s: {m: v.get(m) for m in ("mAP50", "mAP50-95")} for s, v in entry.get("metrics", {}).items()}
        verdict = "" if not gate else (" gate passed" if gate.get("passed") else " gate FAILED, not shipped")
        print(f"{precision}:{verdict} {json.dumps(shown)}" + (f" drop {gate.get('drop')}" if gate else ""))
    if args.promote:
        return promote_through_gate(
            root, f"{manifest['name']}/{manifest['version']}", station_state_dir, config=args.config
        )
    return 0


def _derive_int8(args: argparse.Namespace, root: Path) -> Path:
    """``models release RELEASE --int8 --version V``: the release's f32 files plus an int8 model, as V."""
    from inspect_app.model_release import load_release
    from training.data_yaml import DataError, load_data_yaml
    from training.quantize_release import derive_int8_release

    parent = load_release(args.run, verify=[])
    if args.name not in (None, parent.name):
        raise ValueError(f"a release keeps its name ({parent.name}); --name {args.name} does not apply")
    data = args.data or Path(str(parent.train.get("data") or ""))
    if not data.is_file():
        raise DataError(f"--data: give the data.yaml {parent.model_id} was trained on ({data} is not here)")
    test_yaml = args.test_data or Path(str((parent.metrics.get("test") or {}).get("data") or ""))
    test = load_data_yaml(test_yaml, labelled=("test",)) if test_yaml.is_file() else None
    return derive_int8_release(
        args.run, root, args.version, load_data_yaml(data), test, threads=args.threads or 2
    )
