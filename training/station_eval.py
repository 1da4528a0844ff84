"""mAP of a release as the station runs it: its own letterbox, runtime and decode/NMS, scored by ultralytics'
metric code.

``inspect-app evaluate`` (``evaluate.py``) measures the PyTorch checkpoint with ``YOLO.val()``; an int8 model
has no checkpoint, and the question for a release is what the station's detector finds. Here every image goes
through ``inspect_app.detector`` (``preprocess``, the runtime, ``postprocess``) with the validator's settings
(conf 0.001, iou 0.7, every class above the threshold a candidate: ``multi_label``), predictions are matched
to the labels as ``DetectionValidator.match_predictions`` does (10 IoU thresholds 0.5..0.95, greedy by
confidence), and ``DetMetrics`` turns that into precision, recall, mAP50 and mAP50-95. The numbers are
comparable with the manifest's ``YOLO.val()`` ones; the one difference is the resize (the validator shrinks
with INTER_AREA, the station with INTER_LINEAR), a few tenths of a point either way (docs/training.md).

Inference runs batched (``detect_many``: OpenVINO requests in flight on every stream), which is what makes a
few hundred images a matter of seconds.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from inspect_app.types import Detection
from training.data_yaml import DataError, DataSpec, label_path

CONF = 0.001  # the validator's: the whole precision-recall curve is scored
IOU = 0.7
IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)


@dataclass(frozen=True)
class Labelled:
    """One image of a split and its objects (normalised ``cx cy w h``, converted once the size is known)."""

    image: Path
    classes: np.ndarray  # (n,) int
    cxcywh: np.ndarray  # (n, 4) normalised

    def boxes(self, shape: tuple[int, ...]) -> np.ndarray:
        h, w = shape[:2]
        xy, half = self.cxcywh[:, :2], self.cxcywh[:, 2:] / 2
        xyxy = np.concatenate((xy - half, xy + half), axis=1)
        return (xyxy * np.array([w, h, w, h], np.float64)).astype(np.float32)


def labelled_split(spec: DataSpec, split: str) -> list[Labelled]:
    if split not in spec.splits:
        raise DataError(f"{spec.yaml_path}: no '{split}:' split")
    return [_read_labels(p) for p in spec.splits[split].images]


def _read_labels(image: Path) -> Labelled:
    lab = label_path(image)
    rows = []
    if lab.is_file():
        for line in lab.read_text().splitlines():
            parts = line.split()
            if not parts:
                continue
            cls, coords = int(float(parts[0])), np.asarray(parts[1:], np.float64)
            if len(coords) > 4:  # a polygon: its bounding box, as ultralytics' segments2boxes
                xs, ys = coords[0::2], coords[1::2]
                x0, x1, y0, y1 = xs.min(), xs.max(), ys.min(), ys.max()
                coords = np.array([(x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0])
            rows.append((cls, *coords))
    arr = np.asarray(rows, np.float64).reshape(-1, 5)
    return Labelled(image, arr[:, 0].astype(int), arr[:, 1:])


def read_image(path: Path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise DataError(f"{path}: cannot read the image")
    return img


def read_images(items: Iterable[Labelled]) -> Iterator[np.ndarray]:
    for it in items:
        yield read_image(it.image)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(M, 4) x (N, 4) xyxy -> (M, N) IoU, as ultralytics' ``box_iou``."""
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(2)
    area_a = (a[:, 2:] - a[:, :2]).prod(1)
    area_b = (b[:, 2:] - b[:, :2]).prod(1)
    return inter / (area_a[:, None] + area_b[None, :] - inter + 1e-7)


def match(pred_cls: np.ndarray, true_cls: np.ndarray, iou: np.ndarray) -> np.ndarray:
    """``DetectionValidator.match_predictions`` (its default, greedy mode) in numpy: (N, 10) correct."""
    correct = np.zeros((pred_cls.shape[0], IOU_THRESHOLDS.shape[0]), bool)
    iou = iou * (true_cls[:, None] == pred_cls)
    matched = np.zeros((iou.shape[0], len(IOU_THRESHOLDS)), bool)
    cols = range(len(IOU_THRESHOLDS))
    for j in np.flatnonzero((iou >= IOU_THRESHOLDS.min()).any(0)):  # detections by descending confidence
        available = np.where(matched, 0, iou[:, j, None])
        k = available.argmax(0)
        correct[j] = available[k, cols] >= IOU_THRESHOLDS
        matched[k, cols] |= correct[j]
    return correct


def image_stats(dets: Sequence[Detection], truth: Labelled, shape: tuple[int, ...]) -> dict[str, np.ndarray]:
    """One image's entry for ``DetMetrics.update_stats``."""
    order = sorted(range(len(dets)), key=lambda i: -dets[i].confidence)  # NMS output order, made explicit
    conf = np.array([dets[i].confidence for i in order], np.float32)
    pred_cls = np.array([dets[i].class_id for i in order], np.float32)
    boxes = np.array([dets[i].box for i in order], np.float32).reshape(-1, 4)
    true_cls = truth.classes.astype(np.float32)
    if len(true_cls) and len(pred_cls):
        tp = match(pred_cls, true_cls, box_iou(truth.boxes(shape), boxes))
    else:
        tp = np.zeros((len(pred_cls), len(IOU_THRESHOLDS)), bool)
    return {
        "tp": tp, "conf": conf, "pred_cls": pred_cls, "target_cls": true_cls,
        "target_img": np.unique(true_cls), "im_name": truth.image.name,
    }  # fmt: skip


def summarize(stats: Sequence[dict[str, np.ndarray]], names: dict[int, str]) -> dict[str, Any]:
    """precision, recall, mAP50, mAP50-95 and per class from per-image stats (ultralytics' ``DetMetrics``)."""
    from ultralytics.utils.metrics import DetMetrics

    from training.evaluate import metrics_dict

    m = DetMetrics(names=dict(names))
    for s in stats:
        m.update_stats(s)
    m.process()
    out = metrics_dict(m)
    return {**out["metrics"], "per_class": out["per_class"]}


def evaluate_detector(
    detector: Any, items: Sequence[Labelled], names: dict[int, str], conf: float = CONF, iou: float = IOU
) -> dict[str, Any]:
    """Metrics of a loaded station detector (``inspect_app.detector.load_detector``) on ``items``."""
    if tuple(names[i] for i in sorted(names)) != detector.info.names:
        raise DataError(f"the dataset's classes {names} are not the model's {list(detector.info.names)}")
    shapes: list[tuple[int, ...]] = []

    def images() -> Iterator[np.ndarray]:
        for img in read_images(items):
            shapes.append(img.shape)
            yield img

    stats = [
        image_stats(dets, truth, shapes[i])
        for i, (dets, truth) in enumerate(
            zip(detector.detect_many(images(), conf, iou, multi_label=True), items, strict=True)
        )
    ]
    return {**summarize(stats, names), "images": len(items)}


def evaluate_release(
    release: str | Path,
    spec: DataSpec,
    split: str,
    precision: str = "f32",
    threads: int = 2,
    streams: int = 2,
) -> dict[str, Any]:
    """Metrics of ``precision`` of the release on ``split``, run by OpenVINO as the station would."""
    from inspect_app.detector import load_detector

    det = load_detector(release, "openvino", threads, precision=precision, streams=streams)
    try:
        result = evaluate_detector(det, labelled_split(spec, split), spec.names)
    finally:
        det.close()
    return {
        **result,
        "precision_run": det.info.precision,
        "data": str(spec.yaml_path),
        "data_fingerprint": spec.fingerprint,
        "split": split,
    }
