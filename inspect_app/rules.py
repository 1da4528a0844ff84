"""Per-recipe decision rules: detections in, PASS / FAIL with reasons out.

A detection *counts* when its confidence and box area reach the class's thresholds and the centre of its
box lies inside the recipe's region of interest. A class FAILs the part when its counted detections exceed
the class's ``max_count`` (0 by default: any counted defect fails). Ignored classes never count.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from inspect_app.config import PolygonROI, RecipeConfig, RectROI
from inspect_app.types import Decision, Detection, Reason, Verdict


class RecipeError(ValueError):
    """A recipe that does not fit its model (e.g. a class the model does not know)."""


@dataclass(frozen=True, slots=True)
class ClassThresholds:
    min_conf: float
    min_area: float
    max_count: int
    ignore: bool


class RecipeRules:
    """The ``Decider`` for one recipe, checked against the model's class names at construction."""

    def __init__(self, name: str, recipe: RecipeConfig, model_names: Sequence[str]) -> None:
        unknown = sorted(set(recipe.classes) - set(model_names))
        if unknown:
            raise RecipeError(
                f"recipes.{name}.classes: {', '.join(unknown)} not in the model's classes "
                f"({', '.join(model_names)})"
            )
        self.name = name
        self.recipe = recipe
        self.thresholds = {cls: _thresholds(recipe, cls) for cls in model_names}
        self._polygon = (
            np.asarray(recipe.roi.points, dtype=np.float32) if isinstance(recipe.roi, PolygonROI) else None
        )

    @property
    def detector_conf(self) -> float:
        """The lowest confidence any class needs: the detector need not report anything below it."""
        active = [t.min_conf for t in self.thresholds.values() if not t.ignore]
        return min(active, default=1.0)

    def in_roi(self, det: Detection) -> bool:
        roi = self.recipe.roi
        if roi is None:
            return True
        x1, y1, x2, y2 = det.box
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        if isinstance(roi, RectROI):
            rx1, ry1, rx2, ry2 = roi.xyxy
            return rx1 <= cx <= rx2 and ry1 <= cy <= ry2
        import cv2  # local: rules stay importable in tools that never see an image

        return cv2.pointPolygonTest(self._polygon, (float(cx), float(cy)), False) >= 0

    def counted(self, detections: Sequence[Detection]) -> list[Detection]:
        out = []
        for det in detections:
            t = self.thresholds.get(det.class_name)
            if t is None or t.ignore:
                continue
            if det.confidence >= t.min_conf and det.area >= t.min_area and self.in_roi(det):
                out.append(det)
        return out

    def decide(self, detections: Sequence[Detection], image_shape: tuple[int, int]) -> Decision:
        by_class: dict[str, list[Detection]] = defaultdict(list)
        for det in self.counted(detections):
            by_class[det.class_name].append(det)
        reasons: list[Reason] = []
        for cls, dets in sorted(by_class.items()):
            limit = self.thresholds[cls].max_count
            if len(dets) <= limit:
                continue
            for det in sorted(dets, key=lambda d: -d.confidence):
                x1, y1, x2, y2 = det.box
                why = (
                    f"{cls} at ({x1:.0f},{y1:.0f})-({x2:.0f},{y2:.0f}) conf {det.confidence:.2f}"
                    + (f"; {len(dets)} found, {limit} allowed" if limit else "")
                )
                reasons.append(
                    Reason(
                        code="COUNT_EXCEEDED" if limit else "DEFECT",
                        message=why,
                        class_name=cls,
                        confidence=det.confidence,
                        box=det.box,
                        count=len(dets) if limit else None,
                        limit=limit if limit else None,
                    )
                )
        return Decision(Verdict.FAIL if reasons else Verdict.PASS, tuple(reasons))


def not_inspected(error_code: str, message: str) -> Decision:
    return Decision(Verdict.NOT_INSPECTED, (Reason(code=error_code, message=message),), error_code)


def _thresholds(recipe: RecipeConfig, cls: str) -> ClassThresholds:
    rule = recipe.classes.get(cls)
    if rule is None:
        return ClassThresholds(recipe.min_conf, recipe.min_area, recipe.max_count, ignore=False)
    return ClassThresholds(
        min_conf=recipe.min_conf if rule.min_conf is None else rule.min_conf,
        min_area=recipe.min_area if rule.min_area is None else rule.min_area,
        max_count=recipe.max_count if rule.max_count is None else rule.max_count,
        ignore=rule.ignore,
    )
