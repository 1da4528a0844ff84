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


ROI_OUTSIDE_IMAGE = "ROI_OUTSIDE_IMAGE"


def roi_area_inside(roi: RectROI | PolygonROI | None, width: int, height: int) -> float:
    """Area (px^2) of the part of ``roi`` that lies inside a ``width`` x ``height`` image."""
    if roi is None:
        return float(width * height)
    if isinstance(roi, RectROI):
        x1, y1, x2, y2 = roi.xyxy
        return max(0.0, min(x2, width) - max(x1, 0.0)) * max(0.0, min(y2, height) - max(y1, 0.0))
    return _polygon_area(_clip_polygon(list(roi.points), width, height))


def _clip_polygon(
    points: list[tuple[float, float]], width: float, height: float
) -> list[tuple[float, float]]:
    """Sutherland-Hodgman: the polygon clipped to the image rectangle."""
    edges = (
        (lambda p: p[0] >= 0, lambda a, b: _cross_x(a, b, 0.0)),
        (lambda p: p[0] <= width, lambda a, b: _cross_x(a, b, width)),
        (lambda p: p[1] >= 0, lambda a, b: _cross_y(a, b, 0.0)),
        (lambda p: p[1] <= height, lambda a, b: _cross_y(a, b, height)),
    )
    for inside, cross in edges:
        out: list[tuple[float, float]] = []
        for i, cur in enumerate(points):
            prev = points[i - 1]
            if inside(cur):
                if not inside(prev):
                    out.append(cross(prev, cur))
                out.append(cur)
            elif inside(prev):
                out.append(cross(prev, cur))
        points = out
        if not points:
            break
    return points


def _cross_x(a: tuple[float, float], b: tuple[float, float], x: float) -> tuple[float, float]:
    t = (x - a[0]) / (b[0] - a[0])
    return x, a[1] + t * (b[1] - a[1])


def _cross_y(a: tuple[float, float], b: tuple[float, float], y: float) -> tuple[float, float]:
    t = (y - a[1]) / (b[1] - a[1])
    return a[0] + t * (b[0] - a[0]), y


def _polygon_area(points: list[tuple[float, float]]) -> float:
    n = len(points)
    return abs(sum(points[i][0] * points[(i + 1) % n][1] - points[(i + 1) % n][0] * points[i][1]
                   for i in range(n))) / 2 if n >= 3 else 0.0  # fmt: skip


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
        self._roi_problem: dict[tuple[int, int], str | None] = {}  # image (h, w) -> why the ROI cannot work

    def roi_problem(self, image_shape: tuple[int, int]) -> str | None:
        """Why this recipe's ROI cannot be used on images of ``image_shape`` (h, w): no box centre could
        ever be inside it, so every part would PASS. None when it leaves some area."""
        key = (int(image_shape[0]), int(image_shape[1]))
        if key not in self._roi_problem:
            h, w = key
            area = roi_area_inside(self.recipe.roi, w, h)
            self._roi_problem[key] = (
                None if area >= 1.0 else f"recipes.{self.name}.roi leaves no area inside the {w}x{h} image "
                f"(ROI {self.recipe.roi.model_dump(exclude={'kind'}) if self.recipe.roi else None})"
            )
        return self._roi_problem[key]

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
        problem = self.roi_problem(image_shape)
        if problem:  # a PASS here would only mean "nothing could be inside the ROI"
            return not_inspected(ROI_OUTSIDE_IMAGE, problem)
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
