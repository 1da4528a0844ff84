"""Fakes for testing the detect stage (``pipeline.DetectWorker``) alone: a detector that computes in
``Pending.result()`` like OpenVINO's requests, a host that keeps what the worker submits, acquired parts."""

from __future__ import annotations

import time

import numpy as np

from inspect_app.config import RecipeConfig
from inspect_app.pipeline import Acquired
from inspect_app.rules import RecipeRules
from inspect_app.testing.fakes import ScriptedDetector, part_image
from inspect_app.types import Detection, Frame, Inspection, PartRequest


class BackgroundDetector:
    """Begins a part now and computes it in ``result()``, built on a ScriptedDetector (so it can hang);
    ``most``: the most parts begun and not yet finished at once."""

    def __init__(self, inner: ScriptedDetector | None = None, slots: int = 2) -> None:
        self.inner = inner or ScriptedDetector()
        self.info = self.inner.info
        self.slots = slots
        self.open = self.most = 0

    def begin(self, image: np.ndarray, conf: float, iou: float) -> _Pending:
        self.open += 1
        self.most = max(self.most, self.open)
        return _Pending(self, image, conf, iou)

    def detect(self, image: np.ndarray, conf: float, iou: float) -> list[Detection]:
        return self.inner.detect(image, conf, iou)

    def close(self) -> None: ...


class _Pending:
    def __init__(self, det: BackgroundDetector, image: np.ndarray, conf: float, iou: float) -> None:
        self.det, self.image, self.conf, self.iou = det, image, conf, iou

    def result(self) -> list[Detection]:
        self.det.open -= 1
        return self.det.inner.detect(self.image, self.conf, self.iou)


class DetectHost:
    """The narrow ``PipelineHost`` the detect stage needs: one recipe, one detector; it keeps what the worker
    submits and the parts it reported as failed."""

    station_name = "t"
    iou = 0.7

    def __init__(self, det: BackgroundDetector) -> None:
        self.det = det
        self.rules = RecipeRules("r", RecipeConfig(model="fake", min_conf=0.5), det.info.names)
        self.submitted: list[Inspection] = []
        self.faults: list[str] = []

    def submit(self, inspection: Inspection) -> None:
        self.submitted.append(inspection)

    def rules_for(self, recipe: str) -> RecipeRules:
        return self.rules

    def detector_for(self, recipe: str) -> BackgroundDetector:
        return self.det

    def on_detector_error(self, part_id: str, exc: Exception) -> None:
        self.faults.append(part_id)

    def on_roi_problem(self, message: str, shape: tuple[int, int]) -> None: ...

    def on_worker_fault(self, stage: str, part_id: str, exc: BaseException) -> None:
        self.faults.append(part_id)


def acquired(part_id: str, n: int) -> Acquired:
    """Part ``part_id``, the ``n``-th trigger, with a defect-free frame taken now."""
    now = time.monotonic()
    request = PartRequest(part_id, n, "software", time.time(), now, "r")
    return Acquired(request, Frame(n, part_image(False), "t", time.time(), now), now)
