"""A LightningDataModule over an ultralytics detection dataset, with ultralytics' own data pipeline.

The datasets are ``build_yolo_dataset`` (``YOLODataset``: mosaic, random perspective, HSV, flips, letterbox)
and batches go through ``YOLODataset.collate_fn``, built with the same arguments as ultralytics'
``DetectionTrainer.get_dataloader``: train shuffled without rectangular batching, val with ``rect`` and twice
the batch size. Only the loader class differs: a plain ``DataLoader`` instead of ultralytics'
``InfiniteDataLoader``, so that Lightning can iterate it and call ``set_epoch`` on its sampler.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from copy import copy
from pathlib import Path
from typing import Any

from training._offline import require_offline

require_offline(__name__)

import pytorch_lightning as pl  # noqa: E402
import torch  # noqa: E402
from torch.utils.data import DataLoader, Dataset, DistributedSampler  # noqa: E402
from ultralytics.data import build_yolo_dataset  # noqa: E402
from ultralytics.data.build import ContiguousDistributedSampler, seed_worker  # noqa: E402
from ultralytics.data.dataset import YOLODataset  # noqa: E402

from training.data_yaml import DataSpec  # noqa: E402


class YoloDataModule(pl.LightningDataModule):
    """``batch`` is the total batch over all devices, as ultralytics' ``batch`` (each device gets
    ``batch // world_size``); ``hyp`` is the ultralytics config namespace (``get_cfg``) with the augmentation
    settings and ``imgsz``, ``fraction``, ``seed``."""

    def __init__(self, spec: DataSpec, hyp: Any, batch: int, workers: int = 0, stride: int = 32) -> None:
        super().__init__()
        if batch < 1:
            raise ValueError(f"batch must be >= 1, got {batch}")
        self.spec = spec
        self.hyp = copy(hyp)  # close_mosaic edits a copy, as the trainer does; the caller's stays intact
        self.batch = batch
        self.workers = workers
        self.stride = max(int(stride), 32)  # ultralytics' grid size: max(model stride, 32)
        self.train_set: Dataset | None = None
        self.val_set: Dataset | None = None
        self._train_loader: DataLoader | None = None

    # -- datasets ---------------------------------------------------------------------------------------
    def _world(self) -> tuple[int, int]:
        trainer = getattr(self, "trainer", None)
        return (trainer.world_size, trainer.global_rank) if trainer is not None else (1, 0)

    @property
    def device_batch(self) -> int:
        return max(self.batch // self._world()[0], 1)

    def build(self, split: str, mode: str) -> Dataset:
        """``mode`` 'train' augments; anything else letterboxes with rectangular batches, as in validation."""
        data = self.spec.ultralytics_dict()
        if split not in data:
            raise ValueError(f"{self.spec.yaml_path}: no '{split}:' split")
        batch = self.device_batch if mode == "train" else self.device_batch * 2
        hyp = copy(self.hyp)
        hyp.split = split if mode != "train" else hyp.split  # ultralytics picks the split's fraction by name
        return build_yolo_dataset(
            hyp, data[split], batch, data, mode=mode, rect=mode != "train", stride=self.stride
        )

    def prepare_data(self) -> None:
        # rank 0 alone, before the others build theirs: ultralytics' label cache is written once, not raced
        if self.trainer is not None and self.trainer.world_size > 1:
            self.build("train", "train")
            self.build("val", "val")

    def setup(self, stage: str) -> None:
        if stage == "fit" and self.train_set is None:
            self.train_set = self.build("train", "train")
        if stage in ("fit", "validate") and self.val_set is None:
            self.val_set = self.build("val", "val")

    # -- loaders ----------------------------------------------------------------------------------------
    def _loader(self, dataset: Dataset, batch: int, train: bool) -> DataLoader:
        world, rank = self._world()
        n = len(dataset)  # type: ignore[arg-type]
        batch = min(batch, n)
        sampler = None
        if world > 1:
            # rect validation batches must stay contiguous (each batch has one letterbox shape), so val uses
            # ultralytics' sampler; train shuffles with a seed shared by all ranks
            sampler = (
                DistributedSampler(dataset, shuffle=True, seed=int(self.hyp.seed))
                if train
                else ContiguousDistributedSampler(dataset)
            )
        samples = len(sampler) if sampler is not None else n
        batches = -(-samples // batch)
        # ultralytics' rule: no more workers than cores or batches; one batch runs in-process
        workers = self.workers if train else self.workers * 2  # ultralytics gives validation twice as many
        nw = min(os.cpu_count() or 1, workers, 0 if batches <= 1 else batches)
        generator = torch.Generator()
        generator.manual_seed((6148914691236517205 + rank + int(self.hyp.seed)) % (1 << 64))
        gpu = self.trainer is not None and self.trainer.accelerator.__class__.__name__ != "CPUAccelerator"
        return DataLoader(
            dataset,
            batch_size=batch,
            shuffle=train and sampler is None,
            sampler=sampler,
            num_workers=nw,
            pin_memory=gpu,
            collate_fn=YOLODataset.collate_fn,
            worker_init_fn=seed_worker,
            generator=generator,
            persistent_workers=nw > 0,  # as ultralytics' InfiniteDataLoader: workers live across epochs
            prefetch_factor=(4 if train else 2) if nw > 0 else None,
        )

    def train_dataloader(self) -> DataLoader:
        assert self.train_set is not None, "setup('fit') first"
        self._train_loader = self._loader(self.train_set, self.device_batch, train=True)
        return self._train_loader

    def val_dataloader(self) -> DataLoader:
        assert self.val_set is not None, "setup('fit') or setup('validate') first"
        return self._loader(self.val_set, self.device_batch * 2, train=False)

    # -- close mosaic -----------------------------------------------------------------------------------
    def close_mosaic(self) -> None:
        """What ``BaseTrainer._close_dataloader_mosaic`` does, then restart the loader's workers: with
        persistent workers each holds its own copy of the dataset, which would keep mosaicking."""
        ds = self.train_set
        if ds is None:
            return
        if hasattr(ds, "mosaic"):
            ds.mosaic = False
        if hasattr(ds, "close_mosaic"):
            ds.close_mosaic(hyp=copy(self.hyp))
        it = getattr(self._train_loader, "_iterator", None)
        if it is not None:
            it._shutdown_workers()
            self._train_loader._iterator = None  # type: ignore[union-attr]


class CloseMosaic(pl.Callback):
    """Switch mosaic (and mixup, cutmix, copy-paste) off for the last ``epochs`` epochs, as ultralytics'
    ``close_mosaic``: the final epochs then train on images that look like the ones the model will see."""

    def __init__(self, epochs: int) -> None:
        self.epochs = int(epochs)
        self.closed = not self.epochs

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not self.closed and trainer.current_epoch >= trainer.max_epochs - self.epochs:
            self.closed = True
            dm = trainer.datamodule
            if isinstance(dm, YoloDataModule):
                dm.close_mosaic()


@contextlib.contextmanager
def label_cache_not_written(*roots: str | Path) -> Iterator[None]:
    """Keep ultralytics from writing ``labels/<split>.cache`` under ``roots`` (shared, read-only datasets).

    ultralytics only asks ``is_dir_writeable``, which is true for root on a read-only-permission tree; the
    labels are then rescanned on each start instead, a few seconds for a few thousand images.
    """
    import ultralytics.data.utils as data_utils

    resolved = [Path(r).resolve() for r in roots]
    original = data_utils.is_dir_writeable

    def writeable(path: str | Path) -> bool:
        p = Path(path).resolve()
        if any(p == r or r in p.parents for r in resolved):
            return False
        return original(path)

    data_utils.is_dir_writeable = writeable
    try:
        yield
    finally:
        data_utils.is_dir_writeable = original
