"""Shared fixtures: an offline state dir and a tiny but real model release.

torch and ultralytics are imported inside the fixtures only, so test modules that never ask for a model do
not pay for (or depend on) them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from inspect_app.offline import configure_offline
from inspect_app.testing.scenes import make_scene

CLASSES = ("scratch", "pit", "open", "short")
TINY_IMGSZ = 64
_TRAIN_IMAGES = 256
_TRAIN_STEPS = 300
_BATCH = 8


def scene_images(n: int, seed: int) -> list[np.ndarray]:
    """Seeded non-square test images (64..200 px per side), so letterbox padding is exercised."""
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < n:
        h, w = int(rng.integers(64, 201)), int(rng.integers(64, 201))
        if h != w:
            out.append(make_scene(rng, h, w)[0])
    return out


def pytest_configure(config: pytest.Config) -> None:
    """Before any test imports a library: caches, settings and telemetry go to a throwaway directory,
    never under ``~`` (onnxruntime, ultralytics, matplotlib and torch all write there otherwise)."""
    import tempfile

    configure_offline(Path(tempfile.mkdtemp(prefix="inspect-app-tests-")))


@pytest.fixture(scope="session")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("state")
    configure_offline(path)
    return path


@pytest.fixture(scope="session")
def test_images() -> Callable[[int, int], list[np.ndarray]]:
    return scene_images


@pytest.fixture(scope="session")
def tiny_release_imgsz() -> int:
    return TINY_IMGSZ


@pytest.fixture(scope="session")
def tiny_release(state_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """yolo11n (4 classes) trained for a few hundred steps on generated scenes, released at imgsz 64.

    An untrained YOLO outputs near-zero confidences (its class bias init), and a randomly initialised one
    has activations that vanish or explode from image to image, so parity on either would compare empty
    or saturated, tied lists. A short real training (300 steps of 8 images, ~10-15 s on 2 idle cores)
    gives varied, content-dependent detections.
    """
    import torch

    from training.release import write_release

    model = _train_tiny_model(torch)
    root = tmp_path_factory.mktemp("models")
    return write_release(model, root, "tiny", "0.1.0", TINY_IMGSZ, metrics={"note": "test fixture"})


def _train_tiny_model(torch):  # type: ignore[no-untyped-def]
    from ultralytics.cfg import get_cfg
    from ultralytics.nn.tasks import DetectionModel

    threads = min(2, os.cpu_count() or 1)
    torch.set_num_threads(threads)  # ultralytics drops to 1 thread on import on small machines
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    model = DetectionModel("yolo11n.yaml", nc=len(CLASSES), verbose=False)
    model.names = dict(enumerate(CLASSES))
    model.args = get_cfg()  # the loss reads its box/cls/dfl gains from here

    images, cls, boxes, owner = [], [], [], []
    for i in range(_TRAIN_IMAGES):
        img, labels = make_scene(rng, TINY_IMGSZ, TINY_IMGSZ)
        images.append(torch.from_numpy(np.ascontiguousarray(img[:, :, ::-1].transpose(2, 0, 1))))
        for c, *b in labels:
            cls.append(c)
            boxes.append(b)
            owner.append(i)
    x = torch.stack(images).float() / 255
    c_t = torch.tensor(cls, dtype=torch.float32)
    b_t = torch.tensor(boxes, dtype=torch.float32)
    o_t = torch.tensor(owner, dtype=torch.float32)

    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
    model.train()
    t0 = time.monotonic()
    for step in range(_TRAIN_STEPS):
        start = (step * _BATCH) % _TRAIN_IMAGES
        mask = (o_t >= start) & (o_t < start + _BATCH)
        batch = {
            "img": x[start : start + _BATCH],
            "cls": c_t[mask],
            "bboxes": b_t[mask],
            "batch_idx": o_t[mask] - start,
        }
        loss, _ = model.loss(batch)
        opt.zero_grad()
        loss.sum().backward()
        opt.step()
    # BN running statistics lag the weights after so few steps (momentum 0.03); recompute them exactly
    # from the training images so eval-mode outputs match what the model learned
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative average over the calibration pass
    with torch.no_grad():
        model(x)
    for bn in bns:
        bn.momentum = 0.03
    model.eval()
    model.criterion = None
    print(f"tiny model trained in {time.monotonic() - t0:.1f}s")
    return model


def write_scene_dataset(root: Path, counts: dict[str, int], seed: int) -> Path:
    """``make_scene`` images at the tiny model's size in YOLO layout (images/, labels/, data.yaml)."""
    import cv2

    rng = np.random.default_rng(seed)
    for split, n in counts.items():
        (root / "images" / split).mkdir(parents=True, exist_ok=True)
        (root / "labels" / split).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            img, labels = make_scene(rng, TINY_IMGSZ, TINY_IMGSZ)
            cv2.imwrite(str(root / "images" / split / f"{i:04d}.png"), img)
            lines = "".join(f"{c} {x:.6f} {y:.6f} {w:.6f} {h:.6f}\n" for c, x, y, w, h in labels)
            (root / "labels" / split / f"{i:04d}.txt").write_text(lines)
    names = ["names:", *(f"  {i}: {n}" for i, n in enumerate(CLASSES))]
    (root / "data.yaml").write_text("\n".join([*(f"{s}: images/{s}" for s in counts), *names]) + "\n")
    return root / "data.yaml"


@pytest.fixture(scope="session")
def tiny_int8_release(tiny_release: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny release's f32 files plus an int8 model that passed its gate (``models release --int8``),
    as version 0.2.0; calibrated and gated on fresh scenes like the ones it was trained on."""
    from training.data_yaml import load_data_yaml
    from training.quantize_release import derive_int8_release

    data = load_data_yaml(
        write_scene_dataset(tmp_path_factory.mktemp("int8-scenes"), {"train": 64, "val": 48, "test": 32}, 3)
    )
    return derive_int8_release(tiny_release, tmp_path_factory.mktemp("int8-models"), "0.2.0", data, data)


@pytest.fixture(scope="session")
def scene_dataset() -> Callable[[Path, dict[str, int], int], Path]:
    return write_scene_dataset
