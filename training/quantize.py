"""int8 models for a release: NNCF post-training quantization with accuracy control, and its gate.

The model is the release's own ONNX file read by OpenVINO. Calibration: a seeded sample of the training
split, each image through the station's ``preprocess`` (what the model will see on the line); the sample
is recorded in the manifest (count, seed, sha256 of the file names). Accuracy: val images through the
station's ``postprocess`` in the validator's mode, matched and scored as ``station_eval`` does, so the
numbers compare with the f32 model's.

The gate (``GATE``): the int8 model is kept only if its val mAP50 is within 0.5 point of f32 and its val
mAP50-95 within 1 point. ``nncf.quantize_with_accuracy_control`` steers by one metric; it gets the gate
itself as that metric, ``1 - 0.005 * max(mAP50 drop / 0.005, mAP50-95 drop / 0.01)`` against f32 on the
same images (1 for f32 itself), so the layers it gives back to f32 are the ones that cost either number, and
``max_drop`` 0.005 is exactly the gate. The gate is then checked again on the saved files, compiled as the
station compiles them; a model that fails is deleted, and the release records only the attempt.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from inspect_app.detector.postprocess import postprocess
from inspect_app.detector.preprocess import preprocess
from training.data_yaml import DataError, DataSpec
from training.station_eval import (
    CONF,
    IOU,
    Labelled,
    image_stats,
    labelled_split,
    read_image,
    read_images,
    summarize,
)

log = logging.getLogger(__name__)

GATE = {"mAP50": 0.005, "mAP50-95": 0.01}  # largest allowed drop from f32 on val, absolute
INT8_FILES = ("model-int8.xml", "model-int8.bin")
CALIBRATION_IMAGES = 300  # NNCF's default subset size
SEED = 0


class GateFailed(RuntimeError):
    """The int8 model lost more accuracy than the gate allows; it was not written."""


@dataclass(frozen=True)
class Int8Result:
    passed: bool
    files: tuple[str, ...]  # empty when the gate failed: nothing was written
    gate: dict[str, Any]
    calibration: dict[str, Any]
    seconds: float

    def manifest_entry(self) -> dict[str, Any]:
        return {"files": list(self.files), "gate": self.gate, "calibration": self.calibration}


def calibration_sample(spec: DataSpec, n: int = CALIBRATION_IMAGES, seed: int = SEED) -> list[Path]:
    """A seeded sample of the train split, in file order: the same data and seed give the same sample."""
    train = spec.splits.get("train")
    if not train or not train.images:
        raise DataError(f"{spec.yaml_path}: no training images to calibrate with")
    rng = np.random.default_rng(seed)
    take = min(n, len(train.images))
    idx = np.sort(rng.choice(len(train.images), size=take, replace=False))
    return [train.images[i] for i in idx]


def _sample_record(spec: DataSpec, paths: Sequence[Path], seed: int) -> dict[str, Any]:
    names = "\n".join(str(p.relative_to(spec.root)) if p.is_relative_to(spec.root) else p.name for p in paths)
    return {
        "split": "train",
        "images": len(paths),
        "seed": seed,
        "files_sha256": hashlib.sha256(names.encode()).hexdigest(),
        "data_fingerprint": spec.fingerprint,
        "preprocess": "inspect_app.detector.preprocess (letterbox, RGB, /255)",
    }


@dataclass(frozen=True)
class _Item:
    index: int
    blob: np.ndarray
    lb: Any
    truth: Labelled
    shape: tuple[int, ...]


class _GateMetric:
    """The validation function for NNCF: the gate's score of a model against f32, on any subset of val."""

    def __init__(self, items: list[_Item], names: dict[int, str], gate: dict[str, float]) -> None:
        self.gate = gate
        self.items = items
        self.names = names
        self.tuple_names = tuple(names[i] for i in sorted(names))
        self.f32: dict[int, dict[str, np.ndarray]] = {}

    def stats(self, compiled: Any, items: Sequence[_Item]) -> list[dict[str, np.ndarray]]:
        request = compiled.create_infer_request()
        out = []
        for it in items:
            request.infer({0: it.blob})
            pred = np.array(request.get_output_tensor(0).data, copy=True)
            dets = postprocess(pred, it.lb, CONF, IOU, self.tuple_names, multi_label=True)
            out.append(image_stats(dets, it.truth, it.shape))
        return out

    def remember_f32(self, compiled: Any) -> None:
        for it, s in zip(self.items, self.stats(compiled, self.items), strict=True):
            self.f32[it.index] = s

    def score(self, stats: Sequence[dict[str, np.ndarray]], items: Sequence[_Item]) -> tuple[float, dict]:
        ours = summarize(stats, self.names)
        ref = summarize([self.f32[it.index] for it in items], self.names)
        drops = {k: ref[k] - ours[k] for k in self.gate}
        worst = max(drops[k] / abs(self.gate[k]) for k in self.gate)
        # offset by 1: NNCF divides by the reference metric (for its relative drop) even when told absolute
        return 1.0 - abs(self.gate["mAP50"]) * worst, drops

    def __call__(self, compiled: Any, data: Any) -> tuple[float, None]:
        items = list(data)
        value, _ = self.score(self.stats(compiled, items), items)
        return value, None


def _items(spec: DataSpec, imgsz: tuple[int, int]) -> list[_Item]:
    truth = labelled_split(spec, "val")
    out = []
    for i, (t, img) in enumerate(zip(truth, read_images(truth), strict=True)):
        blob, lb = preprocess(img, imgsz)
        out.append(_Item(i, blob, lb, t, img.shape))
    return out


def _ignored_scope(model: Any) -> Any:
    """The head's box decoding (DFL softmax and conv, anchor arithmetic, the class sigmoid) stays f32: it
    turns scores into pixel coordinates, where int8 steps would move every box (as ultralytics' own int8
    OpenVINO export does). Its convolutions (cv2, cv3) are quantized like the rest."""
    import nncf

    ops = model.get_ordered_ops()
    sigmoids = [op for op in ops if op.get_type_name() == "Sigmoid"]
    head = sigmoids[-1].get_friendly_name().rsplit("/", 1)[0] if sigmoids else None
    names = [
        op.get_friendly_name()
        for op in ops
        if op.get_type_name() not in ("Constant", "Parameter", "Result")
        and head
        and op.get_friendly_name().startswith(f"{head}/")
        and not op.get_friendly_name().startswith((f"{head}/cv2", f"{head}/cv3"))
    ]
    return nncf.IgnoredScope(names=names, validate=False)


def quantize_release(
    release_dir: Path,
    data: DataSpec,
    threads: int,
    calibration_images: int = CALIBRATION_IMAGES,
    seed: int = SEED,
    gate: dict[str, float] | None = None,
    restore_iterations: int | None = None,
) -> Int8Result:
    """Quantize ``release_dir/model.onnx`` into ``release_dir/model-int8.{xml,bin}`` if it passes the gate.

    ``data`` gives the calibration sample (train split) and the gate's images (val split). Returns the
    manifest entry either way; on a failed gate nothing is written. ``gate`` (default ``GATE``) and
    ``restore_iterations`` (how many times NNCF may give layers back to f32; default: until it passes or
    none is left; 0: plain ``nncf.quantize``) are for tests that need a gate to fail quickly.
    """
    import nncf
    import openvino as ov
    from nncf.quantization.advanced_parameters import AdvancedAccuracyRestorerParameters

    from inspect_app.model_release import load_release

    started = time.monotonic()
    release = load_release(release_dir, verify=["model.onnx"])
    names = dict(enumerate(release.names))
    if tuple(data.names[i] for i in sorted(data.names)) != release.names:
        raise DataError(f"{data.yaml_path}: classes {data.names} are not the model's {list(release.names)}")
    core = ov.Core()
    # convert_model, not read_model: its graph passes fold the exported SiLU (x * sigmoid(x)) into Swish
    # before NNCF places its quantizers, so the CPU plugin fuses conv + Swish + requantize into one int8
    # convolution; quantized as read, each SiLU stays a separate f32 node (75 of them: 1.2-1.3x slower
    # at 320 on AVX-512 VNNI, docs/performance.md)
    model = ov.convert_model(str(release.file("model.onnx")))
    sample = calibration_sample(data, calibration_images, seed)
    calib = nncf.Dataset(sample, lambda path: preprocess(read_image(path), release.imgsz)[0])
    items = _items(data, release.imgsz)
    limits = dict(gate or GATE)
    metric = _GateMetric(items, names, limits)
    f32_config = {"INFERENCE_PRECISION_HINT": "f32", "INFERENCE_NUM_THREADS": threads}
    metric.remember_f32(core.compile_model(model, "CPU", f32_config))

    common = {
        "preset": nncf.QuantizationPreset.MIXED,  # asymmetric activations: SiLU outputs are not symmetric
        "target_device": nncf.TargetDevice.CPU,
        "subset_size": len(sample),
        "ignored_scope": _ignored_scope(model),
    }
    if restore_iterations == 0:  # no layer may go back to f32: plain post-training quantization
        quantized = nncf.quantize(model, calib, **common)
    else:
        quantized = nncf.quantize_with_accuracy_control(
            model,
            calib,
            nncf.Dataset(items),
            metric,
            max_drop=limits["mAP50"],
            drop_type=nncf.DropType.ABSOLUTE,
            advanced_accuracy_restorer_parameters=AdvancedAccuracyRestorerParameters(
                **({"max_num_iterations": restore_iterations} if restore_iterations else {})
            ),
            **common,
        )
    xml = release_dir / INT8_FILES[0]
    ov.save_model(quantized, str(xml), compress_to_fp16=False)
    # measured again on the files as saved, compiled as the station compiles them, not on NNCF's own copy
    compiled = core.compile_model(core.read_model(str(xml)), "CPU", f32_config)
    _, drops = metric.score(metric.stats(compiled, items), items)
    passed = all(drops[k] <= limits[k] + 1e-9 for k in limits)
    record = {
        "passed": passed,
        "split": "val",
        "images": len(items),
        "max_drop": limits,
        "drop": {k: round(float(v), 5) for k, v in drops.items()},
        "method": "nncf.quantize_with_accuracy_control "
        f"(nncf {nncf.__version__}, OpenVINO {ov.__version__.split('-')[0]}, preset mixed, "
        "graph of ov.convert_model)",
    }
    if not passed:
        for f in INT8_FILES:
            (release_dir / f).unlink(missing_ok=True)
    files = INT8_FILES if passed else ()
    log.info("int8 gate %s: drops %s", "passed" if passed else "FAILED", record["drop"])
    return Int8Result(passed, files, record, _sample_record(data, sample, seed), time.monotonic() - started)
