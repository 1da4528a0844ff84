"""ultralytics-format weights (``weights/best.pt``, ``weights/last.pt``) next to Lightning's checkpoints.

Lightning's ``.ckpt`` files resume a run (model, optimizer, EMA, loops). The ``.pt`` files hold the EMA in
ultralytics' own checkpoint layout (``{"ema": model.half(), "train_args": ...}``, as ``save_model``
writes), so ``ultralytics.YOLO("weights/best.pt")`` predicts, validates and exports them, and a release is
made from them. "Best" is by validation mAP50-95, as Lightning's ``ModelCheckpoint(monitor="val/mAP50-95")``.
"""

from __future__ import annotations

import shutil
from copy import deepcopy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from training._offline import require_offline

require_offline(__name__)

import pytorch_lightning as pl  # noqa: E402
import torch  # noqa: E402
from ultralytics import __version__ as ULTRALYTICS_VERSION  # noqa: E402

MONITOR = "val/mAP50-95"


def save_ultralytics_checkpoint(
    path: Path,
    ema_model: torch.nn.Module,
    train_args: dict[str, Any],
    *,
    epoch: int,
    updates: int,
    metrics: dict[str, Any],
    train_config: dict[str, Any] | None = None,
) -> None:
    # half as ultralytics' own checkpoints (loaded back as float32), and NCHW whatever the training used
    model = deepcopy(ema_model).half().to(memory_format=torch.contiguous_format)
    model.criterion = None  # training-only state, and it may hold inference-mode tensors
    for v in model.state_dict().values():
        if v.is_floating_point():
            torch.nan_to_num_(v)  # fp16 overflow would otherwise poison the saved weights
    for p in model.parameters():
        p.requires_grad_(False)
    tmp = path.with_suffix(".tmp")
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(
        {
            "epoch": epoch,
            "best_fitness": metrics.get("fitness"),
            "model": None,
            "ema": model,
            "updates": updates,
            "optimizer": None,
            "train_args": train_args,
            "train_metrics": metrics,
            "train_config": train_config or {},
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "version": ULTRALYTICS_VERSION,
            "license": "AGPL-3.0 (https://ultralytics.com/license)",
            "docs": "https://docs.ultralytics.com",
        },
        tmp,
    )
    tmp.replace(path)  # never a half-written best.pt


class UltralyticsWeights(pl.Callback):
    def __init__(self, weights_dir: Path, train_config: dict[str, Any]) -> None:
        self.weights_dir = Path(weights_dir)
        self.train_config = train_config
        self.best: float | None = None

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or trainer.state.fn != "fit" or not trainer.is_global_zero:
            return
        score = trainer.callback_metrics.get(MONITOR)
        if score is None:
            return
        score = float(score)
        metrics = {**pl_module.val_metrics, "per_class": pl_module.val_per_class}  # type: ignore[attr-defined]
        args = dict(self.train_config.get("hyp", {}))
        args.update(pl_module.resolved_hyp())  # type: ignore[attr-defined]
        kwargs = {
            "epoch": trainer.current_epoch,
            "updates": pl_module.ema.updates,  # type: ignore[attr-defined]
            "metrics": metrics,
            "train_config": {**self.train_config, "hyp": args},
        }
        ema = pl_module.ema.ema  # type: ignore[attr-defined]
        last = self.weights_dir / "last.pt"
        save_ultralytics_checkpoint(last, ema, args, **kwargs)
        if self.best is None or score > self.best:  # strictly better, as ModelCheckpoint(mode="max")
            self.best = score
            tmp = last.with_suffix(".tmp")
            shutil.copyfile(last, tmp)  # serialised once, as ultralytics' save_model
            tmp.replace(self.weights_dir / "best.pt")

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.best = state_dict.get("best")
