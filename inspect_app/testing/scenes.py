"""Tiny labelled scenes the test models learn in a few hundred steps: one drawing per defect class."""

from __future__ import annotations

import cv2
import numpy as np

CLASSES = ("scratch", "pit", "open", "short")


def make_scene(
    rng: np.random.Generator, h: int, w: int
) -> tuple[np.ndarray, list[tuple[int, float, float, float, float]]]:
    """A grey noisy part with 1-3 defects; returns BGR image and (class, cx, cy, w, h) normalised labels.

    Each class has its own drawing (line = scratch, filled ellipse = pit, hollow box = open, filled box =
    short) so a model can learn them quickly.
    """
    img = np.full((h, w, 3), int(rng.integers(60, 200)), np.uint8)
    img = cv2.add(img, rng.integers(0, 40, (h, w, 3), dtype=np.uint8))
    labels = []
    for _ in range(int(rng.integers(1, 4))):
        c = int(rng.integers(0, len(CLASSES)))
        bw, bh = int(rng.integers(w // 8, w // 3)), int(rng.integers(h // 8, h // 3))
        x, y = int(rng.integers(0, w - bw)), int(rng.integers(0, h - bh))
        col = tuple(int(v) for v in rng.integers(0, 256, 3))
        if c == 0:
            cv2.line(img, (x, y), (x + bw, y + bh), col, 2)
        elif c == 1:
            cv2.ellipse(img, (x + bw // 2, y + bh // 2), (bw // 2, bh // 2), 0, 0, 360, col, -1)
        elif c == 2:
            cv2.rectangle(img, (x, y), (x + bw, y + bh), col, 2)
        else:
            cv2.rectangle(img, (x, y), (x + bw, y + bh), col, -1)
        labels.append((c, (x + bw / 2) / w, (y + bh / 2) / h, bw / w, bh / h))
    return img, labels
