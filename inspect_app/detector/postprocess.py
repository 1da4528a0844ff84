"""Decode the raw YOLO output, NMS, and map boxes back to the camera image (numpy only).

Mirrors ``ultralytics.utils.nms.non_max_suppression`` (single label per box, class-aware through a per-class
coordinate offset, strict ``>`` thresholds, ``max_nms`` pre-NMS cap, ``max_det`` cap) and
``ops.scale_boxes`` + ``clip_boxes``, in float32 like the torch code, so our detections equal ultralytics'
to float rounding. ``multi_label`` is the validator's mode (every class above the threshold is a candidate),
used only to measure mAP the way ``YOLO.val()`` does. ``ArrayDetector`` ties pre-processing, the runtime
call and this together for the ONNX backends, one part at a time (``detect``) or with inference in flight
while the caller prepares the next part or finishes the previous one (``begin`` -> ``Pending.result``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache
from typing import Any

import numpy as np

from inspect_app.detector.preprocess import Letterbox, preprocess
from inspect_app.model_release import ModelError
from inspect_app.protocols import ModelInfo
from inspect_app.types import Detection

MAX_DET = 300
MAX_NMS = 30000
MAX_WH = 7680  # ultralytics' class offset; it must match, the offset changes float32 rounding of the IoU
SMALL_NMS = 32  # up to this many candidates, NMS compares all pairs at once (_nms_small)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_thres: float, limit: int | None = None) -> np.ndarray:
    """Greedy NMS like torchvision's CPU kernel: highest score first, suppress IoU > threshold.

    ``limit`` stops after that many kept boxes: greedy order makes this the first ``limit`` of the full
    result, and at the validator's conf 0.001 it saves thousands of iterations per image."""
    order = np.argsort(-scores, kind="stable")
    if order.size <= SMALL_NMS:
        return _nms_small(boxes[order], order, iou_thres, limit)
    x1, y1, x2, y2 = (boxes[:, i] for i in range(4))
    areas = (x2 - x1) * (y2 - y1)
    keep: list[int] = []
    zero = np.float32(0.0)
    while order.size and (limit is None or len(keep) < limit):
        i = order[0]
        keep.append(int(i))
        rest = order[1:]
        w = np.maximum(zero, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]))
        h = np.maximum(zero, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]))
        inter = w * h
        iou = inter / (areas[i] + areas[rest] - inter)
        order = rest[~(iou > iou_thres)]  # NaN (zero-area pairs) keeps the box, as in torchvision
    return np.asarray(keep, dtype=np.int64)


def _nms_small(ranked: np.ndarray, order: np.ndarray, iou_thres: float, limit: int | None) -> np.ndarray:
    """``nms`` for the few boxes a part usually has (``ranked``: the boxes best score first): every pair's
    IoU in one go, by the same float32 steps as the loop, then the greedy pass over plain Python lists. A
    loop step costs about a dozen numpy calls, and after the idle between parts each call runs several
    times slower than warm; this is a fixed dozen whatever the number of boxes."""
    x1, y1, x2, y2 = ranked[:, 0], ranked[:, 1], ranked[:, 2], ranked[:, 3]
    areas = (x2 - x1) * (y2 - y1)
    zero = np.float32(0.0)
    w = np.maximum(zero, np.minimum(x2[:, None], x2) - np.maximum(x1[:, None], x1))
    h = np.maximum(zero, np.minimum(y2[:, None], y2) - np.maximum(y1[:, None], y1))
    inter = w * h
    with np.errstate(invalid="ignore"):  # a zero-area box against itself: 0/0, NaN, which keeps it
        suppresses = (inter / (areas[:, None] + areas - inter) > iou_thres).tolist()
    gone = [False] * len(suppresses)
    keep: list[int] = []
    for a, row in enumerate(suppresses):
        if limit is not None and len(keep) >= limit:
            break
        if gone[a]:
            continue
        keep.append(a)
        for b in range(a + 1, len(row)):
            gone[b] = gone[b] or row[b]
    return order[keep].astype(np.int64, copy=False)


def decode(
    pred: np.ndarray,
    conf: float,
    iou: float,
    nc: int,
    max_det: int = MAX_DET,
    max_nms: int = MAX_NMS,
    multi_label: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """[1, 4+nc, N] (cx, cy, w, h, class scores) -> xyxy boxes, scores, class ids in network-input pixels."""
    if pred.ndim != 3 or pred.shape[0] != 1 or pred.shape[1] != 4 + nc:
        raise ModelError(f"model output has shape {list(pred.shape)}, expected [1, {4 + nc}, N]")
    # After the idle between parts a numpy call costs tens of microseconds instead of one or two
    # (bench/bench_cold_calls.py), so this path makes few: no copy or transpose of the output, no NMS
    # for one box.
    p = pred[0] if pred.dtype == np.float32 else pred[0].astype(np.float32)  # (4+nc, N)
    best = p[4:].max(axis=0)  # the threshold runs along contiguous rows ...
    cand = (best > conf).nonzero()[0]
    if not cand.size:
        empty = np.zeros((0,), np.float32)
        return np.zeros((0, 4), np.float32), empty, np.zeros((0,), np.int64)
    x = p[:, cand]  # ... and only the candidates are gathered (a copy: ``pred`` may be the runtime's buffer)
    half = x[2:4] / np.float32(2.0)
    boxes = np.concatenate((x[:2] - half, x[:2] + half)).T  # (n, 4) xyxy
    if multi_label and nc > 1:
        cls = x[4:].T
        rows, classes = np.nonzero(cls > conf)  # row-major, as torch.where in ultralytics' NMS
        boxes, scores = boxes[rows], cls[rows, classes]
    else:
        scores = best[cand]
        classes = x[4:].argmax(axis=0)
    if scores.shape[0] > max_nms:
        top = np.argsort(-scores, kind="stable")[:max_nms]
        boxes, scores, classes = boxes[top], scores[top], classes[top]
    if scores.shape[0] == 1 and max_det >= 1:
        return boxes, scores, classes  # one box: NMS keeps it
    offset = classes.astype(np.float32)[:, None] * np.float32(MAX_WH)
    keep = nms(boxes + offset, scores, iou, limit=max_det)
    return boxes[keep], scores[keep], classes[keep]


def scale_boxes(boxes: np.ndarray, lb: Letterbox) -> np.ndarray:
    """Network-input xyxy -> original-image xyxy, clipped to the image (float32; ``boxes`` is changed)."""
    pad, gain, size = _scale_constants(lb)
    # per column, the same float32 steps as ultralytics' scale_boxes and clip_boxes (clip = max, then min)
    boxes -= pad
    boxes /= gain
    np.maximum(boxes, np.float32(0), out=boxes)
    np.minimum(boxes, size, out=boxes)
    return boxes


@lru_cache(maxsize=64)  # one Letterbox per frame size: the arrays are made once, not per part
def _scale_constants(lb: Letterbox) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    gain_y, gain_x = lb.gain
    pad_x, pad_y = lb.pad
    h, w = lb.orig_shape
    arrays = (
        np.array((pad_x, pad_y, pad_x, pad_y), np.float32),
        np.array((gain_x, gain_y, gain_x, gain_y), np.float32),
        np.array((w, h, w, h), np.float32),
    )
    for a in arrays:
        a.flags.writeable = False  # shared by every part of that frame size
    return arrays


def postprocess(
    pred: np.ndarray,
    lb: Letterbox,
    conf: float,
    iou: float,
    names: tuple[str, ...],
    multi_label: bool = False,
) -> list[Detection]:
    boxes, scores, classes = decode(pred, conf, iou, len(names), multi_label=multi_label)
    if not scores.shape[0]:
        return []
    boxes = scale_boxes(boxes, lb)
    # three conversions to Python numbers, not four per box (float32 -> float is exact either way)
    return [
        Detection(c, names[c], s, tuple(b))
        for b, s, c in zip(boxes.tolist(), scores.tolist(), classes.tolist(), strict=True)
    ]


def check_thresholds(conf: float, iou: float) -> None:
    if not 0.0 <= conf <= 1.0:
        raise ValueError(f"conf must be between 0 and 1, got {conf}")
    if not 0.0 <= iou <= 1.0:
        raise ValueError(f"iou must be between 0 and 1, got {iou}")


class Pending:
    """One part whose inference was started: ``result()`` waits for it and post-processes it. Call it once;
    until then the detector holds one of its inference slots for this part."""

    __slots__ = ("_conf", "_detector", "_iou", "_lb", "_multi_label", "_token")

    def __init__(
        self, detector: ArrayDetector, token: Any, lb: Letterbox, conf: float, iou: float, multi_label: bool
    ) -> None:
        self._detector, self._token, self._lb = detector, token, lb
        self._conf, self._iou, self._multi_label = conf, iou, multi_label

    def result(self) -> list[Detection]:
        return self._detector._collect(self._token, self._decode)

    def _decode(self, pred: np.ndarray) -> list[Detection]:
        names = self._detector.info.names
        return postprocess(pred, self._lb, self._conf, self._iou, names, self._multi_label)


class ArrayDetector:
    """Shared detect() for runtimes that take a [1,3,h,w] float32 array and return [1, 4+nc, N].

    Runtimes that can run a request in the background override ``_start``/``_wait`` and set ``slots`` (how
    many parts may be in flight); the others compute in ``_start`` and hand the result over in ``_wait``.
    ``_collect`` decodes a part (``Pending.result``): a runtime that reuses its output buffer decodes from it
    in place and takes the buffer back after.
    """

    info: ModelInfo
    slots: int = 1

    def _infer(self, blob: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _prepare(self, image: np.ndarray) -> tuple[np.ndarray, Letterbox]:
        """The runtime's input for ``image``: here the float blob; a runtime that converts inside its graph
        takes the letterboxed uint8 image instead."""
        return preprocess(image, self.info.imgsz)

    def _start(self, blob: np.ndarray) -> Any:
        return self._infer(blob)

    def _wait(self, token: Any) -> np.ndarray:
        return token

    def _collect(self, token: Any, finish: Callable[[np.ndarray], list[Detection]]) -> list[Detection]:
        """``finish`` applied to ``token``'s prediction. A runtime that reuses its output buffer (OpenVINO)
        passes the buffer itself and reuses it only after ``finish``, which keeps nothing that points into it
        (``postprocess`` gathers the candidates into arrays of its own)."""
        return finish(self._wait(token))

    def begin(self, image: np.ndarray, conf: float, iou: float, multi_label: bool = False) -> Pending:
        """Pre-process ``image`` and start its inference; at most ``slots`` parts may be begun and not yet
        finished (their ``result()`` not called)."""
        check_thresholds(conf, iou)
        blob, lb = self._prepare(image)
        return Pending(self, self._start(blob), lb, conf, iou, multi_label)

    def detect(self, image: np.ndarray, conf: float, iou: float) -> list[Detection]:
        return self.begin(image, conf, iou).result()

    def detect_many(
        self, images: Iterable[np.ndarray], conf: float, iou: float, multi_label: bool = False
    ) -> Iterator[list[Detection]]:
        """Detections of each image, in order, with up to ``slots`` inferences in flight: the throughput
        path for replays and evaluations, where no single part waits for its verdict."""
        flight: deque[Pending] = deque()
        try:
            for image in images:
                if len(flight) >= self.slots:
                    yield flight.popleft().result()
                flight.append(self.begin(image, conf, iou, multi_label))
            while flight:
                yield flight.popleft().result()
        finally:
            for pending in flight:  # a caller that stopped early: the slots are given back, not leaked
                self._wait(pending._token)

    def warmup(self) -> None:
        """One inference on a grey frame: runtimes finish compiling and allocating on the first call."""
        h, w = self.info.imgsz
        self.detect(np.full((h, w, 3), 114, np.uint8), 0.99, 0.7)

    def close(self) -> None:
        pass
