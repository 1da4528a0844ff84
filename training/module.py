"""A LightningModule that trains ultralytics' ``DetectionModel`` the way ultralytics' own trainer does.

Mirrored from ``ultralytics/engine/trainer.py`` and ``models/yolo/detect/train.py`` (8.4), because each of
these moves accuracy: the optimizer and its parameter groups come from ultralytics' ``build_optimizer``
itself (no weight decay on norms and biases; "auto" picks AdamW with a fitted lr, or MuSGD for long runs);
the weight decay is scaled to the nominal batch size ``nbs``; gradients accumulate over
``round(nbs / batch)`` batches, ramped from 1 during warm-up; warm-up interpolates lr (biases from
``warmup_bias_lr``), momentum and accumulation per batch; the lr then follows the linear (or cosine)
``lrf`` schedule per epoch; gradients are clipped to norm 10; an EMA of the weights (``ModelEMA``) is
updated after every optimizer step and is what validation, checkpoints and export use.

Optimization is manual: Lightning's fixed ``accumulate_grad_batches`` cannot ramp during warm-up, and the
step cadence (``ni - last_opt_step >= accumulate``, across epoch boundaries) is part of the recipe.
"""

from __future__ import annotations

import math
from copy import deepcopy
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from training._offline import require_offline

require_offline(__name__)

import numpy as np  # noqa: E402
import pytorch_lightning as pl  # noqa: E402
import torch  # noqa: E402
from ultralytics.cfg import get_cfg  # noqa: E402
from ultralytics.engine.trainer import BaseTrainer  # noqa: E402
from ultralytics.nn.tasks import DetectionModel, load_checkpoint  # noqa: E402
from ultralytics.utils.torch_utils import ModelEMA, one_cycle  # noqa: E402

from training.val_metrics import EpochValidator  # noqa: E402

CLIP_NORM = 10.0  # BaseTrainer.optimizer_step
EMA_ATTRS = ["yaml", "nc", "args", "names", "stride", "class_weights"]


def build_model(
    model: str, names: dict[int, str], hyp: Any, model_yaml: dict | None = None
) -> tuple[DetectionModel, dict]:
    """``DetectionTrainer.get_model``: a model yaml (``yolo11n.yaml``, a path) or a checkpoint to fine-tune.

    A checkpoint's matching layers are loaded (``DetectionModel.load``: a head for another class count is
    rebuilt, rows of classes with the same name are kept). ``model_yaml`` rebuilds an architecture saved in a
    Lightning checkpoint, whose weights then come from its state dict. Returns (model, its yaml dict).
    """
    weights = None
    cfg: Any = model_yaml
    if cfg is None:
        if str(model).endswith(".pt"):
            if not Path(model).is_file():
                raise FileNotFoundError(f"checkpoint {model} does not exist (nothing is downloaded)")
            weights, _ = load_checkpoint(model)
            cfg = weights.yaml
        else:
            cfg = model if str(model).endswith((".yaml", ".yml")) else f"{model}.yaml"
            if ("/" in str(cfg) or Path(cfg).exists()) and not Path(cfg).is_file():
                raise FileNotFoundError(f"model yaml {cfg} does not exist")
    det = DetectionModel(deepcopy(cfg) if isinstance(cfg, dict) else cfg, nc=len(names), ch=3, verbose=False)
    if getattr(hyp, "cls_remap", True):
        det.names = dict(names)  # set before load, so cls rows can be matched by class name
    if weights is not None:
        det.load(weights, verbose=False)
    det.nc = len(names)
    det.names = dict(names)
    det.args = hyp  # v8DetectionLoss reads its box/cls/dfl gains from model.args
    freeze = hyp.freeze if isinstance(hyp.freeze, list) else range(hyp.freeze or 0)
    frozen = [f"model.{x}." for x in freeze] + [".dfl"]  # the DFL projection is fixed, never trained
    for k, p in det.named_parameters():
        if any(f in k for f in frozen):
            p.requires_grad = False
        elif not p.requires_grad and p.dtype.is_floating_point:
            p.requires_grad = True
    return det, deepcopy(det.yaml)


def _plain(v: Any) -> Any:
    """YAML- and JSON-safe values (config.yaml, manifests)."""
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_plain(x) for x in v]
    if v is None or isinstance(v, bool | int | float | str):
        return type(v)(v) if v is not None else None
    return str(v)


def resolve_hyp(overrides: dict[str, Any]) -> Any:
    """ultralytics' config namespace: its defaults, type-checked overrides."""
    return get_cfg(overrides={"task": "detect", "mode": "train", **overrides})


class YoloDetector(pl.LightningModule):
    def __init__(
        self,
        model: str,
        names: dict[int, str],
        hyp: dict[str, Any],
        model_yaml: dict | None = None,
        threads: int | None = None,
        val_dir: str | None = None,
        channels_last: bool = False,
    ) -> None:
        super().__init__()
        names = {int(k): str(v) for k, v in names.items()}
        self.hyp = resolve_hyp(hyp)
        self.model, yaml_dict = build_model(model, names, self.hyp, model_yaml)
        self.save_hyperparameters(
            {"model": str(model), "names": names, "hyp": dict(hyp), "model_yaml": yaml_dict}
        )
        self.threads = threads
        self.channels_last = channels_last
        self.val_dir = Path(val_dir) if val_dir else None
        self.automatic_optimization = False
        self.ema: ModelEMA | None = None
        self._ema_state: dict | None = None
        self._validator: EpochValidator | None = None
        self.accumulate = 1
        self._acc0 = 1
        self._warmup_iters = 0
        self._last_opt_step = -1
        self.lf = self._lr_lambda()
        self.val_metrics: dict[str, float] = {}
        self.val_per_class: dict[str, dict[str, float]] = {}

    # -- helpers ----------------------------------------------------------------------------------------
    def _lr_lambda(self) -> Any:
        epochs, lrf = int(self.hyp.epochs), float(self.hyp.lrf)
        if self.hyp.cos_lr:
            return one_cycle(1, lrf, epochs)
        return lambda x: max(1 - x / epochs, 0) * (1.0 - lrf) + lrf

    def _set_threads(self) -> None:
        # ultralytics drops the process to 1 thread on small machines (import, select_device): undo it
        if self.threads and self.device.type == "cpu" and torch.get_num_threads() != self.threads:
            torch.set_num_threads(self.threads)

    def resolved_hyp(self) -> dict[str, Any]:
        """The config after the "auto" choices (optimizer, lr0, warmup_bias_lr) were made."""
        return {k: _plain(v) for k, v in vars(self.hyp).items()}

    def _ensure_ema(self) -> ModelEMA:
        if self.ema is None:
            self.ema = ModelEMA(self.model)
            if self._ema_state is not None:
                self.ema.ema.load_state_dict(self._ema_state["state_dict"])
                self.ema.updates = int(self._ema_state["updates"])
                self._ema_state = None
        return self.ema

    # -- optimizer --------------------------------------------------------------------------------------
    def configure_optimizers(self) -> torch.optim.Optimizer:
        hyp = self.hyp
        trainer = self.trainer
        total_steps = int(trainer.estimated_stepping_batches)  # also makes num_training_batches known
        nb = max(total_steps // max(int(hyp.epochs), 1), 1)
        batch = int(hyp.batch)
        n_images = len(trainer.datamodule.train_set) if trainer.datamodule is not None else nb * batch
        accumulate = max(round(hyp.nbs / batch), 1)
        weight_decay = hyp.weight_decay * batch * accumulate / hyp.nbs
        self.accumulate = self._acc0 = min(accumulate, nb * int(hyp.epochs))
        iterations = math.ceil(n_images / max(batch, hyp.nbs)) * int(hyp.epochs)
        # ultralytics' own method, on a stand-in for the trainer: the same groups and the same "auto" rule
        shim = SimpleNamespace(args=hyp, data={"nc": self.model.nc})
        optimizer = BaseTrainer.build_optimizer(
            shim, self.model, hyp.optimizer, hyp.lr0, hyp.momentum, weight_decay, iterations
        )
        for g in optimizer.param_groups:
            g.setdefault("initial_lr", g["lr"])  # what LambdaLR records
        warmup_epochs = min(hyp.warmup_epochs, max(int(hyp.epochs) - 1, 0))
        self._warmup_iters = round(warmup_epochs * nb) if warmup_epochs > 0 else 0
        self.hparams["hyp"] = {**self.hparams["hyp"], **self.resolved_hyp()}
        if trainer.datamodule is not None:
            self._dataset_attributes(trainer.datamodule)
        return optimizer

    def _dataset_attributes(self, dm: Any) -> None:
        """DetectionTrainer's max_det check and class weights (cls_pw > 0), from the built datasets."""
        from ultralytics.models.yolo.detect import DetectionValidator

        sets = {k: v for k, v in (("train", dm.train_set), ("val", dm.val_set)) if v is not None}
        DetectionValidator._check_max_det(self.hyp, sets)
        self.model.set_head_attr(max_det=self.hyp.max_det)
        if self.hyp.cls_pw and dm.train_set is not None:
            labels = [lb["cls"].flatten() for lb in dm.train_set.labels]
            counts = np.bincount(np.concatenate(labels).astype(int), minlength=self.model.nc).astype(
                np.float32
            )
            if counts.any():
                present = counts > 0
                w = (1.0 / np.where(present, counts, 1.0)) ** self.hyp.cls_pw
                w = np.where(present, w, w[present].mean())
                self.model.class_weights = torch.from_numpy(w / w.mean()).to(self.device)

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        # runs after AMP unscaling, so the norm is that of the true gradients
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), max_norm=CLIP_NORM)

    # -- training ---------------------------------------------------------------------------------------
    def transfer_batch_to_device(self, batch: Any, device: torch.device, dataloader_idx: int) -> Any:
        """Move the batch's tensors, as ``DetectionTrainer.preprocess_batch``: Lightning's generic walk over
        every file name and shape tuple in the batch cost ~50 ms per step on CPU (4 % of a 320 px step)."""
        if not isinstance(batch, dict):
            return super().transfer_batch_to_device(batch, device, dataloader_idx)
        if device.type == "cpu":
            return batch
        nb = device.type != "mps"
        return {
            k: v.to(device, non_blocking=nb) if isinstance(v, torch.Tensor) else v for k, v in batch.items()
        }

    def on_fit_start(self) -> None:
        self._set_threads()
        if self.channels_last:  # parameters keep their identity: the optimizer's references stay valid
            self.model.to(memory_format=torch.channels_last)
        self._ensure_ema()
        self._last_opt_step = -1  # as after a resume in ultralytics: the cadence restarts

    def on_train_epoch_start(self) -> None:
        self._set_threads()
        epoch = self.current_epoch
        for g in self.optimizers().optimizer.param_groups:  # type: ignore[union-attr]
            g["lr"] = g["initial_lr"] * self.lf(epoch)  # LambdaLR.step() at the start of each epoch
        freeze = self.hyp.freeze if isinstance(self.hyp.freeze, list) else range(self.hyp.freeze or 0)
        frozen = [f"model.{x}." for x in freeze]
        for n, m in self.model.named_modules():  # frozen layers keep their BatchNorm statistics
            if any(f in n + "." for f in frozen) and isinstance(m, torch.nn.BatchNorm2d):
                m.eval()

    def _warmup(self, ni: int, optimizer: torch.optim.Optimizer) -> None:
        nw = self._warmup_iters
        if not nw or ni > nw:
            return
        xi = [0, nw]
        self.accumulate = max(1, int(np.interp(ni, xi, [1, self._acc0]).round()))
        for g in optimizer.param_groups:
            start = self.hyp.warmup_bias_lr if g.get("param_group") == "bias" else 0.0
            g["lr"] = float(np.interp(ni, xi, [start, g["initial_lr"] * self.lf(self.current_epoch)]))
            if "momentum" in g:
                g["momentum"] = float(np.interp(ni, xi, [self.hyp.warmup_momentum, self.hyp.momentum]))

    def _multi_scale(self, img: torch.Tensor) -> torch.Tensor:
        """DetectionTrainer.preprocess_batch's random resize (off unless multi_scale > 0)."""
        import random

        ms, imgsz = float(self.hyp.multi_scale), int(self.hyp.imgsz)
        if ms <= 0:
            return img
        gs = max(int(self.model.stride.max()), 32)
        sz = random.randrange(max(gs, int(imgsz * (1.0 - ms))), int(imgsz * (1.0 + ms) + gs)) // gs * gs
        sf = sz / max(img.shape[2:])
        if sf == 1:
            return img
        ns = [math.ceil(x * sf / gs) * gs for x in img.shape[2:]]
        return torch.nn.functional.interpolate(img, size=ns, mode="bilinear", align_corners=False)

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        opt = self.optimizers()
        nb = int(self.trainer.num_training_batches)
        ni = batch_idx + nb * self.current_epoch
        self._warmup(ni, opt.optimizer)  # type: ignore[union-attr]
        batch["img"] = self._multi_scale(batch["img"].float() / 255)
        if self.channels_last:
            batch["img"] = batch["img"].contiguous(memory_format=torch.channels_last)
        loss, items = self.model.loss(batch)
        # the criterion returns the sum over the batch; DDP averages gradients, ultralytics undoes that
        loss = loss.sum() * self.trainer.world_size
        self.manual_backward(loss)
        if ni - self._last_opt_step >= self.accumulate:
            opt.step()  # type: ignore[union-attr]
            opt.zero_grad()  # type: ignore[union-attr]
            self._ensure_ema().update(self.model)
            self._last_opt_step = ni
        n = int(batch["img"].shape[0])
        for k, v in items.items():
            self.log(f"train/{k}", v, on_step=True, on_epoch=False, prog_bar=True, logger=False, batch_size=n)
            self.log(f"train/{k}_epoch", v, on_step=False, on_epoch=True, sync_dist=True, batch_size=n)
        return loss.detach()

    def on_train_epoch_end(self) -> None:
        criterion = getattr(self.model, "criterion", None)
        if hasattr(criterion, "update"):
            criterion.update()  # end-to-end heads (YOLO26) anneal their loss weights per epoch
        self._ensure_ema().update_attr(self.model, include=EMA_ATTRS)
        for i, g in enumerate(self.optimizers().optimizer.param_groups):  # type: ignore[union-attr]
            self.log(f"lr/pg{i}", float(g["lr"]), on_epoch=True, batch_size=1, sync_dist=True)

    # -- validation -------------------------------------------------------------------------------------
    def on_validation_epoch_start(self) -> None:
        self._set_threads()
        ema = self._ensure_ema()
        if self._validator is None:
            dm = self.trainer.datamodule
            save_dir = self.val_dir or Path(self.trainer.default_root_dir) / "val"
            self._validator = EpochValidator(self.hyp, dm.spec.ultralytics_dict(), save_dir)
        ema.ema.float().eval()
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            # each rank's EMA averaged its own BatchNorm statistics; validate (and save) rank 0's, as
            # BaseTrainer.validate does, so every shard is scored by the same model
            for buffer in ema.ema.buffers():
                torch.distributed.broadcast(buffer, src=0)
        self._validator.start(ema.ema, self.device)

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        assert self._validator is not None and self.ema is not None
        items = self._validator.step(self.ema.ema, batch)
        for k, v in items.items():
            self.log(f"val/{k}", v, on_step=False, on_epoch=True, sync_dist=True, batch_size=1)

    def on_validation_epoch_end(self) -> None:
        assert self._validator is not None
        overall, per_class = self._validator.compute()
        self.val_metrics, self.val_per_class = overall, per_class
        # identical on every rank (computed from the gathered stats); sync_dist only averages equal numbers
        for k, v in overall.items():
            self.log(f"val/{k}", v, prog_bar=k in ("mAP50", "mAP50-95"), batch_size=1, sync_dist=True)
        for name, m in per_class.items():
            self.log(f"val/AP50/{name}", m["mAP50"], batch_size=1, sync_dist=True)
            self.log(f"val/AP50-95/{name}", m["mAP50-95"], batch_size=1, sync_dist=True)

    # -- checkpoints ------------------------------------------------------------------------------------
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        ema = self._ensure_ema()
        checkpoint["ema"] = {"state_dict": ema.ema.state_dict(), "updates": ema.updates}
        checkpoint["val_metrics"] = {"overall": self.val_metrics, "per_class": self.val_per_class}

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self._ema_state = checkpoint.get("ema")
        self.ema = None  # rebuilt from the restored weights and this state at fit/validation start
