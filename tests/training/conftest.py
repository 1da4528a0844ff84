"""Tiny generated detection datasets for the training tests (imgsz 64, a few dozen images).

The shapes are the ones the shared ``tiny_release`` fixture model was trained on (tests/conftest.py), so a
model fine-tuned from it reaches a non-trivial mAP in one epoch and metric comparisons compare real numbers.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from inspect_app.testing.scenes import make_scene

# before torch loads (it is not imported by the root conftest): on a shared 2-core box, spinning OpenMP
# workers make every op wait for a descheduled thread (100x slower); see training.cli.passive_openmp
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

NAMES = ("scratch", "pit", "open", "short")
SIZE = 64


def write_scenes(root: Path, counts: dict[str, int], seed: int, backgrounds: int = 0) -> Path:
    """images/<split>/*.png + labels/<split>/*.txt + data.yaml; the first ``backgrounds`` train images are
    clean parts with empty label files."""
    rng = np.random.default_rng(seed)
    for split, n in counts.items():
        (root / "images" / split).mkdir(parents=True, exist_ok=True)
        (root / "labels" / split).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            img, labels = make_scene(rng, SIZE, SIZE)
            if split == "train" and i < backgrounds:
                img, labels = (
                    cv2.add(np.full_like(img, 120), rng.integers(0, 40, img.shape, dtype=np.uint8)),
                    [],
                )
            cv2.imwrite(str(root / "images" / split / f"{i:04d}.png"), img)
            lines = "".join(f"{c} {x:.6f} {y:.6f} {w:.6f} {h:.6f}\n" for c, x, y, w, h in labels)
            (root / "labels" / split / f"{i:04d}.txt").write_text(lines)
    yaml = [*(f"{s}: images/{s}" for s in counts), "names:", *(f"  {i}: {n}" for i, n in enumerate(NAMES))]
    (root / "data.yaml").write_text("\n".join(yaml) + "\n")
    return root / "data.yaml"


@pytest.fixture(scope="session")
def scenes_yaml(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_scenes(
        tmp_path_factory.mktemp("scenes"), {"train": 32, "val": 16, "test": 16}, seed=5, backgrounds=4
    )


@pytest.fixture(scope="session")
def finetune_run(
    tiny_release: Path, scenes_yaml: Path, state_dir: Path, tmp_path_factory: pytest.TempPathFactory
):
    """One epoch fine-tuned from the tiny release's checkpoint: a model with real detections and metrics."""
    from training.run import TrainConfig, train

    out = tmp_path_factory.mktemp("runs") / "finetune"
    cfg = TrainConfig(
        data=str(scenes_yaml),
        out=str(out),
        model=str(tiny_release / "model.pt"),
        hyp={"epochs": 1, "imgsz": SIZE, "batch": 8, "nbs": 8, "close_mosaic": 1, "warmup_epochs": 0},
        accelerator="cpu",
        devices=1,
        threads=2,
    )
    return train(cfg)
