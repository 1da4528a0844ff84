"""One training run: check the data, build the Lightning pieces, fit, and leave a self-describing run folder.

Run folder (``out``)::

    config.yaml            the fully resolved config: data, model, every ultralytics hyperparameter after the
                           "auto" choices, Lightning's trainer options, data fingerprint, library versions
    checkpoints/best.ckpt  Lightning checkpoints (model, optimizer, EMA, loops): ``--resume`` continues them
    checkpoints/last.ckpt
    weights/best.pt        the EMA in ultralytics' format: YOLO(...).predict/val/export, and releases
    weights/last.pt
    csv/metrics.csv        per-epoch losses, lr, val mAP50, mAP50-95, precision, recall, per-class AP
    tensorboard/           the same for TensorBoard
    summary.json           best epoch and its metrics, time per epoch, images/s
"""

from __future__ import annotations

import csv
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from training._offline import require_offline

require_offline(__name__)

import pytorch_lightning as pl  # noqa: E402
import torch  # noqa: E402
import yaml  # noqa: E402
from pytorch_lightning.callbacks import ModelCheckpoint  # noqa: E402
from pytorch_lightning.loggers import CSVLogger, TensorBoardLogger  # noqa: E402
from ultralytics import __version__ as ULTRALYTICS_VERSION  # noqa: E402
from ultralytics.utils.torch_utils import EarlyStopping, init_seeds  # noqa: E402

from training.checkpoints import MONITOR, UltralyticsWeights  # noqa: E402
from training.console import EpochBar, quiet_libraries  # noqa: E402
from training.data_yaml import DataSpec, load_data_yaml  # noqa: E402
from training.datamodule import CloseMosaic, YoloDataModule  # noqa: E402
from training.module import YoloDetector, resolve_hyp  # noqa: E402

CONFIG = "config.yaml"
# may differ when a run is resumed (other machine, other device count); everything else comes from config.yaml
RESUME_OVERRIDES = ("accelerator", "devices", "strategy", "num_nodes", "workers", "threads")


@dataclass
class TrainConfig:
    data: str
    out: str
    model: str = "yolo11n.yaml"
    hyp: dict[str, Any] = field(default_factory=dict)  # ultralytics keys: epochs, imgsz, batch, nbs, lr0, ...
    accelerator: str = "auto"
    devices: str | int = "auto"
    strategy: str = "auto"
    num_nodes: int = 1
    precision: str | None = None  # None: "16-mixed" on GPUs (ultralytics' amp=True), "32-true" on CPU
    workers: int | None = None  # None: 0 on CPU (as ultralytics), 8 otherwise
    threads: int | None = None  # torch threads on CPU; None: all cores
    save_period: int = -1  # also keep checkpoints/epoch<N>.ckpt every N epochs
    # convolutions in NHWC: 20-30 % faster training steps on this CPU (oneDNN); exported files are NCHW
    channels_last: bool = True
    # a wall-clock limit ("DD:HH:MM:SS", Lightning's Trainer max_time); None: train every epoch. retrain uses
    # it for its --budget; the run ends after the batch that crosses it, with its checkpoints and best.pt
    max_time: str | None = None

    def hyp_overrides(self) -> dict[str, Any]:
        return {**self.hyp, "data": str(self.data), "model": str(self.model)}


@dataclass
class RunResult:
    out: Path
    best_pt: Path
    last_pt: Path
    summary: dict[str, Any]
    is_global_zero: bool = True


class EpochTimer(pl.Callback):
    """Seconds per epoch, training batches only and with validation, for summaries and the benchmark."""

    def __init__(self) -> None:
        self.train_s: list[float] = []
        self.total_s: list[float] = []
        self._t0 = 0.0
        self._train_done = False

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._t0 = time.perf_counter()
        self._train_done = False

    def _end_train(self) -> None:
        if not self._train_done:
            self.train_s.append(time.perf_counter() - self._t0)
            self._train_done = True

    def on_validation_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.state.fn == "fit" and not trainer.sanity_checking:
            self._end_train()

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._end_train()
        self.total_s.append(time.perf_counter() - self._t0)


class Patience(pl.Callback):
    """ultralytics' own EarlyStopping on val fitness (mAP50-95): unlike Lightning's, epochs at zero fitness
    early in a run do not count against the patience. When it stops the run it says so (``stopped``)."""

    def __init__(self, patience: int) -> None:
        self.stopper = EarlyStopping(patience=patience)
        self.stopped: str | None = None

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or trainer.state.fn != "fit":
            return
        fitness = pl_module.val_metrics.get("fitness")  # type: ignore[attr-defined]
        epoch = trainer.current_epoch + 1
        if self.stopper(epoch, fitness):
            trainer.should_stop = True  # every rank computed the same fitness from the gathered stats
            self.stopped = (
                f"stopped early after epoch {epoch} of {trainer.max_epochs}: val mAP50-95 has not improved "
                f"for {self.stopper.patience} epochs since epoch {self.stopper.best_epoch} (--patience)"
            )
            if trainer.is_global_zero:
                print(f"\n{self.stopped}", flush=True)

    def state_dict(self) -> dict[str, Any]:
        return {"best_fitness": self.stopper.best_fitness, "best_epoch": self.stopper.best_epoch}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.stopper.__dict__.update(state_dict)


class LastCheckpoint(ModelCheckpoint):
    """checkpoints/last.ckpt after every epoch, for --resume (``save_last`` of the best-checkpoint callback
    only refreshes it when a new best is saved)."""

    def __init__(self, dirpath: Path) -> None:
        super().__init__(dirpath=dirpath, filename="last", save_top_k=1, enable_version_counter=False)

    @property
    def state_key(self) -> str:
        return self._generate_state_key(role="last")  # unique next to the epoch<N> checkpoints


class SaveConfig(pl.Callback):
    """config.yaml once the "auto" choices are made (they need the dataset size: configure_optimizers)."""

    def __init__(self, path: Path, config: dict[str, Any]) -> None:
        self.path, self.config = path, config

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.config["hyp"] = {**self.config["hyp"], **pl_module.resolved_hyp()}  # type: ignore[attr-defined]
        if trainer.is_global_zero:
            self.path.write_text(yaml.safe_dump(self.config, sort_keys=False), encoding="utf-8")


def _launcher_rank() -> int:
    """Rank of this process as the launcher sees it: Lightning's DDP children and torchrun set these."""
    for var in ("RANK", "SLURM_PROCID", "LOCAL_RANK"):
        if os.environ.get(var):
            return int(os.environ[var])
    return 0


def _on_gpu(accelerator: str) -> bool:
    return accelerator in ("gpu", "cuda") or (accelerator == "auto" and torch.cuda.is_available())


def _strategy(name: str) -> Any:
    """Plain "ddp" as ultralytics wraps its model: BatchNorm buffers are not broadcast from rank 0 at every
    forward (each rank keeps its statistics; validation broadcasts the EMA's). Other names go to Lightning."""
    if name == "ddp":
        from pytorch_lightning.strategies import DDPStrategy

        return DDPStrategy(broadcast_buffers=False)
    return name


def resolve_trainer_options(cfg: TrainConfig) -> dict[str, Any]:
    gpu = _on_gpu(cfg.accelerator)
    return {
        "accelerator": cfg.accelerator,
        "devices": cfg.devices,
        "strategy": cfg.strategy,
        "num_nodes": cfg.num_nodes,
        "precision": cfg.precision or ("16-mixed" if gpu else "32-true"),
        "workers": cfg.workers if cfg.workers is not None else (8 if gpu else 0),
        "threads": cfg.threads if cfg.threads is not None else (None if gpu else os.cpu_count()),
        "channels_last": cfg.channels_last,
    }


def read_config(path: str | Path) -> TrainConfig:
    """The TrainConfig a run's config.yaml describes (its out folder: the one it sits in)."""
    path = Path(path)
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    t = raw["trainer"]
    return TrainConfig(
        data=raw["data"],
        out=str(path.parent),
        model=raw["model"],
        hyp={k: v for k, v in raw["hyp"].items() if k not in ("data", "model", "workers")},
        **{
            k: t[k]
            for k in ("accelerator", "devices", "strategy", "num_nodes", "precision", "workers", "threads")
        },
        save_period=t.get("save_period", -1),
        channels_last=t.get("channels_last", False),  # runs from before the option trained in NCHW
    )


def load_run_config(run: str | Path) -> tuple[TrainConfig, Path]:
    """(config, last checkpoint) of a run folder or a checkpoint inside one, for ``--resume``."""
    p = Path(run)
    out = p.parent.parent if p.is_file() else p
    ckpt = p if p.is_file() else out / "checkpoints" / "last.ckpt"
    if not (out / CONFIG).is_file():
        raise FileNotFoundError(
            f"{out}: no {CONFIG}; --resume takes a run folder written by inspect-app train"
        )
    if not ckpt.is_file():
        raise FileNotFoundError(f"{ckpt}: no checkpoint to resume from")
    return read_config(out / CONFIG), ckpt


def _read_csv(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _merge_csv(path: Path, before: list[dict[str, str]]) -> None:
    """Put the epochs logged before a resume back in front of the resumed run's rows."""
    after = _read_csv(path)
    first = min((int(r["epoch"]) for r in after if r.get("epoch")), default=None)
    rows = [r for r in before if first is None or int(r["epoch"]) < first] + after
    keys = sorted({k for r in rows for k in r})
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)


def _parent(model: str) -> str:
    """What a release names as its parent: the release a checkpoint came from, or the architecture."""
    p = Path(model)
    manifest = p.parent / "manifest.json"
    if p.suffix == ".pt" and manifest.is_file():
        try:
            m = json.loads(manifest.read_text(encoding="utf-8"))
            return f"{m['name']}/{m['version']}"
        except (ValueError, KeyError):
            pass
    return str(p.resolve()) if p.suffix == ".pt" else f"{model} (from scratch)"


def check_hyp(cfg: TrainConfig) -> dict[str, Any]:
    """ultralytics' full hyperparameters for this run, or ValueError naming the bad key (one line)."""
    try:
        return vars(resolve_hyp(cfg.hyp_overrides()))
    except (SyntaxError, TypeError, ValueError) as exc:  # how ultralytics' get_cfg reports a bad key
        raise ValueError("--hyp/flags: " + "; ".join(ln.strip() for ln in str(exc).splitlines() if ln.strip())
                         ) from exc


def resume_plan(cfg: TrainConfig, ckpt: Path, epochs: int | None, patience: int | None) -> TrainConfig:
    """The config a resumed run continues with. ``--epochs`` larger than the epochs done extends a run
    (a finished one too); a run that is finished, or stopped early and would stop again at once, is
    refused with what to do instead."""
    ck = torch.load(ckpt, map_location="cpu", weights_only=False)
    done = int(ck.get("epoch", -1)) + 1  # the checkpoint is written at the end of its epoch
    planned = int(cfg.hyp.get("epochs", 100))
    if epochs is not None:
        if epochs <= done:
            raise ValueError(f"{ckpt}: {done} epoch(s) are done already; --epochs must be more than {done} "
                             "to train on")
        cfg.hyp["epochs"] = planned = epochs
    elif done >= planned:
        raise ValueError(f"{ckpt}: the run finished its {planned} epochs; to train it further, "
                         f"give --epochs N with N > {done}")
    if patience is not None:
        cfg.hyp["patience"] = patience
    stopper = next((v for k, v in (ck.get("callbacks") or {}).items() if k.startswith("Patience")), {})
    idle = done - int(stopper.get("best_epoch") or done)  # epochs since the best one
    limit = int(cfg.hyp.get("patience", 100))  # 0: never stop early (ultralytics)
    if stopper.get("best_fitness") and limit > 0 and idle >= limit:
        raise ValueError(f"{ckpt}: the run stopped early (no better val mAP50-95 for {idle} epochs since "
                         f"epoch {stopper['best_epoch']}) and would stop again at once; give --patience N "
                         f"with N > {idle} to train on")
    return cfg


def train(cfg: TrainConfig, resume: Path | None = None, spec: DataSpec | None = None) -> RunResult:
    quiet_libraries()
    out = Path(cfg.out).resolve()
    if resume is None and _launcher_rank() == 0 and out.exists() and any(out.iterdir()):
        raise FileExistsError(
            f"{out} is not empty; choose a new --out, or --resume {out} to continue that run"
        )
    check_hyp(cfg)  # a typo in a hyperparameter leaves no run folder behind
    spec = spec or load_data_yaml(cfg.data)
    out.mkdir(parents=True, exist_ok=True)
    topts = resolve_trainer_options(cfg)
    hyp = cfg.hyp_overrides()
    hyp["workers"] = topts["workers"]
    seed = int(hyp.get("seed", 0))
    init_seeds(
        seed + 1, deterministic=bool(hyp.get("deterministic", True))
    )  # as BaseTrainer, before the model
    if topts["threads"]:
        torch.set_num_threads(int(topts["threads"]))

    # a resumed run rebuilds the architecture saved in its checkpoint: a fine-tuning parent .pt may be gone
    model_yaml = (
        torch.load(resume, map_location="cpu", weights_only=False)["hyper_parameters"].get("model_yaml")
        if resume
        else None
    )
    module = YoloDetector(
        cfg.model, spec.names, hyp, model_yaml=model_yaml, threads=topts["threads"], val_dir=str(out / "val"),
        channels_last=bool(topts["channels_last"]),
    )
    dm = YoloDataModule(
        spec, module.hyp, int(module.hyp.batch), topts["workers"], int(module.model.stride.max())
    )
    config: dict[str, Any] = {
        "data": str(spec.yaml_path),
        "model": cfg.model,
        "parent": _parent(cfg.model),
        "hyp": module.resolved_hyp(),
        "trainer": {**topts, "save_period": cfg.save_period},
        "dataset": spec.summary(),
        "versions": {
            "ultralytics": ULTRALYTICS_VERSION,
            "torch": str(torch.__version__),
            "lightning": str(pl.__version__),
        },
    }
    timer = EpochTimer()
    callbacks: list[pl.Callback] = [
        # best by val mAP50-95; "last" separately: save_last only refreshes when a best is saved
        ModelCheckpoint(
            dirpath=out / "checkpoints",
            filename="best",
            monitor=MONITOR,
            mode="max",
            save_top_k=1,
            enable_version_counter=False,  # a resumed run overwrites best/last instead of adding best-v1
        ),
        LastCheckpoint(out / "checkpoints"),
        UltralyticsWeights(out / "weights", config),
        CloseMosaic(int(module.hyp.close_mosaic or 0)),
        patience := Patience(int(module.hyp.patience)),
        SaveConfig(out / CONFIG, config),
        timer,
        EpochBar(),
    ]
    if cfg.save_period > 0:
        callbacks.append(
            ModelCheckpoint(
                dirpath=out / "checkpoints",
                filename="epoch{epoch}",
                every_n_epochs=cfg.save_period,
                save_top_k=-1,
                auto_insert_metric_name=False,
            )
        )
    trainer = pl.Trainer(
        accelerator=topts["accelerator"],
        devices=topts["devices"],
        strategy=_strategy(str(topts["strategy"])),
        num_nodes=topts["num_nodes"],
        precision=topts["precision"],
        max_epochs=int(module.hyp.epochs),
        max_time=cfg.max_time,
        logger=[
            CSVLogger(out, name="csv", version=""),
            TensorBoardLogger(out, name="tensorboard", version="", default_hp_metric=False),
        ],
        callbacks=callbacks,
        default_root_dir=out,
        num_sanity_val_steps=0,
        use_distributed_sampler=False,  # the datamodule picks ultralytics-compatible samplers itself
        # None would make Lightning switch deterministic algorithms off again; "warn" is init_seeds' setting
        deterministic="warn" if module.hyp.deterministic else False,
        log_every_n_steps=1,
    )
    csv_path = out / "csv" / "metrics.csv"
    before = _read_csv(csv_path) if resume else []  # Lightning's CSV logger starts the file afresh
    trainer.fit(module, datamodule=dm, ckpt_path=str(resume) if resume else None)
    if before and trainer.is_global_zero:
        _merge_csv(csv_path, before)

    best_ckpt = next((c for c in callbacks if isinstance(c, ModelCheckpoint)), None)
    summary: dict[str, Any] = {
        "out": str(out),
        "epochs_run": len(timer.total_s),
        "best_epoch": None,
        "best": {},
        "train_images": len(dm.train_set) if dm.train_set is not None else 0,
        "epoch_train_s": timer.train_s,
        "epoch_total_s": timer.total_s,
        "stopped_early": patience.stopped,
    }
    best_pt = out / "weights" / "best.pt"
    if best_pt.is_file():
        ck = torch.load(best_pt, map_location="cpu", weights_only=False)
        summary["best_epoch"] = int(ck["epoch"]) + 1
        summary["best"] = ck["train_metrics"]
    if timer.train_s:
        mean_train = sum(timer.train_s) / len(timer.train_s)
        summary["mean_epoch_train_s"] = mean_train
        summary["mean_epoch_total_s"] = sum(timer.total_s) / max(len(timer.total_s), 1)
        summary["images_per_s"] = summary["train_images"] / mean_train if mean_train > 0 else None
    summary["best_ckpt"] = str(best_ckpt.best_model_path) if best_ckpt else None
    if trainer.is_global_zero:
        (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return RunResult(out, best_pt, out / "weights" / "last.pt", summary, trainer.is_global_zero)


def config_dict(cfg: TrainConfig) -> dict[str, Any]:
    return asdict(cfg)
