"""Tiny real model releases whose answer is known in advance, for tests of replay, the gate and the shadow.

The ONNX graph reports one box (the input's centre, a quarter of its side) of class ``cls`` with confidence
``sigmoid(sharpness * (mean(image) - threshold))``: parts brighter than ``threshold`` (the mean of the
normalised, letterboxed input, 0..1) FAIL, darker ones PASS. ``threshold`` above 1: a model that never
detects anything; below 0: one that always does. A real release (manifest, sha256) run by the real backends.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from inspect_app.model_release import MANIFEST, SCHEMA, file_entry

CLASSES = ("scratch", "pit", "open", "short")


def brightness_model(threshold: float, nc: int, imgsz: int, cls: int = 0, sharpness: float = 200.0) -> bytes:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    n = 1
    base = np.zeros((1, 4 + nc, n), np.float32)
    base[0, :4, 0] = (imgsz / 2, imgsz / 2, imgsz / 4, imgsz / 4)
    onehot = np.zeros((1, 4 + nc, n), np.float32)
    onehot[0, 4 + cls, 0] = 1.0
    nodes = [
        helper.make_node("ReduceMean", ["images"], ["mean"], keepdims=0),
        helper.make_node("Sub", ["mean", "threshold"], ["centred"]),
        helper.make_node("Mul", ["centred", "sharpness"], ["logit"]),
        helper.make_node("Sigmoid", ["logit"], ["score"]),
        helper.make_node("Mul", ["onehot", "score"], ["scores"]),
        helper.make_node("Add", ["base", "scores"], ["output0"]),
    ]
    inits = [
        numpy_helper.from_array(np.array(threshold, np.float32), "threshold"),
        numpy_helper.from_array(np.array(sharpness, np.float32), "sharpness"),
        numpy_helper.from_array(base, "base"),
        numpy_helper.from_array(onehot, "onehot"),
    ]
    graph = helper.make_graph(
        nodes, "brightness",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, imgsz, imgsz])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, 4 + nc, n])],
        inits,
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def write_brightness_release(
    root: Path, name: str, version: str, threshold: float, *, names: tuple[str, ...] = CLASSES,
    imgsz: int = 64, cls: int = 0, metrics: dict[str, Any] | None = None,
) -> Path:  # fmt: skip
    """A release at ``root/name/version`` whose model FAILs parts brighter than ``threshold``."""
    d = Path(root) / name / version
    d.mkdir(parents=True, exist_ok=True)
    (d / "model.onnx").write_bytes(brightness_model(threshold, len(names), imgsz, cls))
    manifest = {
        "schema": SCHEMA, "name": name, "version": version, "created": datetime.now(UTC).isoformat(),
        "task": "detect", "imgsz": [imgsz, imgsz], "stride": 32, "names": list(names),
        "files": {"model.onnx": file_entry(d / "model.onnx")}, "metrics": metrics or {},
        "train": {"note": f"brightness threshold {threshold} (test model)"},
    }  # fmt: skip
    (d / MANIFEST).write_text(json.dumps(manifest, indent=2))
    return d


def gray_image(level: int, size: int = 64) -> np.ndarray:
    """A uniform BGR image; its normalised mean is level / 255."""
    return np.full((size, size, 3), level, np.uint8)
