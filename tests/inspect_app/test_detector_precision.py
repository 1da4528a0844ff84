"""OpenVINO's bf16 option: faster on CPUs with bf16 units, and still the same detections within tolerance."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from inspect_app.detector import load_detector
from inspect_app.types import iou


def test_bf16_matches_f32_within_tolerance(
    tiny_release: Path, test_images: Callable[[int, int], list[np.ndarray]]
) -> None:
    f32 = load_detector(tiny_release, "openvino", 2, precision="f32")
    bf16 = load_detector(tiny_release, "openvino", 2, precision="bf16")
    # OpenVINO reports element types: 'float32' / 'bfloat16' (bf16 only where the CPU has it, else f32)
    assert "float32" in str(f32.get_property("INFERENCE_PRECISION_HINT"))
    assert str(bf16.get_property("INFERENCE_PRECISION_HINT")) in ("<Type: 'bfloat16'>", "<Type: 'float32'>")
    compared = 0
    for img in test_images(8, 11):
        a, b = f32.detect(img, 0.25, 0.7), bf16.detect(img, 0.25, 0.7)
        for da in a:
            match = max(b, key=lambda db: iou(da.box, db.box) if db.class_id == da.class_id else -1.0)
            assert match.class_id == da.class_id
            assert iou(da.box, match.box) >= 0.9
            assert abs(match.confidence - da.confidence) <= 0.03
            compared += 1
    assert compared >= 5
