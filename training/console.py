"""What a training run prints: epochs counted from 1 as everywhere else in the run's output, and without
Lightning's advertisements or warnings about choices this project made on purpose."""

from __future__ import annotations

import logging
import warnings
from typing import Any

from training._offline import require_offline

require_offline(__name__)

import pytorch_lightning as pl  # noqa: E402
from pytorch_lightning.callbacks import TQDMProgressBar  # noqa: E402
from pytorch_lightning.callbacks.progress.tqdm_progress import convert_inf  # noqa: E402

# Lightning's INFO lines that say nothing about this run
_NOISE = (
    "💡 Tip:",  # advertisements for Lightning's cloud services
    "TPU available:",
    "Loading `train_dataloader` to estimate number of stepping batches",
)
# warnings about what this project does on purpose, or inside the libraries (nothing a user can change)
_WARNINGS = (
    r".*isinstance\(treespec, LeafSpec\)` is deprecated.*",  # Lightning's own use of torch's pytree
    r".*overridden `transfer_batch_to_device` in `LightningModule`.*",  # the module moves its batches
    # a resumed run writes into its own folder on purpose (run.py merges the CSV rows back)
    r"Experiment logs directory .* exists and is not empty.*",
    r"Checkpoint directory .* exists and is not empty.*",
)


class _DropNoise(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(n in message for n in _NOISE)


def quiet_libraries() -> None:
    """Filter Lightning's noise (idempotent)."""
    for name in ("pytorch_lightning.utilities.rank_zero", "lightning.pytorch.utilities.rank_zero"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropNoise) for f in logger.filters):
            logger.addFilter(_DropNoise())
    for pattern in _WARNINGS:
        warnings.filterwarnings("ignore", message=pattern)


class EpochBar(TQDMProgressBar):
    """Lightning's bar says "Epoch 0" for the first epoch; the summary, "best epoch" and ultralytics count
    from 1. So does this bar, with the planned total: "Epoch 1/30"."""

    def on_train_epoch_start(self, trainer: pl.Trainer, *_: Any) -> None:
        # Lightning's own, with our label: calling it first would draw "Epoch 0" once (a line in a log file)
        bar = self.train_progress_bar
        bar.reset(total=convert_inf(self.total_train_batches))
        bar.initial = 0
        bar.set_description(epoch_label(trainer.current_epoch, trainer.max_epochs))


def epoch_label(current_epoch: int, max_epochs: int | None) -> str:
    """``Epoch 1/30`` for Lightning's ``current_epoch`` 0."""
    total = f"/{max_epochs}" if max_epochs and max_epochs > 0 else ""
    return f"Epoch {current_epoch + 1}{total}"
