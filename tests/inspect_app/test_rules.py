"""Recipe rules: thresholds, ROI, counts, reasons."""

from __future__ import annotations

import pytest

from inspect_app.config import parse_config
from inspect_app.rules import RecipeError, RecipeRules
from inspect_app.types import Detection, Verdict

NAMES = ("scratch", "pit", "open", "short")


def _rules(**recipe: object) -> RecipeRules:
    cfg = parse_config({"recipes": {"r": {"model": "m", **recipe}}, "active_recipe": "r"})
    return RecipeRules("r", cfg.recipes["r"], NAMES)


def det(cls: str, conf: float, box: tuple[float, float, float, float] = (10, 10, 30, 30)) -> Detection:
    return Detection(NAMES.index(cls), cls, conf, box)


def test_no_detections_pass() -> None:
    d = _rules().decide([], (640, 640))
    assert d.verdict == Verdict.PASS and d.reasons == ()


def test_defect_above_threshold_fails_with_reason() -> None:
    d = _rules(min_conf=0.5).decide([det("short", 0.8, (100, 50, 140, 70)), det("pit", 0.3)], (640, 640))
    assert d.verdict == Verdict.FAIL
    assert len(d.reasons) == 1
    r = d.reasons[0]
    assert r.class_name == "short" and r.code == "DEFECT" and r.box == (100, 50, 140, 70)
    assert "short at (100,50)-(140,70) conf 0.80" in r.message


def test_per_class_threshold_overrides_default() -> None:
    rules = _rules(min_conf=0.5, classes={"pit": {"min_conf": 0.2}, "scratch": {"min_conf": 0.9}})
    assert rules.decide([det("pit", 0.3)], (640, 640)).verdict == Verdict.FAIL
    assert rules.decide([det("scratch", 0.8)], (640, 640)).verdict == Verdict.PASS
    assert rules.detector_conf == 0.2


def test_max_count_allows_some_then_fails() -> None:
    rules = _rules(classes={"pit": {"max_count": 2}})
    two = [det("pit", 0.9), det("pit", 0.8, (50, 50, 60, 60))]
    assert rules.decide(two, (640, 640)).verdict == Verdict.PASS
    three = [*two, det("pit", 0.7, (80, 80, 90, 90))]
    d = rules.decide(three, (640, 640))
    assert d.verdict == Verdict.FAIL
    assert {r.code for r in d.reasons} == {"COUNT_EXCEEDED"}
    assert "3 found, 2 allowed" in d.reasons[0].message


def test_min_area_filters_small_boxes() -> None:
    rules = _rules(classes={"pit": {"min_area": 100}})
    assert rules.decide([det("pit", 0.9, (0, 0, 5, 5))], (640, 640)).verdict == Verdict.PASS
    assert rules.decide([det("pit", 0.9, (0, 0, 20, 20))], (640, 640)).verdict == Verdict.FAIL


def test_rect_roi_counts_box_centre() -> None:
    rules = _rules(roi={"kind": "rect", "xyxy": [0, 0, 100, 100]})
    assert rules.decide([det("open", 0.9, (90, 90, 130, 130))], (640, 640)).verdict == Verdict.PASS
    assert rules.decide([det("open", 0.9, (60, 60, 100, 100))], (640, 640)).verdict == Verdict.FAIL


def test_polygon_roi() -> None:
    # a triangle: lower-left half of a 100x100 square
    rules = _rules(roi={"kind": "polygon", "points": [[0, 0], [0, 100], [100, 100]]})
    assert rules.decide([det("open", 0.9, (10, 60, 20, 80))], (640, 640)).verdict == Verdict.FAIL
    assert rules.decide([det("open", 0.9, (60, 10, 80, 20))], (640, 640)).verdict == Verdict.PASS


def test_ignored_class_never_fails() -> None:
    rules = _rules(classes={"scratch": {"ignore": True}})
    assert rules.decide([det("scratch", 0.99)], (640, 640)).verdict == Verdict.PASS


def test_unknown_class_in_recipe_is_refused() -> None:
    with pytest.raises(RecipeError, match=r"recipes\.r\.classes: bridge not in the model.s classes"):
        _rules(classes={"bridge": {"min_conf": 0.5}})
